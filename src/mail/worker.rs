//! The delivery worker: every instance runs one. Each round claims the due
//! mails nobody holds (a lease, `db/outbox.rs`; on PostgreSQL `FOR UPDATE SKIP
//! LOCKED`, so however many instances run, each mail is claimed by one),
//! sends them, and marks each sent — or due again after a growing delay: 30 s,
//! 1 min, 2 min, … up to an hour between attempts, ten attempts in all (about
//! three hours), after which the mail is marked failed. A mail therefore
//! survives an SMTP outage and a restart: it stays in the outbox until sent.
//! An instance that dies mid-send leaves its lease to run out, and the mail is
//! claimed again (so a crash at the wrong moment can send a mail twice, never
//! lose it).
//!
//! The worker wakes when this instance commits a mail, and polls every second
//! for mails other instances wrote or whose retry came due.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;

use super::Mailer;
use super::smtp::Transport;
use crate::clock::Clock;
use crate::db::{Database, DbError, outbox};
use crate::metrics::Metrics;

/// Mails claimed per round.
const BATCH: i64 = 16;
/// How long one send may take in all (lettre's own timeout bounds each step
/// of the SMTP conversation, not the whole).
const SEND_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a claim holds a mail: longer than a round of sends can take
/// (`BATCH` × `SEND_TIMEOUT`), so no other instance reclaims a mail this
/// one is still sending.
const LEASE: TimeDelta = TimeDelta::minutes(20);
/// How often the worker looks for due mails without being woken.
const POLL: Duration = Duration::from_secs(1);
/// Sending attempts before a mail is marked failed.
pub const MAX_ATTEMPTS: i64 = 10;

/// When attempt `attempts + 1` comes, after `attempts` failed: 30 s, doubling,
/// at most an hour; `None` after the last.
pub fn retry_delay(attempts: i64) -> Option<TimeDelta> {
    if attempts >= MAX_ATTEMPTS {
        return None;
    }
    let doubled = 30i64.saturating_mul(1 << (attempts - 1).clamp(0, 20));
    Some(TimeDelta::seconds(doubled.min(3600)))
}

/// What the worker needs.
pub struct Delivery {
    /// The database the outbox is in.
    pub db: Database,
    /// The server's clock (test mode's moves retries forward too).
    pub clock: Clock,
    /// Opens the bodies; wakes the worker.
    pub mailer: Mailer,
    /// Where mails go.
    pub transport: Transport,
    /// Sent, failed, pending.
    pub metrics: Arc<Metrics>,
}

/// Starts the worker on the current runtime.
pub fn spawn(delivery: Delivery) {
    tokio::spawn(async move {
        loop {
            let claimed = delivery.round().await;
            if claimed < BATCH as usize {
                let mailer = delivery.mailer.clone();
                let _ = tokio::time::timeout(POLL, mailer.woken()).await;
            }
        }
    });
}

impl Delivery {
    /// One round: claim, send, record; returns how many mails it claimed.
    pub async fn round(&self) -> usize {
        let now = self.clock.now();
        let claimed = self
            .db
            .write(move |conn| Ok::<_, DbError>(outbox::claim(conn, now, now + LEASE, BATCH)?))
            .await;
        let claimed = match claimed {
            Ok(rows) => rows,
            Err(e) => {
                log::warn!("mail delivery: cannot claim mails: {e}");
                return 0;
            }
        };
        let count = claimed.len();
        for row in claimed {
            let (id, attempts) = (row.id.clone(), row.attempts);
            let outcome = match self.mailer.open(row) {
                Some(mail) => {
                    let send = self.transport.send(&mail, self.mailer.from());
                    match tokio::time::timeout(SEND_TIMEOUT, send).await {
                        Ok(outcome) => outcome,
                        Err(_) => Err(super::smtp::SendError(format!(
                            "no answer within {SEND_TIMEOUT:?}"
                        ))),
                    }
                }
                None => Err(super::smtp::SendError(
                    "the body does not open (was the refresh secret changed?)".into(),
                )),
            };
            let now = self.clock.now();
            let recorded = match outcome {
                Ok(()) => {
                    self.metrics.mail_sent();
                    self.db
                        .write(move |conn| Ok::<_, DbError>(outbox::sent(conn, &id, now)?))
                        .await
                }
                Err(error) => {
                    self.metrics.mail_failed();
                    let retry = retry_delay(attempts);
                    match retry {
                        Some(delay) => log::warn!(
                            "mail {id}: attempt {attempts} failed, retrying in {}s: {error}",
                            delay.num_seconds()
                        ),
                        None => {
                            log::error!("mail {id}: attempt {attempts} failed, giving up: {error}")
                        }
                    }
                    let text = error.to_string();
                    self.db
                        .write(move |conn| {
                            let retry_at = retry.map(|delay| now + delay);
                            Ok::<_, DbError>(outbox::failed(conn, &id, &text, retry_at, now)?)
                        })
                        .await
                }
            };
            if let Err(e) = recorded {
                // The lease runs out and the mail is claimed again.
                log::warn!("mail delivery: cannot record an outcome: {e}");
            }
        }
        if let Ok(pending) = self
            .db
            .run(|conn| Ok::<_, DbError>(outbox::pending(conn)?))
            .await
        {
            self.metrics.outbox_pending(pending);
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_of_sends_ends_within_its_lease() {
        let round = SEND_TIMEOUT * BATCH as u32;
        assert!(TimeDelta::from_std(round).unwrap() < LEASE);
    }

    #[test]
    fn retries_grow_to_an_hour_and_stop_after_the_last_attempt() {
        let delays: Vec<i64> = (1..MAX_ATTEMPTS)
            .map(|n| retry_delay(n).unwrap().num_seconds())
            .collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert!(delays[0] <= 60, "the first retry comes within a minute");
        assert!(
            delays.iter().sum::<i64>() >= 3600,
            "retried for at least an hour"
        );
        assert_eq!(retry_delay(MAX_ATTEMPTS), None);
    }
}
