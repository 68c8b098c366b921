//! Email normalisation: trimmed, NFKC-normalised, lower-cased, at most 254 bytes,
//! the same for storage and lookup, so `Alice@Example.com ` and `alice@example.com`
//! are one account. Characters that render as nothing (or as blank space)
//! are refused rather than stripped, so `victim@example.com` followed by an
//! invisible character can never be a second account.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use super::CredentialError;

/// The longest address SMTP allows.
const MAX_LEN: usize = 254;

/// The normalised form of `input`, or `InvalidEmail`.
pub fn normalize(input: &str) -> Result<String, CredentialError> {
    // Control (Cc), invisible format characters (Cf: zero-width joiners,
    // bidirectional overrides, soft hyphens, BOMs), the other default-ignorable
    // code points (variation selectors, fillers) and blank-looking letters make
    // look-alike accounts; refused before normalisation could fold any of them
    // away, and again after it (NFKC maps U+3164 and U+FFA0 to U+1160).
    if input.chars().any(forbidden) {
        return Err(CredentialError::InvalidEmail);
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
        return Err(CredentialError::InvalidEmail);
    }
    // The characters of mailbox syntax (`Name <addr>`, lists, comments,
    // quoting) would let a stored address deliver somewhere else.
    if email.contains(['<', '>', '"', ',', ';', ':', '(', ')', '[', ']', '\\']) {
        return Err(CredentialError::InvalidEmail);
    }
    let (local, domain) = email.split_once('@').ok_or(CredentialError::InvalidEmail)?;
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !domain.contains('@');
    if local.is_empty() || local.len() > 64 || !domain_ok {
        return Err(CredentialError::InvalidEmail);
    }
    Ok(email)
}

/// Unicode's Default_Ignorable_Code_Point property, as listed in
/// `DerivedCoreProperties.txt` of Unicode 16.0.0 (the same since 14.0.0),
/// adjacent ranges merged: code points a renderer shows as nothing. Most are
/// Cf, but not all: variation selectors are Mn, the Hangul fillers Lo, and
/// some are reserved, so the general category alone misses them. Inclusive
/// ranges, sorted (a binary search reads them).
const DEFAULT_IGNORABLE: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),   // SOFT HYPHEN
    (0x034F, 0x034F),   // COMBINING GRAPHEME JOINER
    (0x061C, 0x061C),   // ARABIC LETTER MARK
    (0x115F, 0x1160),   // HANGUL CHOSEONG FILLER..HANGUL JUNGSEONG FILLER
    (0x17B4, 0x17B5),   // KHMER VOWEL INHERENT AQ..KHMER VOWEL INHERENT AA
    (0x180B, 0x180F),   // MONGOLIAN FREE VARIATION SELECTOR ONE..FOUR (and VOWEL SEPARATOR)
    (0x200B, 0x200F),   // ZERO WIDTH SPACE..RIGHT-TO-LEFT MARK
    (0x202A, 0x202E),   // LEFT-TO-RIGHT EMBEDDING..RIGHT-TO-LEFT OVERRIDE
    (0x2060, 0x206F),   // WORD JOINER..NOMINAL DIGIT SHAPES (with reserved U+2065)
    (0x3164, 0x3164),   // HANGUL FILLER
    (0xFE00, 0xFE0F),   // VARIATION SELECTOR-1..VARIATION SELECTOR-16
    (0xFEFF, 0xFEFF),   // ZERO WIDTH NO-BREAK SPACE
    (0xFFA0, 0xFFA0),   // HALFWIDTH HANGUL FILLER
    (0xFFF0, 0xFFF8),   // reserved
    (0x1BCA0, 0x1BCA3), // SHORTHAND FORMAT LETTER OVERLAP..SHORTHAND FORMAT UP STEP
    (0x1D173, 0x1D17A), // MUSICAL SYMBOL BEGIN BEAM..MUSICAL SYMBOL END PHRASE
    (0xE0000, 0xE0FFF), // tags, VARIATION SELECTOR-17..256, reserved
];

/// Characters drawn as blank space, which pass for nothing at the end of an
/// address: the Hangul fillers (default-ignorable too, but many fonts draw
/// them as a space, so they are refused in their own right) and U+2800, an
/// ordinary symbol (So) that no property marks as invisible.
const BLANK_LOOKING: &[char] = &[
    '\u{115F}', // HANGUL CHOSEONG FILLER
    '\u{1160}', // HANGUL JUNGSEONG FILLER
    '\u{3164}', // HANGUL FILLER
    '\u{FFA0}', // HALFWIDTH HANGUL FILLER
    '\u{2800}', // BRAILLE PATTERN BLANK
];

fn default_ignorable(c: char) -> bool {
    let c = u32::from(c);
    DEFAULT_IGNORABLE
        .binary_search_by(|&(first, last)| {
            if last < c {
                std::cmp::Ordering::Less
            } else if first > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

fn forbidden(c: char) -> bool {
    matches!(
        c.general_category(),
        GeneralCategory::Control | GeneralCategory::Format
    ) || default_ignorable(c)
        || BLANK_LOOKING.contains(&c)
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

    #[test]
    fn refuses_default_ignorables_and_blank_fillers() {
        // The attack run's look-alikes, and the ends of every range.
        let mut cases = vec![
            '\u{FE0F}',
            '\u{FE00}',
            '\u{034F}',
            '\u{3164}',
            '\u{115F}',
            '\u{1160}',
            '\u{FFA0}',
            '\u{2800}',
            '\u{17B4}',
            '\u{180B}',
            '\u{180F}',
            '\u{2065}',
            '\u{FFF0}',
            '\u{E0100}',
            '\u{E01EF}',
            '\u{E0FFF}',
        ];
        for &(first, last) in DEFAULT_IGNORABLE {
            cases.extend([first, last].into_iter().filter_map(char::from_u32));
        }
        for c in cases {
            for email in [
                format!("victim@example.com{c}"),
                format!("vic{c}tim@example.com"),
                format!("victim@exa{c}mple.com"),
            ] {
                assert!(
                    matches!(normalize(&email), Err(CredentialError::InvalidEmail)),
                    "accepted U+{:04X} in {email:?}",
                    c as u32
                );
            }
        }
    }

    #[test]
    fn the_ignorable_table_is_sorted_and_disjoint() {
        for pair in DEFAULT_IGNORABLE.windows(2) {
            assert!(pair[0].0 <= pair[0].1 && pair[0].1 < pair[1].0, "{pair:X?}");
        }
        // Its neighbours stay allowed: the table is no wider than Unicode's.
        for c in [
            '\u{00AC}', '\u{00AE}', '\u{034E}', '\u{0350}', '\u{FE10}', '\u{2801}',
        ] {
            assert!(!default_ignorable(c), "U+{:04X}", c as u32);
        }
        assert_eq!(
            normalize("caf\u{00E9}\u{2801}@example.com").unwrap(),
            "caf\u{00E9}\u{2801}@example.com",
            "visible non-ASCII still passes"
        );
    }
}
