//! Email normalisation: trimmed, NFKC-normalised, lower-cased, at most 254 bytes,
//! the same for storage and lookup, so `Alice@Example.com ` and `alice@example.com`
//! are one account.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::error::ApiError;

/// The longest address SMTP allows.
const MAX_LEN: usize = 254;

/// The normalised form of `input`, or `InvalidEmail`.
pub fn normalize(input: &str) -> Result<String, ApiError> {
    // Control (Cc) and invisible format characters (Cf: zero-width joiners,
    // bidirectional overrides, soft hyphens, BOMs) make look-alike accounts;
    // refused before normalisation could fold any of them away.
    if input.chars().any(forbidden) {
        return Err(ApiError::InvalidEmail);
    }
    let email: String = input
        .trim()
        .nfkc()
        .collect::<String>()
        .trim()
        .to_lowercase();
    if email.is_empty()
        || email.len() > MAX_LEN
        || email.chars().any(|c| c.is_whitespace() || forbidden(c))
    {
        return Err(ApiError::InvalidEmail);
    }
    let (local, domain) = email.rsplit_once('@').ok_or(ApiError::InvalidEmail)?;
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !domain.contains('@');
    if local.is_empty() || local.len() > 64 || !domain_ok {
        return Err(ApiError::InvalidEmail);
    }
    Ok(email)
}

fn forbidden(c: char) -> bool {
    matches!(
        c.general_category(),
        GeneralCategory::Control | GeneralCategory::Format
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_folds_and_lowercases() {
        assert_eq!(
            normalize("  Alice@Example.COM ").unwrap(),
            "alice@example.com"
        );
        // Fullwidth letters fold to ASCII under NFKC.
        assert_eq!(
            normalize("ａｌｉｃｅ@example.com").unwrap(),
            "alice@example.com"
        );
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "alice@localhost",
            "a b@example.com",
            "alice@.com",
            "alice@example..com",
        ] {
            assert!(normalize(bad).is_err(), "accepted {bad:?}");
        }
        for invisible in [
            '\u{200B}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{00AD}', '\u{202E}', '\u{0000}',
        ] {
            let email = format!("ali{invisible}ce@example.com");
            assert!(
                normalize(&email).is_err(),
                "accepted U+{:04X}",
                invisible as u32
            );
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(normalize(&long).is_err());
    }
}
