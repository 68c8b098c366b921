//! What the HTTP layer decides about a request before a handler runs: who the
//! client is (`client_ip.rs`, the one client-IP function), who the caller is
//! (`extract.rs`, the one place that parses the `Authorization` header),
//! whether its origin may use the cookie endpoints and CORS (`origin.rs`),
//! whether it is over its rate (`rate_limit.rs`), how long it may take to
//! arrive (`timeout.rs`), the headers every answer carries (`headers.rs`),
//! and the access log and request metrics (`observe.rs`).

pub mod client_ip;
pub mod extract;
pub mod headers;
pub mod observe;
pub mod origin;
pub mod rate_limit;
pub mod timeout;
pub mod tls;

pub use extract::{AdminUser, AuthUser, require_admin, require_user};
