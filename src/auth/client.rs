//! `ClientInfo`: where a request comes from, as recorded on sessions and audit
//! events, and when it came by the server's clock — read once per request,
//! so everything one request stamps carries one time. Built from the request
//! in `http/client_ip.rs`, the one place that decides the client IP.

use chrono::NaiveDateTime;

use crate::db::audit::{AuditKind, NewAuditEvent};

/// The client's IP and user agent, and the time of its request.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// When the request came, by the server's clock (test mode's may be ahead).
    pub now: NaiveDateTime,
    /// Client IP (see `http::client_ip`).
    pub ip: Option<String>,
    /// `User-Agent`, cut to 256 characters.
    pub user_agent: Option<String>,
}

impl ClientInfo {
    /// A client with no IP or user agent, at `now`: the CLI and start-up.
    pub fn at(now: NaiveDateTime) -> Self {
        Self {
            now,
            ip: None,
            user_agent: None,
        }
    }

    /// An audit event of `kind` from this client, at its request's time.
    pub fn event(&self, kind: AuditKind) -> NewAuditEvent<'_> {
        NewAuditEvent::new(
            kind,
            self.now,
            self.ip.as_deref(),
            self.user_agent.as_deref(),
        )
    }
}
