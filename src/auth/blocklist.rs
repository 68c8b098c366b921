//! The blocklist of breached passwords (NIST SP 800-63B §5.1.1.2) that the
//! password policy (`password.rs`) consults: the bundled list of the most
//! common passwords ([`is_common`]) and, when `WRISTBAND_PWNED_PASSWORDS_URL`
//! is set, a range API in Have I Been Pwned's shape ([`RangeApi`]). What a
//! refusal says, and when the check runs, is the policy's business.
//!
//! Credits: `common-passwords.txt` is the ranked `passwords` frequency list of
//! the PyPI package zxcvbn 4.5.0 (MIT licence, Copyright (c) 2016 Daniel Wolf;
//! a port of Dropbox's zxcvbn), which zxcvbn ranked from Mark Burnett's
//! 10-million-password corpus. The file's header carries the licence text.

use std::collections::HashSet;
use std::error::Error;
use std::sync::LazyLock;
use std::time::Duration;

use sha1::{Digest, Sha1};

/// The bundled list: a comment header (`#` lines), then one password a line.
const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

/// The bundled list as a set, built on first use. The entries are lower case.
static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    COMMON_PASSWORDS
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
});

/// Whether `password` is on the bundled list, in any letter case.
pub fn is_common(password: &str) -> bool {
    COMMON.contains(password.to_lowercase().as_str())
}

/// How long one range query may take, connecting included. Past it the
/// password is accepted unchecked: the check must never hold up a registration.
pub const RANGE_TIMEOUT: Duration = Duration::from_secs(2);

/// The largest range answer read. Have I Been Pwned's padded answers are
/// about 40 KiB; anything far bigger is not a range answer.
const MAX_RANGE_BYTES: usize = 1 << 20;

/// A range API in Have I Been Pwned's shape: `GET {base}/{PREFIX}` answers
/// `SUFFIX:COUNT` lines for the SHA-1 hashes starting with `PREFIX`.
///
/// k-anonymity: only the first five hex digits of the password's SHA-1 leave
/// the server, and `Add-Padding: true` asks for dummy lines (count 0) so the
/// answer's size says nothing either.
pub struct RangeApi {
    base: String,
    http: reqwest::Client,
}

/// Why a range query gave no answer. Its text never holds the password, its
/// hash, or the URL queried (which carries the prefix).
#[derive(Debug, thiserror::Error)]
enum Unanswered {
    #[error("the range API did not answer within {RANGE_TIMEOUT:?}")]
    TimedOut,
    #[error("the range API cannot be reached")]
    Unreachable(#[source] reqwest::Error),
    #[error("the range API answered {0}")]
    Status(reqwest::StatusCode),
    #[error("the range API's answer is over {MAX_RANGE_BYTES} bytes")]
    TooLarge,
    #[error("the range API's answer is not text")]
    NotText,
}

impl From<reqwest::Error> for Unanswered {
    fn from(e: reqwest::Error) -> Self {
        if e.is_timeout() {
            Self::TimedOut
        } else {
            Self::Unreachable(e.without_url())
        }
    }
}

impl RangeApi {
    /// A client of the range API at `base` (e.g.
    /// `https://api.pwnedpasswords.com/range`; a trailing `/` is dropped).
    pub fn new(base: &str) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(RANGE_TIMEOUT)
            .connect_timeout(RANGE_TIMEOUT)
            // A redirect would send the prefix somewhere nobody configured.
            .redirect(reqwest::redirect::Policy::none())
            // Every actix worker runs its own runtime, and a pooled connection
            // lives on the runtime that opened it: without a pool, no check
            // rides on a connection whose runtime may have gone.
            .pool_max_idle_per_host(0)
            .user_agent(concat!("wristband/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            http,
        })
    }

    /// Whether the range API lists `password` with a count above 0. `None`
    /// when it could not tell (unreachable, slower than [`RANGE_TIMEOUT`], not
    /// 200, an unreadable answer): that is logged as a warning, and the
    /// caller accepts the password, so an outage never blocks anyone.
    pub async fn is_breached(&self, password: &str) -> Option<bool> {
        let hash = sha1_hex(password);
        let (prefix, suffix) = hash.split_at(5);
        match self.range(prefix).await {
            Ok(body) => Some(breach_count(&body, suffix) > 0),
            Err(why) => {
                log::warn!(
                    "breached-password check skipped, the password is accepted: {}",
                    with_causes(&why)
                );
                None
            }
        }
    }

    /// The answer to `GET {base}/{prefix}`, read up to [`MAX_RANGE_BYTES`].
    async fn range(&self, prefix: &str) -> Result<String, Unanswered> {
        let mut response = self
            .http
            .get(format!("{}/{prefix}", self.base))
            .header("Add-Padding", "true")
            .send()
            .await?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(Unanswered::Status(response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_RANGE_BYTES {
                return Err(Unanswered::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        String::from_utf8(body).map_err(|_| Unanswered::NotText)
    }
}

/// `error: cause: cause…` on one line, for the log.
fn with_causes(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text = format!("{text}: {inner}");
        cause = inner.source();
    }
    text
}

/// The SHA-1 of `password` in upper-case hex (40 digits), as range APIs key it.
fn sha1_hex(password: &str) -> String {
    format!("{:X}", Sha1::digest(password.as_bytes()))
}

/// The count a range answer gives `suffix` (the 35 hex digits after the
/// prefix); 0 when it is not listed. Lines are `SUFFIX:COUNT`, ended by LF or
/// CRLF, the hex in either case; padding lines have count 0. A line that does
/// not parse lists nothing.
fn breach_count(body: &str, suffix: &str) -> u64 {
    body.lines()
        .filter_map(|line| line.trim().split_once(':'))
        .filter(|(listed, _)| listed.trim().eq_ignore_ascii_case(suffix))
        .filter_map(|(_, count)| count.trim().parse::<u64>().ok())
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SHA-1("password"), split as a range query splits it.
    const PREFIX: &str = "5BAA6";
    const SUFFIX: &str = "1E4C9B93F3F0682250B6CF8331B7EE68FD8";

    #[test]
    fn the_bundled_list_is_whole_and_ranked() {
        assert_eq!(COMMON.len(), 30_000, "every entry, no header line");
        let first: Vec<&str> = COMMON_PASSWORDS
            .lines()
            .filter(|line| !line.starts_with('#'))
            .take(3)
            .collect();
        assert_eq!(first, ["123456", "password", "12345678"]);
        assert!(COMMON.iter().all(|p| *p == p.to_lowercase()));
    }

    #[test]
    fn common_passwords_match_in_any_case() {
        for password in [
            "password1",
            "qwertyuiop",
            "Password123",
            "QWERTYUIOP",
            "PaSsWoRd1",
        ] {
            assert!(is_common(password), "{password}");
        }
        for password in ["correct horse battery", "password1!x", "", "# The 30,000"] {
            assert!(!is_common(password), "{password}");
        }
    }

    #[test]
    fn hashes_are_upper_case_hex() {
        assert_eq!(sha1_hex("password"), format!("{PREFIX}{SUFFIX}"));
    }

    #[test]
    fn a_listed_suffix_gives_its_count() {
        let body = format!("0018A45C4D1DEF81644B54AB7F969B88D65:3\r\n{SUFFIX}:9545824\r\n");
        assert_eq!(breach_count(&body, SUFFIX), 9_545_824);
    }

    #[test]
    fn hex_case_and_line_ends_do_not_matter() {
        let lower = format!("{}:12\n", SUFFIX.to_lowercase());
        assert_eq!(breach_count(&lower, SUFFIX), 12);
        assert_eq!(
            breach_count(&format!("{SUFFIX}:7"), SUFFIX),
            7,
            "no final newline"
        );
        assert_eq!(breach_count(&format!(" {SUFFIX} : 5 \r\n"), SUFFIX), 5);
    }

    #[test]
    fn padding_lines_and_other_suffixes_count_nothing() {
        let padded = format!("{SUFFIX}:0\r\n0018A45C4D1DEF81644B54AB7F969B88D65:3\r\n");
        assert_eq!(breach_count(&padded, SUFFIX), 0);
        assert_eq!(breach_count("", SUFFIX), 0);
        let garbage = format!("{SUFFIX}\r\n{SUFFIX}:many\r\n:\r\n<html>\r\n");
        assert_eq!(breach_count(&garbage, SUFFIX), 0);
        // A suffix is matched whole, not as a prefix of a longer one.
        assert_eq!(breach_count(&format!("{SUFFIX}0:4"), SUFFIX), 0);
    }

    #[actix_web::test]
    async fn an_unreachable_api_tells_nothing_and_does_not_wait() {
        // A port nothing listens on: bound, then released.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let api = RangeApi::new(&format!("http://127.0.0.1:{port}/range/")).unwrap();
        let started = std::time::Instant::now();
        assert_eq!(api.is_breached("password").await, None);
        assert!(started.elapsed() < RANGE_TIMEOUT + Duration::from_secs(1));
    }
}
