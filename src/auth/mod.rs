//! Who is calling: passwords (`password.rs`), email normalisation (`email.rs`),
//! the Bearer extractor and client details (`extract.rs`), and the in-process
//! cache that makes revocation immediate without a query per request
//! (`liveness.rs`).

pub mod email;
pub mod extract;
pub mod liveness;
pub mod password;

pub use extract::{AdminUser, AuthUser, ClientInfo, require_admin, require_user};
pub use liveness::LivenessCache;
