//! Logging in: the lockout per account and client class (`lockout.rs`:
//! a place in the class's budget is taken before bcrypt, so a locked class
//! costs no hash and parallel guesses cannot exceed the limit), the
//! credential check (with the dummy hash, so unknown emails, wrong passwords
//! and disabled users fail alike and take as long), the new session — only
//! created if the token version it was checked against is still the current
//! one — with its device cookie, and a rehash when the cost has changed.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Instant;

use chrono::{NaiveDateTime, TimeDelta};
use diesel::Connection;
use secrecy::{ExposeSecret, SecretString};

use super::SessionError;
use super::lockout::{BUSY_WAIT, Begun, Candidate, Place};
use super::mfa::SignIn;
use super::{Issued, Sessions};
use crate::api::Credentials;
use crate::auth::{ClientInfo, email};
use crate::db::audit::{AuditKind, AuditRow};
use crate::db::login_failures::{self, ClientClass};
use crate::db::sessions::NewSession;
use crate::db::token_versions::TokenVersion;
use crate::db::users::UserRow;
use crate::db::{self, DbConnection, SessionId, UserId};
use crate::devices::{Device, DeviceToken, cookie::MAX_ENTRIES, device_name};
use crate::mail::Letter;
use crate::tokens::Amr;

use crate::metrics;

/// A password verified against a hash made at another cost, to store again
/// at the configured one.
struct Rehash {
    user_id: UserId,
    old: SecretString,
    password: SecretString,
}

/// The users whose hash this instance is replacing now: parallel logins of
/// one account rehash once.
#[derive(Debug, Default)]
pub struct Rehashing(Mutex<HashSet<UserId>>);

impl Sessions {
    /// Checks credentials and opens a new session — or, for a user with a
    /// second factor, leaves the challenge its second step finishes
    /// (`mfa.rs`); `device` is the device cookie the client sent, if any.
    pub async fn login(
        &self,
        credentials: Credentials,
        device: Option<String>,
        client: ClientInfo,
    ) -> Result<SignIn, SessionError> {
        let devices = self.devices(device);
        let outcome = match self.attempt(credentials, &devices, client).await {
            Ok((issued, rehash)) => {
                // After the attempt's turn and place are given back.
                if let Some(rehash) = rehash {
                    self.rehash(rehash).await;
                }
                Ok(issued)
            }
            Err(error) => Err(error),
        };
        let success = match &outcome {
            Ok(SignIn::MfaRequired(_)) => metrics::Login::MfaRequired,
            _ => metrics::Login::Succeeded,
        };
        self.count_login(&outcome, success);
        outcome
    }

    /// Counts a login attempt (a password, or a second step) by how it
    /// ended; `success` is what a success counts as. An outage is not an
    /// outcome.
    pub(super) fn count_login<T>(
        &self,
        outcome: &Result<T, SessionError>,
        success: metrics::Login,
    ) {
        match outcome {
            Ok(_) => self.metrics.login(success),
            Err(e) if e.is_outage() => {}
            Err(SessionError::TooManyAttempts(_)) => self.metrics.login(metrics::Login::Locked),
            Err(_) => self.metrics.login(metrics::Login::Failed),
        }
    }

    /// One attempt, from its turn in the queue to its verdict.
    async fn attempt(
        &self,
        credentials: Credentials,
        devices: &[Device],
        client: ClientInfo,
    ) -> Result<(SignIn, Option<Rehash>), SessionError> {
        let email = email::normalize(&credentials.email).ok();
        let give_up = Instant::now() + BUSY_WAIT;
        // Held until the verdict is recorded: the next attempt of this
        // account and class in this instance goes when this one is done.
        let _turn = match &email {
            Some(email) => {
                let class = self.queue_class(email, devices).await?;
                Some(self.wait_turn(email, &class, give_up).await?)
            }
            None => None,
        };
        let begun = self
            .begin_attempt(email.clone(), devices, &client, give_up)
            .await?;
        self.check(begun, credentials, email, devices, client).await
    }

    /// Checks the password of an attempt that holds its place, and records
    /// the verdict.
    async fn check(
        &self,
        begun: Begun,
        credentials: Credentials,
        email: Option<String>,
        devices: &[Device],
        client: ClientInfo,
    ) -> Result<(SignIn, Option<Rehash>), SessionError> {
        let Begun {
            place,
            class,
            candidate,
        } = begun;
        let password = credentials.password.into_secret();
        let hash = candidate
            .as_ref()
            .map_or_else(|| self.dummy_hash.clone(), |c| c.user.password_hash.clone());
        // (An error drops the place, which gives it back.)
        let matches = self
            .hasher
            .verify_padded(password.clone(), hash.clone(), self.dummy_hash.clone())
            .await?;
        match (candidate, email) {
            (Some(candidate), Some(_))
                if matches
                    && !candidate.user.disabled
                    && self.require_verified_email
                    && !candidate.user.email_verified =>
            {
                // The right password: not a failure. The place is given
                // back as it drops, and nothing else happens.
                Err(SessionError::EmailNotVerified)
            }
            (Some(candidate), Some(email)) if matches && !candidate.user.disabled => {
                let rehash = self
                    .hasher
                    .needs_rehash(hash.expose_secret())
                    .then(|| Rehash {
                        user_id: candidate.user.id.clone(),
                        old: hash,
                        password,
                    });
                if candidate.user.mfa_enabled {
                    // Not a failure, and not yet a success: the class's count
                    // stays (a right password does not buy the second step
                    // more tries), and the place is given back as it drops.
                    let (id, version, now) = (candidate.user.id, candidate.version, client.now);
                    let challenge = self
                        .db
                        .write(move |conn| Self::challenge(conn, &id, version, now))
                        .await?;
                    return Ok((SignIn::MfaRequired(challenge), rehash));
                }
                let opening = Opening {
                    email,
                    class,
                    place,
                };
                let finish = Finish {
                    amr: Amr::Password,
                    then: None,
                    stale: SessionError::InvalidCredentials,
                };
                let issued = self
                    .open_session(candidate, opening, devices, client, finish)
                    .await?;
                Ok((SignIn::Issued(Box::new(issued)), rehash))
            }
            (candidate, email) => {
                let user = candidate.map(|c| c.user);
                let kind = AuditKind::LoginFailed;
                self.record_failure(user, email, class, place, client, kind)
                    .await?;
                Err(SessionError::InvalidCredentials)
            }
        }
    }

    /// Stores `rehash`'s password at the configured cost, unless this
    /// instance is already doing so for the user; a failure leaves the old
    /// hash, which still works.
    async fn rehash(&self, rehash: Rehash) {
        let Rehash {
            user_id,
            old,
            password,
        } = rehash;
        {
            let mut busy = self.rehashing.0.lock().unwrap_or_else(|e| e.into_inner());
            if !busy.insert(user_id.clone()) {
                return;
            }
        }
        if let Ok(new) = self.hasher.hash(password).await {
            let id = user_id.clone();
            let stored = self
                .db
                .write(move |conn| {
                    Ok::<_, SessionError>(UserRow::rehash(conn, &id, old.expose_secret(), &new)?)
                })
                .await;
            if let Err(e) = stored {
                log::warn!("cannot store a rehashed password: {e}");
            }
        }
        let mut busy = self.rehashing.0.lock().unwrap_or_else(|e| e.into_inner());
        busy.remove(&user_id);
    }

    /// Opens the session of a verified login, in one transaction that also
    /// resets the class's failure count (settling the attempt's place), notes
    /// a new device (unless this is the account's first sign-in), and checks
    /// that the token version is still the one verified: a password change
    /// (which bumps it) or logout-all that committed meanwhile wins, and this
    /// login fails (with `finish.stale`). `finish.then` runs first in the
    /// same transaction: a second step spends its challenge and proof there,
    /// a passkey records its use. The device cookie then names this
    /// account (first) and the others the browser's cookie named.
    pub(super) async fn open_session(
        &self,
        candidate: Candidate,
        opening: Opening,
        devices: &[Device],
        client: ClientInfo,
        finish: Finish,
    ) -> Result<Issued, SessionError> {
        let (session_id, max_age) = (SessionId::new(), self.policy.max_age);
        let sid = session_id.clone();
        let Candidate { user, version } = candidate;
        let user_id = user.id.clone();
        let seen = devices.iter().find(|d| d.user_id == user.id).cloned();
        let new_device = seen.is_none();
        let Opening {
            email,
            class,
            place,
        } = opening;
        let attempt = place.as_ref().and_then(|p| p.id()).map(str::to_owned);
        let now = client.now;
        let Finish { amr, then, stale } = finish;
        // Only to an address its owner proved: whoever registered someone
        // else's address cannot mail them a notice at every login.
        let mailer = self.mailer.clone().filter(|_| user.email_verified);
        let address = user.email.clone();
        let expires_at = self
            .db
            .write(move |conn| {
                conn.transaction(|conn| {
                    if let Some(then) = then {
                        then(conn, &user_id, &client)?;
                    }
                    // The account's very first sign-in is from a new device
                    // by definition: nothing to point out.
                    let first = !AuditRow::any(conn, &user_id, AuditKind::LoginSucceeded)?;
                    let new = NewLogin {
                        version,
                        now,
                        max_age,
                        amr,
                    };
                    let expires_at = insert_session(conn, &sid, &user_id, new, &client)?;
                    if !still_current(conn, &user_id, version)? {
                        // What the login checked no longer holds.
                        return Err(stale);
                    }
                    if let Some(id) = &attempt {
                        login_failures::succeed(conn, &email, &class, id)?;
                    }
                    let notice = new_device && !first;
                    if notice {
                        client
                            .event(AuditKind::LoginNewDevice)
                            .user(&user_id)
                            .session(&sid)
                            .insert(conn)?;
                        if let Some(mailer) = &mailer {
                            let letter = Letter::NewSignIn {
                                device: device_name(client.user_agent.as_deref()),
                                ip: client.ip.clone(),
                                at: now,
                            };
                            mailer.post(conn, &address, &letter, now)?;
                        }
                    }
                    Ok((expires_at, notice))
                })
            })
            .await?;
        let (expires_at, noticed) = expires_at;
        if let Some(mailer) = self.mailer.as_ref().filter(|_| noticed) {
            mailer.wake();
        }
        if let Some(place) = place {
            place.settled();
        }
        let ends_at = expires_at.min(now + self.policy.idle_ttl);
        let device = self.device_cookie(devices, &user.id, version);
        let mut issued = self.issue(user, &session_id, 1, version, ends_at, amr)?;
        issued.device = Some(device);
        Ok(issued)
    }

    /// The device cookie of a client that just proved it is `user_id` at
    /// `version` (a login, a password change): its entry for that account
    /// first — the same nonce if `devices` (what the client sent) had one,
    /// with the current version — then the other accounts it named.
    pub(super) fn device_cookie(
        &self,
        devices: &[Device],
        user_id: &UserId,
        version: i64,
    ) -> DeviceToken {
        let this = match devices.iter().find(|d| d.user_id == *user_id) {
            Some(device) => Device {
                version,
                ..device.clone()
            },
            None => Device::new(user_id.clone(), version),
        };
        let others = devices.iter().filter(|d| d.user_id != *user_id).cloned();
        let entries: Vec<Device> = std::iter::once(this)
            .chain(others)
            .take(MAX_ENTRIES)
            .collect();
        self.device_key.issue(&entries)
    }

    /// The entries of a device cookie the client sent (none when absent or
    /// not made here).
    pub fn devices(&self, cookie: Option<String>) -> Vec<Device> {
        cookie.map_or_else(Vec::new, |value| self.device_key.parse(&value))
    }
}

/// What a successful attempt settles: its class's count and its place.
pub(super) struct Opening {
    pub email: String,
    pub class: ClientClass,
    pub place: Option<Place>,
}

/// Work a verified login does in the transaction that opens its session,
/// before it: on the connection, for the user, from the client.
pub(super) type FinishWork =
    Box<dyn FnOnce(&mut DbConnection, &db::UserId, &ClientInfo) -> Result<(), SessionError> + Send>;

/// How a verified login ends: the methods it proved, the work of its
/// transaction (spending a second step's challenge and proof, recording a
/// passkey's use), and what it answers if the account changed since it was
/// checked.
pub(super) struct Finish {
    pub amr: Amr,
    pub then: Option<FinishWork>,
    pub stale: SessionError,
}

/// A new session's numbers: the user's token version, when, how long at
/// most, and how the login was authenticated.
pub(super) struct NewLogin {
    pub version: i64,
    pub now: NaiveDateTime,
    pub max_age: TimeDelta,
    pub amr: Amr,
}

/// Inserts a new session (generation 1) of `user_id`, with its
/// `login_succeeded` event; returns when it ends at the latest.
pub(super) fn insert_session(
    conn: &mut DbConnection,
    sid: &SessionId,
    user_id: &db::UserId,
    new: NewLogin,
    client: &ClientInfo,
) -> Result<NaiveDateTime, SessionError> {
    let NewLogin {
        version,
        now,
        max_age,
        amr,
    } = new;
    let expires_at = now + max_age;
    NewSession {
        id: sid,
        user_id,
        token_version: version,
        generation: 1,
        created_at: now,
        last_refreshed_at: now,
        expires_at,
        user_agent: client.user_agent.as_deref(),
        ip: client.ip.as_deref(),
        amr: amr.as_stored(),
    }
    .insert(conn)?;
    client
        .event(AuditKind::LoginSucceeded)
        .user(user_id)
        .session(sid)
        .detail(amr.as_stored())
        .insert(conn)?;
    Ok(expires_at)
}

impl Sessions {
    /// Opens a session of `user_id` without checking a password: only test
    /// mode's `POST /test/users` calls this, for the user it just created.
    pub async fn open_session_unchecked(
        &self,
        user_id: db::UserId,
        client: ClientInfo,
    ) -> Result<Issued, SessionError> {
        let (session_id, max_age, now) = (SessionId::new(), self.policy.max_age, self.clock.now());
        let sid = session_id.clone();
        let (user, version, expires_at) = self
            .db
            .write(move |conn| {
                conn.transaction(|conn| {
                    let user = UserRow::find(conn, &user_id)?.ok_or(SessionError::NotFound)?;
                    let version = TokenVersion::current(conn, &user_id)?;
                    let new = NewLogin {
                        version,
                        now,
                        max_age,
                        amr: Amr::Password,
                    };
                    let expires_at = insert_session(conn, &sid, &user_id, new, &client)?;
                    Ok::<_, SessionError>((user, version, expires_at))
                })
            })
            .await?;
        let ends_at = expires_at.min(now + self.policy.idle_ttl);
        self.issue(user, &session_id, 1, version, ends_at, Amr::Password)
    }
}

/// Whether the user is still enabled at the verified token version. Every
/// password change bumps the version in its own transaction, so an unchanged
/// version also means the verified password is still the current one (a
/// rehash, the same password at another cost, keeps it).
fn still_current(
    conn: &mut DbConnection,
    user_id: &db::UserId,
    version: i64,
) -> Result<bool, SessionError> {
    let Some(user) = UserRow::find(conn, user_id)? else {
        return Ok(false);
    };
    Ok(!user.disabled && TokenVersion::current(conn, user_id)? == version)
}
