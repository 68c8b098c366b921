//! Passwords: the policy (8..=72 bytes of UTF-8: bcrypt silently ignores
//! everything past 72 bytes, so longer is refused rather than truncated) and
//! bcrypt itself. Hashing and verifying are slow on purpose: the server runs
//! them through [`Hasher`], off the async workers and at most one per core at
//! a time, so a login storm cannot starve everything else.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

use crate::db;
use crate::error::ApiError;

/// How long a bcrypt job waits for a core before the request answers 503.
const HASH_WAIT: Duration = Duration::from_secs(5);

/// Runs bcrypt off the async workers, with at most as many jobs at once as
/// there are cores; the rest queue for up to [`HASH_WAIT`].
pub struct Hasher {
    permits: Arc<Semaphore>,
    cost: u32,
}

impl Hasher {
    /// A hasher at bcrypt `cost`, one job per core.
    pub fn new(cost: u32) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            permits: Arc::new(Semaphore::new(cores)),
            cost,
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = tokio::time::timeout(HASH_WAIT, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| {
                log::warn!("bcrypt queue full for {HASH_WAIT:?}");
                ApiError::Unavailable
            })?
            .map_err(|_| ApiError::Unavailable)?;
        // The permit goes with the job: a request dropped meanwhile (a
        // timeout, a disconnect) frees it only when the hashing is done.
        Ok(db::blocking(move || {
            let result = job();
            drop(permit);
            result
        })
        .await?)
    }

    /// The bcrypt hash of `password` at the configured cost.
    pub async fn hash(&self, password: SecretString) -> Result<String, ApiError> {
        let cost = self.cost;
        self.run(move || hash(password.expose_secret(), cost))
            .await?
    }

    /// Whether `password` matches `hash` (see [`verify`]).
    pub async fn verify(
        &self,
        password: SecretString,
        hash: SecretString,
    ) -> Result<bool, ApiError> {
        self.run(move || verify(password.expose_secret(), hash.expose_secret()))
            .await
    }
}

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
    if password.contains('\0') {
        return Err(ApiError::WeakPassword("it must not contain NUL characters"));
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
/// a password over 72 bytes (which bcrypt would compare truncated) or with a
/// NUL (bcrypt reads a C string, so all-NUL passwords of any length would
/// match each other). bcrypt runs in every case, so the answer takes the same
/// time. Blocking.
pub fn verify(password: &str, hash: &str) -> bool {
    let matches = bcrypt::verify(password, hash).unwrap_or(false);
    matches && password.len() <= MAX_BYTES && !password.contains('\0')
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
        assert!(check_policy("correct\0horse").is_err());
    }

    #[actix_web::test]
    async fn at_most_one_bcrypt_job_per_core_runs_at_once() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};

        let hasher = Hasher::new(4);
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let jobs = (0..cores * 4).map(|_| {
            let (running, most) = (running.clone(), most.clone());
            hasher.run(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(30));
                running.fetch_sub(1, Ordering::SeqCst);
            })
        });
        for done in futures_util::future::join_all(jobs).await {
            done.unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), cores);
    }

    #[test]
    fn verify_matches_only_the_password() {
        let h = hash("correct horse", 4).unwrap();
        assert!(verify("correct horse", &h));
        assert!(!verify("correct horsf", &h));
        assert!(!verify("correct horse", "not a hash"));
        let nul = hash(&"\0".repeat(8), 4).unwrap();
        assert!(!verify(&"\0".repeat(20), &nul), "bcrypt's C-string quirk");
        assert!(!verify(&"\0".repeat(8), &nul));
    }
}
