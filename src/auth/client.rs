//! `ClientInfo`: where a request comes from, as recorded on sessions and audit
//! events, and the server clock that stamps them. Built from the request in
//! `http/client_ip.rs`, the one place that decides the client IP.

use crate::clock::Clock;
use crate::db::audit::{AuditKind, NewAuditEvent};

/// The client's IP and user agent (and the clock its records are stamped by).
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// The server's clock (the system clock by default).
    pub clock: Clock,
    /// Client IP (see `http::client_ip`).
    pub ip: Option<String>,
    /// `User-Agent`, cut to 256 characters.
    pub user_agent: Option<String>,
}

impl ClientInfo {
    /// An audit event of `kind` from this client, happening now.
    pub fn event(&self, kind: AuditKind) -> NewAuditEvent<'_> {
        NewAuditEvent::new(
            kind,
            self.clock.now(),
            self.ip.as_deref(),
            self.user_agent.as_deref(),
        )
    }
}
