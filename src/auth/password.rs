//! Passwords: the policy (8..=72 bytes of UTF-8: bcrypt silently ignores
//! everything past 72 bytes, so longer is refused rather than truncated; and
//! not a known-breached password, see `blocklist.rs`) and bcrypt itself.
//! Hashing and verifying are slow on purpose: the server runs them through
//! [`Hasher`], off the async workers and at most one per core at a time, so a
//! login storm cannot starve everything else.
//!
//! The policy has one entry for every new password of a request (register,
//! admin-created users, password change, reset): [`Hasher::check_new`]. The
//! start-up admin and `wristband create-admin` run without a server, so they
//! apply [`check_policy`], everything but the online range check.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

use super::CredentialError;
use super::blocklist::{self, RangeApi};
use crate::db;

/// How long a bcrypt job waits for a core before the request answers 503.
const HASH_WAIT: Duration = Duration::from_secs(5);

/// Runs bcrypt off the async workers, with at most as many jobs at once as
/// there are cores; the rest queue for up to [`HASH_WAIT`]. It also holds the
/// optional breached-password range API, so that everything that hashes a new
/// password can check it first ([`Hasher::check_new`]).
pub struct Hasher {
    permits: Arc<Semaphore>,
    cost: u32,
    /// `WRISTBAND_PWNED_PASSWORDS_URL`'s client, when set.
    range_api: Option<RangeApi>,
    /// How long a verification at `cost` takes, in µs (0: not timed yet).
    typical_micros: Arc<AtomicU64>,
}

impl Hasher {
    /// A hasher at bcrypt `cost`, one job per core.
    pub fn new(cost: u32) -> Self {
        Self::with_range_api(cost, None)
    }

    /// A hasher at bcrypt `cost` whose [`Hasher::check_new`] also asks
    /// `range_api`, when there is one.
    pub fn with_range_api(cost: u32, range_api: Option<RangeApi>) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            permits: Arc::new(Semaphore::new(cores)),
            cost,
            range_api,
            typical_micros: Arc::default(),
        }
    }

    /// The whole policy for a new password: [`check_policy`], then, when a
    /// range API is set, whether it appears in a known data breach. A range
    /// API that cannot answer in time lets the password through (it logs a
    /// warning): an outage there never blocks a registration.
    pub async fn check_new(&self, password: &str) -> Result<(), CredentialError> {
        check_policy(password)?;
        if let Some(api) = &self.range_api
            && api.is_breached(password).await == Some(true)
        {
            return Err(CredentialError::WeakPassword(
                "it appears in a known data breach",
            ));
        }
        Ok(())
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, CredentialError> {
        let busy = || CredentialError::Busy(HASH_WAIT);
        let permit = tokio::time::timeout(HASH_WAIT, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| busy())?
            .map_err(|_| busy())?;
        // The permit goes with the job: a request dropped meanwhile (a
        // timeout, a disconnect) frees it only when the hashing is done.
        db::blocking(move || {
            let result = job();
            drop(permit);
            result
        })
        .await
        .map_err(CredentialError::Blocking)
    }

    /// The bcrypt hash of `password` at the configured cost.
    pub async fn hash(&self, password: SecretString) -> Result<String, CredentialError> {
        let cost = self.cost;
        self.run(move || hash(password.expose_secret(), cost))
            .await?
    }

    /// Whether `password` matches `hash` (see [`verify`]).
    pub async fn verify(
        &self,
        password: SecretString,
        hash: SecretString,
    ) -> Result<bool, CredentialError> {
        let at_cost = cost_of(hash.expose_secret()) == Some(self.cost);
        let (matches, took) = self
            .run(move || timed(|| verify(password.expose_secret(), hash.expose_secret())))
            .await?;
        if at_cost {
            self.record(took);
        }
        Ok(matches)
    }

    /// Verifies `password` against `hash` and takes about as long as a
    /// verification at the configured cost: against a cheaper stored hash (one
    /// made before the cost was raised) the answer waits out the difference,
    /// so the time does not tell an existing account from an unknown email
    /// (which is checked against `padding`, a hash at the configured cost).
    /// Until a verification at the configured cost has been timed, the
    /// padding is a check against `padding` itself. (A dearer stored hash,
    /// after the cost was lowered, is not padded down; a successful login
    /// replaces it, see [`Hasher::needs_rehash`].)
    pub async fn verify_padded(
        &self,
        password: SecretString,
        hash: SecretString,
        padding: SecretString,
    ) -> Result<bool, CredentialError> {
        if cost_of(hash.expose_secret()).is_some_and(|cost| cost >= self.cost) {
            return self.verify(password, hash).await;
        }
        let typical = self.typical();
        let (matches, took) = self
            .run(move || timed(|| verify(password.expose_secret(), hash.expose_secret())))
            .await?;
        match typical {
            Some(typical) => tokio::time::sleep(typical.saturating_sub(took)).await,
            None => {
                // Nothing timed yet: pad with a real check at the configured
                // cost (which also times one).
                self.verify(SecretString::from(""), padding).await?;
            }
        }
        Ok(matches)
    }

    /// How long a verification at the configured cost takes, as measured
    /// (a moving average), if one was timed yet.
    fn typical(&self) -> Option<Duration> {
        match self.typical_micros.load(Ordering::Relaxed) {
            0 => None,
            micros => Some(Duration::from_micros(micros)),
        }
    }

    /// Adds one timing of a verification at the configured cost.
    fn record(&self, took: Duration) {
        let sample = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1);
        let _ = self
            .typical_micros
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                Some(if old == 0 {
                    sample
                } else {
                    // An eighth of the way towards the new sample.
                    old - old / 8 + sample / 8
                })
            });
    }

    /// Whether `hash` was made at another cost than the configured one, so a
    /// successful login should replace it.
    pub fn needs_rehash(&self, hash: &str) -> bool {
        cost_of(hash) != Some(self.cost)
    }
}

/// Shortest accepted password, in bytes.
pub const MIN_BYTES: usize = 8;
/// Longest accepted password, in bytes: bcrypt's limit.
pub const MAX_BYTES: usize = 72;

/// Checks the policy for a new password, all but the online range check
/// (for that, [`Hasher::check_new`]): 400 `weak_password` with the reason.
pub fn check_policy(password: &str) -> Result<(), CredentialError> {
    match weakness(password) {
        Some(why) => Err(CredentialError::WeakPassword(why)),
        None => Ok(()),
    }
}

/// Why `password` may not be a new password, offline; `None` if it may.
pub fn weakness(password: &str) -> Option<&'static str> {
    if password.len() < MIN_BYTES {
        return Some("it must be at least 8 bytes");
    }
    if password.len() > MAX_BYTES {
        return Some("it must be at most 72 bytes");
    }
    if password.contains('\0') {
        return Some("it must not contain NUL characters");
    }
    // NIST SP 800-63B §5.1.1.2: compared against a list of breached passwords.
    if blocklist::is_common(password) {
        return Some("it is one of the most common passwords");
    }
    None
}

/// bcrypt hash of `password` at `cost`. Blocking.
pub fn hash(password: &str, cost: u32) -> Result<String, CredentialError> {
    bcrypt::hash(password, cost).map_err(CredentialError::Hashing)
}

/// Whether `password` matches `hash`. A malformed hash is a mismatch, and so is
/// a password over 72 bytes (which bcrypt would compare truncated) or with a
/// NUL (bcrypt reads a C string, so all-NUL passwords of any length would
/// match each other). bcrypt runs in every case, so the answer takes the same
/// time. Blocking.
/// `f`'s answer and how long it took.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    (f(), started.elapsed())
}

/// The cost a bcrypt hash (`$2b$12$…`) was made at.
pub fn cost_of(hash: &str) -> Option<u32> {
    let mut parts = hash.split('$');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(""), Some(_variant), Some(cost)) if cost.len() == 2 => cost.parse().ok(),
        _ => None,
    }
}

pub fn verify(password: &str, hash: &str) -> bool {
    let matches = bcrypt::verify(password, hash).unwrap_or(false);
    matches && password.len() <= MAX_BYTES && !password.contains('\0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cost_is_read_from_the_hash() {
        let hash = hash("correct horse battery", 4).unwrap();
        assert_eq!(cost_of(&hash), Some(4));
        assert_eq!(cost_of("$2b$12$abcdefghijklmnopqrstuu"), Some(12));
        assert_eq!(cost_of("not a hash"), None);
        assert!(Hasher::new(5).needs_rehash(&hash));
        assert!(!Hasher::new(4).needs_rehash(&hash));
    }

    #[test]
    fn policy_bounds_are_bytes() {
        assert!(check_policy("1234567").is_err());
        assert!(check_policy("1234567x").is_ok());
        assert!(check_policy(&"a".repeat(72)).is_ok());
        assert!(check_policy(&"a".repeat(73)).is_err());
        // 24 three-byte characters are 72 bytes; one more is too many.
        assert!(check_policy(&"€".repeat(24)).is_ok());
        assert!(check_policy(&"€".repeat(25)).is_err());
        assert!(check_policy("correct\0horse").is_err());
    }

    #[test]
    fn common_passwords_are_weak_in_any_case() {
        for password in ["password1", "qwertyuiop", "Password123", "QWERTYUIOP"] {
            assert_eq!(
                weakness(password),
                Some("it is one of the most common passwords"),
                "{password}"
            );
        }
        assert_eq!(weakness("correct horse battery"), None);
    }

    #[actix_web::test]
    async fn without_a_range_api_a_new_password_meets_the_offline_policy() {
        let hasher = Hasher::new(4);
        assert!(hasher.check_new("correct horse battery").await.is_ok());
        let refused = hasher.check_new("Password123").await;
        assert!(
            matches!(refused, Err(CredentialError::WeakPassword(why)) if why.contains("most common"))
        );
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
