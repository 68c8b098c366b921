//! What the unit tests of several modules share: the base64url alphabet, the
//! single-character changes of a token, and a bounded proptest configuration.

/// The base64url alphabet, in value order.
pub const BASE64URL: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Every copy of `token` with one character changed: each base64url character
/// to every character whose 6-bit value differs in one bit (the smallest
/// changes, including those that touch only the unused low bits of a
/// segment's last character), any other character to each of `others(c)`.
/// Yields the position, the original, the replacement and the changed token.
pub fn single_changes(
    token: &str,
    others: impl Fn(char) -> Vec<char>,
) -> Vec<(usize, char, char, String)> {
    let alphabet: Vec<char> = BASE64URL.chars().collect();
    let chars: Vec<char> = token.chars().collect();
    let mut changes = Vec::new();
    for (i, &original) in chars.iter().enumerate() {
        let replacements = match alphabet.iter().position(|&a| a == original) {
            Some(value) => (0..6).map(|bit| alphabet[value ^ (1 << bit)]).collect(),
            None => others(original),
        };
        for replacement in replacements.into_iter().filter(|&r| r != original) {
            let mut changed = chars.clone();
            changed[i] = replacement;
            changes.push((i, original, replacement, changed.into_iter().collect()));
        }
    }
    changes
}

/// Property tests: bounded in cases, and no regression files in the tree.
pub fn proptest_config() -> proptest::test_runner::Config {
    proptest::test_runner::Config {
        cases: 256,
        failure_persistence: None,
        ..Default::default()
    }
}
