//! Passwords: the policy (8..=72 bytes of UTF-8: bcrypt silently ignores
//! everything past 72 bytes, so longer is refused rather than truncated) and
//! bcrypt itself. Hashing and verifying are slow on purpose: callers run them
//! through `db::blocking`, never on an async worker.

use crate::error::ApiError;

/// Shortest accepted password, in bytes.
pub const MIN_BYTES: usize = 8;
/// Longest accepted password, in bytes: bcrypt's limit.
pub const MAX_BYTES: usize = 72;

/// Checks the policy for a new password.
pub fn check_policy(password: &str) -> Result<(), ApiError> {
    if password.len() < MIN_BYTES {
        return Err(ApiError::WeakPassword("it must be at least 8 bytes"));
    }
    if password.len() > MAX_BYTES {
        return Err(ApiError::WeakPassword("it must be at most 72 bytes"));
    }
    Ok(())
}

/// bcrypt hash of `password` at `cost`. Blocking.
pub fn hash(password: &str, cost: u32) -> Result<String, ApiError> {
    bcrypt::hash(password, cost).map_err(|e| {
        log::error!("bcrypt hashing failed: {e}");
        ApiError::Unavailable
    })
}

/// Whether `password` matches `hash`. A malformed hash is a mismatch, and so is
/// a password over 72 bytes (which bcrypt would compare truncated). bcrypt runs
/// in every case, so the answer takes the same time. Blocking.
pub fn verify(password: &str, hash: &str) -> bool {
    let matches = bcrypt::verify(password, hash).unwrap_or(false);
    matches && password.len() <= MAX_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_bounds_are_bytes() {
        assert!(check_policy("1234567").is_err());
        assert!(check_policy("12345678").is_ok());
        assert!(check_policy(&"a".repeat(72)).is_ok());
        assert!(check_policy(&"a".repeat(73)).is_err());
        // 24 three-byte characters are 72 bytes; one more is too many.
        assert!(check_policy(&"€".repeat(24)).is_ok());
        assert!(check_policy(&"€".repeat(25)).is_err());
    }

    #[test]
    fn verify_matches_only_the_password() {
        let h = hash("correct horse", 4).unwrap();
        assert!(verify("correct horse", &h));
        assert!(!verify("correct horsf", &h));
        assert!(!verify("correct horse", "not a hash"));
    }
}
