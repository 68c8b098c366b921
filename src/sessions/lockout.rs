//! The login lockout per account and client class (see SECURITY.md), as the login
//! flow (`login.rs`) meets it: which class a client is in, taking a place in
//! the class's budget before bcrypt (waiting, in order and for a bounded time,
//! while attempts in flight hold it), and recording a verified failure. The
//! counts themselves live in `db/login_failures.rs`; the in-process queue in
//! `queue.rs`.
//!
//! A client is a **known device** of an account when its device cookie has
//! an entry naming that account at its current token version; everyone else
//! is one of the account's **untrusted** clients, counted together. So an
//! attacker who only knows the email locks out untrusted clients, never the
//! owner's known devices.

use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, TimeDelta};
use diesel::Connection;

use super::SessionError;
use super::Sessions;
use super::queue::Turn;
use crate::auth::ClientInfo;
use crate::db::audit::AuditKind;
use crate::db::login_failures::{self, Attempt, ClientClass};
use crate::db::users::UserRow;
use crate::db::{self, Database, DbConnection};
use crate::devices::Device;

/// How long an attempt waits its turn (in this instance's queue, then in the
/// budget other instances share) before it is refused with 429: a few
/// seconds, as parallel logins of one account (a test suite's workers) take a
/// few bcrypt rounds at most.
pub(super) const BUSY_WAIT: Duration = Duration::from_secs(5);
/// The longest pause between two looks at a budget other instances hold.
const BUSY_POLL: Duration = Duration::from_millis(100);
/// How long an attempt holds its place in the budget at most: far beyond a
/// bcrypt check and its queue (at most five seconds), so only attempts that
/// ended without a verdict (a crash) run out. An attempt that outlives its
/// place is not counted (`db/login_failures.rs`).
const ATTEMPT_TTL: TimeDelta = TimeDelta::seconds(30);

/// The account as it was when its password was checked.
pub(super) struct Candidate {
    pub user: UserRow,
    pub version: i64,
}

/// The class `devices` (the entries of the client's device cookie) put the
/// client in for `candidate`'s account.
pub(super) fn classify(candidate: Option<&Candidate>, devices: &[Device]) -> ClientClass {
    let known = candidate.and_then(|c| {
        devices
            .iter()
            .find(|d| d.user_id == c.user.id && d.version == c.version)
    });
    match known {
        Some(device) => ClientClass::Device(device.nonce.clone()),
        None => ClientClass::Untrusted,
    }
}

/// An attempt's place in its class's budget. Given back when dropped without
/// a verdict (an outage, a dropped request), so it does not hold the place
/// until it expires.
pub(super) struct Place {
    /// The attempt's id, until its verdict is recorded.
    id: Option<String>,
    db: Database,
}

impl Place {
    /// The attempt's id.
    pub(super) fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// Its verdict is recorded: nothing to give back.
    pub(super) fn settled(mut self) {
        self.id = None;
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return; // no runtime to do it on: the place expires instead
        };
        let db = self.db.clone();
        runtime.spawn(async move {
            let ended = db
                .write(move |conn| Ok::<_, SessionError>(login_failures::end(conn, &id)?))
                .await;
            if let Err(e) = ended {
                log::warn!("cannot give back a login attempt's place: {e}");
            }
        });
    }
}

/// An attempt that may check its password.
pub(super) struct Begun {
    /// Its place in the budget (none for an email that cannot exist).
    pub place: Option<Place>,
    pub class: ClientClass,
    pub candidate: Option<Candidate>,
}

/// What looking at the budget found.
enum Start {
    Begun(Option<String>, ClientClass, Option<Candidate>),
    Busy,
    Locked(NaiveDateTime),
}

impl Sessions {
    /// The account of `email` (a read, before any queue) and so the class
    /// this client's attempt is queued in. The attempt's own transaction
    /// reads the account again and decides the class it is counted in.
    pub(super) async fn queue_class(
        &self,
        email: &str,
        devices: &[Device],
    ) -> Result<ClientClass, SessionError> {
        let email = email.to_owned();
        let candidate = self
            .db
            .run(move |conn| {
                Ok::<_, SessionError>(UserRow::find_by_email_with_version(conn, &email)?)
            })
            .await?
            .map(|(user, version)| Candidate { user, version });
        Ok(classify(candidate.as_ref(), devices))
    }

    /// A turn in this instance's queue of `email`'s attempts in `class`;
    /// 429 when `give_up` comes first.
    pub(super) async fn wait_turn(
        &self,
        email: &str,
        class: &ClientClass,
        give_up: Instant,
    ) -> Result<Turn, SessionError> {
        let places = usize::try_from(self.lockout.max_failures).unwrap_or(1);
        let key = match class {
            ClientClass::Untrusted => format!("{email}\n*"),
            ClientClass::Device(nonce) => format!("{email}\n{nonce}"),
        };
        let wait = give_up.saturating_duration_since(Instant::now());
        self.queues
            .turn(key, places, wait)
            .await
            .ok_or(SessionError::TooManyAttempts(1))
    }

    /// Takes a place in the account's budget for this client's class, waiting
    /// (until `give_up`) while attempts in flight — of other instances, as
    /// this one's are queued already — hold it. Reads the account in the
    /// same step, before any bcrypt work. 429 when the class is locked, or
    /// the wait runs out.
    pub(super) async fn begin_attempt(
        &self,
        email: Option<String>,
        devices: &[Device],
        client: &ClientInfo,
        give_up: Instant,
    ) -> Result<Begun, SessionError> {
        let mut pause = Duration::from_millis(10);
        loop {
            let (email, devices) = (email.clone(), devices.to_vec());
            let (limits, now) = (self.lockout.limits(ATTEMPT_TTL), client.now);
            let start = self
                .db
                .write(move |conn| {
                    let Some(email) = email else {
                        return Ok(Start::Begun(None, ClientClass::Untrusted, None));
                    };
                    let candidate = UserRow::find_by_email_with_version(conn, &email)?
                        .map(|(user, version)| Candidate { user, version });
                    let class = classify(candidate.as_ref(), &devices);
                    Ok::<_, SessionError>(
                        match login_failures::begin(conn, &email, &class, now, limits)? {
                            Attempt::Allowed(id) => Start::Begun(Some(id), class, candidate),
                            Attempt::Busy => Start::Busy,
                            Attempt::Locked(until) => Start::Locked(until),
                        },
                    )
                })
                .await?;
            match start {
                Start::Begun(id, class, candidate) => {
                    let place = id.map(|id| Place {
                        id: Some(id),
                        db: self.db.clone(),
                    });
                    return Ok(Begun {
                        place,
                        class,
                        candidate,
                    });
                }
                Start::Locked(until) => {
                    let millis = (until - now).num_milliseconds().max(0) as u64;
                    return Err(SessionError::TooManyAttempts(millis.div_ceil(1000)));
                }
                Start::Busy if Instant::now() + pause < give_up => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(BUSY_POLL);
                }
                Start::Busy => return Err(SessionError::TooManyAttempts(1)),
            }
        }
    }

    /// A verified failure (a wrong password: `login_failed`; a wrong code:
    /// `mfa_failed`): audited as `kind`, counted for its class (settling its
    /// place), and the class locked once the count reaches the limit.
    pub(super) async fn record_failure(
        &self,
        user: Option<UserRow>,
        email: Option<String>,
        class: ClientClass,
        place: Option<Place>,
        client: ClientInfo,
        kind: AuditKind,
    ) -> Result<(), SessionError> {
        let limits = self.lockout.limits(ATTEMPT_TTL);
        let id = place.as_ref().and_then(|p| p.id()).map(str::to_owned);
        self.db
            .write(move |conn| {
                conn.transaction(|conn| {
                    let locked = match (&email, &id) {
                        (Some(email), Some(id)) => {
                            let now = client.now;
                            login_failures::fail(conn, email, &class, id, now, limits)?
                        }
                        _ => false,
                    };
                    let user_id = user.as_ref().map(|u| &u.id);
                    audit_failure(conn, &client, user_id, kind)?;
                    if locked {
                        audit_failure(conn, &client, user_id, AuditKind::LoginLocked)?;
                    }
                    Ok::<_, SessionError>(())
                })
            })
            .await?;
        if let Some(place) = place {
            place.settled();
        }
        Ok(())
    }
}

/// Writes a `login_failed` or `login_locked` event, about the account if there is one.
fn audit_failure(
    conn: &mut DbConnection,
    client: &ClientInfo,
    user_id: Option<&db::UserId>,
    kind: AuditKind,
) -> Result<(), SessionError> {
    let mut event = client.event(kind);
    if let Some(id) = user_id {
        event = event.user(id);
    }
    event.insert(conn)?;
    Ok(())
}
