//! Credentials and callers, below the session rules: password policy and
//! bcrypt (`password.rs`), email normalisation (`email.rs`), and who is
//! calling (`client.rs`). Nothing here touches HTTP or the session table.

pub mod client;
pub mod email;
pub mod password;

pub use client::ClientInfo;
