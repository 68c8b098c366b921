//! The per-client-IP rate limit on login, register and refresh
//! (`WRISTBAND_RATE_LIMIT_PER_MINUTE`): a burst of that many, refilled evenly
//! over a minute (GCRA, from the `governor` crate). The key is
//! [`client_ip`], so a spoofed `X-Forwarded-For` neither resets nor dodges
//! the limit unless the proxy is trusted. Refused requests get 429
//! `too_many_requests` with an integer `Retry-After`.
//!
//! Per instance: several instances behind a load balancer each allow the
//! limit. The per-account lockout, in the database, is what every instance
//! shares.

use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use super::client_ip::client_ip;
use super::extract::state_of;
use crate::error::ApiError;

/// The limiter of one instance.
pub struct RateLimit {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

impl RateLimit {
    /// `per_minute` requests a minute per client IP, all of them at once if
    /// the client has been quiet.
    pub fn per_minute(per_minute: u32) -> Self {
        let burst = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: DefaultKeyedRateLimiter::keyed(Quota::per_minute(burst)),
        }
    }

    /// Counts a request from `ip`; `Err(seconds)` when it must wait.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        self.limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_millis().div_ceil(1000).max(1) as u64
        })
    }

    /// Drops the state of clients that are back to a full burst (memory bound).
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// Route middleware: 429 before the handler when the client IP is over the limit.
pub async fn rate_limited(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = state_of(req.request())?;
    let ip = client_ip(req.request(), state.config.trust_proxy)
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    state
        .rate_limit
        .check(ip)
        .map_err(ApiError::TooManyRequests)?;
    next.call(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_a_wait_per_ip() {
        let limit = RateLimit::per_minute(3);
        let (a, b) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        for _ in 0..3 {
            assert!(limit.check(a).is_ok());
        }
        let wait = limit.check(a).unwrap_err();
        assert!(
            (1..=20).contains(&wait),
            "about 20 s until the next, got {wait}"
        );
        assert!(limit.check(b).is_ok(), "another client has its own budget");
    }
}
