//! Refresh: rotating the refresh token with a compare-and-swap, answering the
//! predecessor within grace with the same successor, and treating any other
//! spent token as reuse (which revokes the session through `revoke.rs`).

use chrono::NaiveDateTime;

use super::SessionError;
use super::{Issued, Revocations, Sessions};
use crate::api::GrantFailure;
use crate::auth::ClientInfo;
use crate::db::audit::AuditKind;
use crate::db::sessions::{SessionRow, SessionWithUser};
use crate::db::{DbConnection, SessionId};
use crate::metrics;
use crate::tokens::Amr;

/// What the rotation step decided.
enum Rotation {
    /// Hand out generation `generation` (new, or the same successor in grace).
    Granted {
        found: Box<SessionWithUser>,
        generation: i64,
        ends_at: NaiveDateTime,
        /// A new generation (false: the successor handed out again in grace).
        rotated: bool,
    },
    /// A spent token came back: the session has been revoked.
    Reused,
}

impl Sessions {
    /// Rotates the refresh token `token` (the cookie's value).
    pub async fn refresh(
        &self,
        token: Option<String>,
        client: ClientInfo,
    ) -> Result<Issued, SessionError> {
        let outcome = self.rotate(token, client).await;
        let counted = match &outcome {
            Ok((_, true)) => Some(metrics::Refresh::Rotated),
            Ok((_, false)) => Some(metrics::Refresh::Grace),
            Err(SessionError::InvalidGrant(GrantFailure::Reused)) => Some(metrics::Refresh::Reused),
            Err(e) if e.is_outage() => None, // an outage, not an outcome
            Err(_) => Some(metrics::Refresh::Refused),
        };
        if let Some(outcome) = counted {
            self.metrics.refresh(outcome);
        }
        outcome.map(|(issued, _)| issued)
    }

    /// The refresh itself; with whether a new generation was issued.
    async fn rotate(
        &self,
        token: Option<String>,
        client: ClientInfo,
    ) -> Result<(Issued, bool), SessionError> {
        let token = token.ok_or(SessionError::InvalidGrant(GrantFailure::Missing))?;
        let (session_id, generation) = self
            .refresh_key
            .parse(&token)
            .ok_or(SessionError::InvalidGrant(GrantFailure::Unknown))?;
        let (policy, sid) = (self.policy, session_id.clone());
        let rotation = match self
            .rotate_in_one_statement(&session_id, generation)
            .await?
        {
            Some(granted) => granted,
            None => {
                self.revoking(move |conn, revocations| {
                    rotate(policy, conn, revocations, &sid, generation, &client)
                })
                .await?
            }
        };
        match rotation {
            Rotation::Granted {
                found,
                generation,
                ends_at,
                rotated,
            } => {
                let amr = Amr::from_stored(&found.session.amr);
                let issued = self.issue(
                    found.user,
                    &session_id,
                    generation,
                    found.user_version,
                    ends_at,
                    amr,
                )?;
                Ok((issued, rotated))
            }
            Rotation::Reused => Err(SessionError::InvalidGrant(GrantFailure::Reused)),
        }
    }
}

impl Sessions {
    /// On PostgreSQL, the common case in one round trip: the token is the
    /// live generation of a live session, and the compare-and-swap wins
    /// (`SessionRow::rotate_if_live`), sent by the async driver where the
    /// connection allows it (`db/async_pg.rs`), else by Diesel on the
    /// blocking pool. `None` otherwise — SQLite, whose writes cost no round
    /// trip, or anything else to decide (grace, reuse, refusal, a lost race)
    /// — for [`rotate`], which reads and decides. Running twice (a dead
    /// connection's retry) is safe: a first statement that did commit makes
    /// the second find nothing to move, and `rotate` then answers the same
    /// successor, in grace.
    async fn rotate_in_one_statement(
        &self,
        sid: &SessionId,
        generation: i64,
    ) -> Result<Option<Rotation>, SessionError> {
        if !self.db.is_postgres() {
            return Ok(None);
        }
        let (now, idle_ttl) = (self.clock.now(), self.policy.idle_ttl);
        let moved = match self.db.async_pg() {
            Some(pg) => {
                SessionRow::rotate_if_live_async(pg, sid, generation, now, now - idle_ttl).await?
            }
            None => {
                let sid = sid.clone();
                self.db
                    .write_one(move |conn| match conn {
                        DbConnection::Pg(pg) => {
                            SessionRow::rotate_if_live(pg, &sid, generation, now, now - idle_ttl)
                                .map_err(SessionError::from)
                        }
                        DbConnection::Sqlite(_) => Ok(None),
                    })
                    .await?
            }
        };
        Ok(moved.map(|found| {
            let ends_at = found.session.expires_at.min(now + idle_ttl);
            Rotation::Granted {
                generation: found.session.generation,
                found: Box::new(found),
                ends_at,
                rotated: true,
            }
        }))
    }
}

fn rotate(
    policy: super::SessionPolicy,
    conn: &mut DbConnection,
    revocations: &mut Revocations,
    sid: &SessionId,
    generation: i64,
    client: &ClientInfo,
) -> Result<Rotation, SessionError> {
    // Three reads suffice: a lost compare-and-swap means someone else moved the
    // session, and the next read sees why (predecessor, revoked, or reuse).
    for _ in 0..3 {
        let found = SessionRow::find_with_user(conn, sid)?
            .ok_or(SessionError::InvalidGrant(GrantFailure::Unknown))?;
        let now = revocations.now();
        if let Some(refusal) = policy.refusal(&found, now) {
            return Err(SessionError::InvalidGrant(refusal));
        }
        let session = &found.session;
        if generation == session.generation {
            if SessionRow::rotate(conn, sid, generation, now)? {
                let ends_at = session.expires_at.min(now + policy.idle_ttl);
                return Ok(Rotation::Granted {
                    found: Box::new(found),
                    generation: generation + 1,
                    ends_at,
                    rotated: true,
                });
            }
            continue;
        }
        if generation == session.generation - 1 && policy.in_grace(session.rotated_at, now) {
            let (generation, ends_at) = (session.generation, policy.ends_at(session));
            return Ok(Rotation::Granted {
                found: Box::new(found),
                generation,
                ends_at,
                rotated: false,
            });
        }
        if generation < session.generation {
            diesel::Connection::transaction(conn, |conn| {
                revocations.session(conn, sid, None, AuditKind::RefreshReused)?;
                client
                    .event(AuditKind::RefreshReused)
                    .user(&found.session.user_id)
                    .session(sid)
                    .insert(conn)
            })?;
            return Ok(Rotation::Reused);
        }
        return Err(SessionError::InvalidGrant(GrantFailure::Unknown));
    }
    log::warn!("refresh of one session lost its compare-and-swap three times");
    Err(SessionError::Contended)
}
