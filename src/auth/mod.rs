//! Credentials and callers, below the session rules: password policy and
//! bcrypt (`password.rs`), the breached-password blocklist it consults
//! (`blocklist.rs`), email normalisation (`email.rs`), and who is calling
//! (`client.rs`). Nothing here serves HTTP requests or touches the session
//! table (the blocklist only calls out, to an optional range API).

pub mod blocklist;
pub mod client;
pub mod email;
pub mod password;

pub use client::ClientInfo;

/// Why a credential was refused, or could not be checked. The HTTP edge
/// (`routes/errors.rs`) turns it into the documented errors.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The email is not a plausible address (`email::normalize`).
    #[error("invalid email")]
    InvalidEmail,
    /// The password breaks the policy; why, in words a user may read.
    #[error("weak password: {0}")]
    WeakPassword(&'static str),
    /// Every core was busy with bcrypt for longer than a request waits.
    #[error("the bcrypt queue stayed full for {0:?}")]
    Busy(std::time::Duration),
    /// bcrypt itself failed.
    #[error("bcrypt failed")]
    Hashing(#[source] bcrypt::BcryptError),
    /// The blocking thread pool failed.
    #[error("the blocking pool failed")]
    Blocking(#[source] crate::db::DbError),
}
