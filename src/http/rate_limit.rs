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
use actix_web::web;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use super::client_ip::client_ip;
use super::extract::state_of;
use crate::error::ApiError;

/// The limiter of one instance (registered as its own app data).
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
        self.limiter.check_key(&key(ip)).map_err(|not_until| {
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

/// The budget an address draws on: an IPv4 address, or the /64 an IPv6
/// address is in (every host gets a whole /64, so single IPv6 addresses
/// would be free to rotate through).
fn key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        v4 => v4,
    }
}

/// Route middleware: 429 before the handler when the client IP is over the limit.
pub async fn rate_limited(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = state_of(req.request())?;
    let limit = req.app_data::<web::Data<RateLimit>>().ok_or_else(|| {
        log::error!("rate limiter missing");
        ApiError::Unavailable
    })?;
    let ip = client_ip(req.request(), state.config.network.trust_proxy)
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    limit.check(ip).map_err(ApiError::TooManyRequests)?;
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

    #[test]
    fn an_ipv6_network_shares_one_budget() {
        let limit = RateLimit::per_minute(1);
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_net: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other_net: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(limit.check(one).is_ok());
        assert!(limit.check(same_net).is_err());
        assert!(limit.check(other_net).is_ok());
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert!(limit.check(mapped).is_ok());
        assert!(
            limit.check("192.0.2.1".parse().unwrap()).is_err(),
            "mapped is the IPv4 address"
        );
    }
}
