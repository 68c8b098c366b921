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
