//! The client's IP — the one definition, used by sessions, the audit log and
//! the per-IP rate limiter (the lockout counts accounts and devices, not
//! IPs) — and the `ClientInfo`
//! extractor built on it.

use std::future::{Ready, ready};
use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};

use super::extract::state_of;
use crate::auth::ClientInfo;
use crate::error::ApiError;
use chrono::NaiveDateTime;

/// The client IP: the peer address, or with `trust_proxy` the last entry of
/// the last `X-Forwarded-For` header (the one the trusted proxy appended,
/// whether it extends the client's line or adds a line of its own; whatever
/// stands before it comes from the client and can be forged).
pub fn client_ip(req: &HttpRequest, trust_proxy: bool) -> Option<IpAddr> {
    let forwarded = trust_proxy
        .then(|| {
            req.headers()
                .get_all("x-forwarded-for")
                .last()?
                .to_str()
                .ok()?
                .rsplit(',')
                .next()
                .map(str::trim)
        })
        .flatten()
        .and_then(|ip| ip.parse::<IpAddr>().ok());
    forwarded
        .or_else(|| req.peer_addr().map(|a| a.ip()))
        .map(|ip| ip.to_canonical())
}

fn client_info(req: &HttpRequest, trust_proxy: bool, now: NaiveDateTime) -> ClientInfo {
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(256).collect());
    ClientInfo {
        now,
        ip: client_ip(req, trust_proxy).map(|ip| ip.to_string()),
        user_agent,
    }
}

impl FromRequest for ClientInfo {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            state_of(req)
                .map(|state| client_info(req, state.config.network.trust_proxy, state.clock.now())),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use actix_web::test::TestRequest;

    #[test]
    fn forwarded_ip_is_the_proxys_entry_and_only_when_trusted() {
        let req = TestRequest::default()
            .peer_addr("10.0.0.1:5000".parse().unwrap())
            .insert_header(("x-forwarded-for", "6.6.6.6, 203.0.113.7"))
            .to_http_request();
        assert_eq!(
            client_info(&req, true, Clock::system().now()).ip.as_deref(),
            Some("203.0.113.7")
        );
        assert_eq!(
            client_info(&req, false, Clock::system().now())
                .ip
                .as_deref(),
            Some("10.0.0.1")
        );
        // A proxy that adds a line of its own after the client's.
        let req = TestRequest::default()
            .peer_addr("10.0.0.1:5000".parse().unwrap())
            .append_header(("x-forwarded-for", "6.6.6.6"))
            .append_header(("x-forwarded-for", "203.0.113.8"))
            .to_http_request();
        assert_eq!(
            client_info(&req, true, Clock::system().now()).ip.as_deref(),
            Some("203.0.113.8")
        );
    }
}
