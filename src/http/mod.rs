//! What the HTTP layer decides about a request before a handler runs: who the
//! client is (`client_ip.rs`, the one client-IP function) and who the caller
//! is (`extract.rs`, the one place that parses the `Authorization` header).

pub mod client_ip;
pub mod extract;

pub use extract::{AdminUser, AuthUser, require_admin, require_user};
