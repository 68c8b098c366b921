//! The server's clock: what every rule that reads time asks (token `iat`,
//! `nbf` and `exp`, idle and absolute session ends, grace, lockout, audit
//! times, key retirement).
//!
//! In production it is the system clock. In test mode (`WRISTBAND_TEST_MODE`)
//! it is the system clock plus an offset that `POST /test/clock` moves forward
//! (never back), so a test suite can live through days in milliseconds. The
//! offset belongs to one instance: two test servers in one process have their
//! own clocks. Times are truncated to microseconds, the precision both
//! database backends keep.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, SubsecRound, TimeDelta, Utc};

/// A clock: the system's, or the system's moved forward (test mode).
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Microseconds added to the system time; `None` for the system clock,
    /// which does not move.
    offset: Option<Arc<AtomicI64>>,
}

/// Why the clock did not move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// Only a test-mode clock moves.
    #[error("this clock does not move")]
    NotMovable,
    /// The advance would overflow the clock.
    #[error("the advance is too large")]
    TooFar,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock that starts at the system time and can be moved forward.
    pub fn movable() -> Self {
        Self {
            offset: Some(Arc::new(AtomicI64::new(0))),
        }
    }

    /// How far this clock is ahead of the system clock.
    pub fn offset(&self) -> Duration {
        let micros = self.offset.as_ref().map_or(0, |o| o.load(Ordering::SeqCst));
        Duration::from_micros(u64::try_from(micros).unwrap_or(0))
    }

    /// The current time as UTC.
    pub fn now_utc(&self) -> DateTime<Utc> {
        let micros = self.offset.as_ref().map_or(0, |o| o.load(Ordering::SeqCst));
        Utc::now().trunc_subsecs(6) + TimeDelta::microseconds(micros)
    }

    /// The current time as the database stores it (UTC, microseconds).
    pub fn now(&self) -> NaiveDateTime {
        self.now_utc().naive_utc()
    }

    /// Seconds since the epoch, as JWT claims count them.
    pub fn timestamp(&self) -> i64 {
        self.now_utc().timestamp()
    }

    /// Moves a movable clock forward by `by`; returns the new offset.
    pub fn advance(&self, by: Duration) -> Result<Duration, ClockError> {
        let offset = self.offset.as_ref().ok_or(ClockError::NotMovable)?;
        let by = i64::try_from(by.as_micros()).map_err(|_| ClockError::TooFar)?;
        // At most 100 years ahead: far inside chrono's range.
        const LIMIT: i64 = 100 * 365 * 24 * 3600 * 1_000_000;
        offset
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |current| {
                current.checked_add(by).filter(|next| *next <= LIMIT)
            })
            .map_err(|_| ClockError::TooFar)?;
        Ok(self.offset())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_does_not_move() {
        let clock = Clock::system();
        assert_eq!(
            clock.advance(Duration::from_secs(1)),
            Err(ClockError::NotMovable)
        );
        assert_eq!(clock.offset(), Duration::ZERO);
        let drift = (clock.now_utc() - Utc::now()).num_milliseconds().abs();
        assert!(drift < 1000, "{drift} ms from the system time");
    }

    #[test]
    fn a_movable_clock_moves_forward_and_is_shared_by_its_clones() {
        let clock = Clock::movable();
        let other = clock.clone();
        let before = clock.now();
        clock.advance(Duration::from_secs(8 * 86_400)).unwrap();
        assert_eq!(other.offset(), Duration::from_secs(8 * 86_400));
        let moved = other.now() - before;
        assert!(moved >= TimeDelta::days(8) && moved < TimeDelta::days(8) + TimeDelta::seconds(5));
        assert_eq!(
            Clock::movable().offset(),
            Duration::ZERO,
            "clocks are per instance"
        );
    }

    #[test]
    fn an_absurd_advance_is_refused_and_changes_nothing() {
        let clock = Clock::movable();
        clock.advance(Duration::from_secs(60)).unwrap();
        assert_eq!(clock.advance(Duration::MAX), Err(ClockError::TooFar));
        assert_eq!(
            clock.advance(Duration::from_secs(200 * 365 * 86_400)),
            Err(ClockError::TooFar)
        );
        assert_eq!(clock.offset(), Duration::from_secs(60));
    }
}
