//! The second factor's flows (TOTP and recovery codes; the rules without a
//! database are in `src/mfa/`):
//!
//! - **Enrolment**: the current password starts a pending factor; a code
//!   from it confirms it, which sets ten recovery codes, ends every other
//!   session (a version bump, as a password change) and re-keys the caller's.
//! - **Login's second step**: a right password for a user with a factor
//!   leaves a challenge (`login.rs`); a code or a recovery code finishes it.
//! - **Proofs** (a code or a recovery code) are checked under the lockout
//!   of `lockout.rs`, as passwords are: a place in the class's budget is
//!   taken first, a wrong proof is a counted failure, a right one resets the
//!   count. A replayed code (of a step already accepted) is refused and
//!   audited but not counted. A code is spent by a compare-and-swap on the last accepted step,
//!   a recovery code by deleting it, in the transaction of what it allows.
//! - **Managing**: new recovery codes or disabling, each with a proof; an
//!   admin's removal, which revokes the user's sessions.

use std::time::Instant;

use chrono::TimeDelta;
use diesel::Connection;
use secrecy::{ExposeSecret, SecretString};

use super::SessionError;
use super::lockout::{BUSY_WAIT, Begun, Place};
use super::{AuthUser, Issued, Revocations, Sessions, notify};
use crate::auth::ClientInfo;
use crate::db::audit::AuditKind;
use crate::db::login_failures::{self, ClientClass};
use crate::db::mfa as store;
use crate::db::sessions::SessionRow;
use crate::db::users::UserRow;
use crate::db::{DbConnection, UserId};
use crate::devices::Device;
use crate::mail::{Letter, MethodChange, OneTimeToken, token_hash};
use crate::metrics;
use crate::mfa::{Enrolment, Proof};
use crate::tokens::Amr;

/// How long a login waits for its second step.
pub const CHALLENGE_TTL: TimeDelta = TimeDelta::minutes(5);

/// A login that needs its second step: the token that names it. (No
/// `Debug`: it holds the token.)
pub struct MfaChallenge {
    /// The `mfa_token` for `POST /auth/login/mfa`.
    pub token: SecretString,
}

/// How a login ended: signed in, or waiting for the second factor.
pub enum SignIn {
    /// Tokens and cookies.
    Issued(Box<Issued>),
    /// A right password for a user with a second factor.
    MfaRequired(MfaChallenge),
}

/// What a proof allows, done in the transaction that spends it: the
/// connection, the revocations, the user, the client.
type ProofWork = Box<
    dyn FnOnce(
            &mut DbConnection,
            &mut Revocations,
            &UserId,
            &ClientInfo,
        ) -> Result<(), SessionError>
        + Send,
>;

/// What checking a proof found.
enum Checked {
    /// Right: spend it.
    Right(Spend),
    /// A TOTP code of a step already accepted.
    Replayed,
    /// Wrong (a used recovery code is wrong: it is gone).
    Wrong,
}

/// Which factor a proof is checked against.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// The confirmed factor (and the recovery codes).
    Confirmed,
    /// The pending factor an enrolment confirms (TOTP codes only).
    Pending,
}

/// How long a pending factor waits for the code that confirms it.
const PENDING_TTL: TimeDelta = TimeDelta::minutes(10);

/// A proof checked against what is stored, to spend in the transaction of
/// what it allows.
pub(super) enum Spend {
    /// A TOTP code of this time step.
    Step(i64),
    /// The recovery code with this hash.
    Recovery(String),
    /// A code of this step from the pending factor sealed as `secret`:
    /// spending it confirms the factor.
    Confirm { step: i64, secret: String },
}

/// A right proof from a signed-in caller, holding its place in the lockout:
/// [`settle`](Self::settle) it in the transaction of what it allows, then
/// [`settled`](Self::settled) after the commit. (Dropped instead, the place
/// is given back and nothing is spent.)
pub(super) struct Proven {
    spend: Spend,
    user: UserRow,
    class: ClientClass,
    place: Option<Place>,
}

impl Proven {
    /// Spends the proof and resets the class's failure count.
    pub(super) fn settle(
        &self,
        conn: &mut DbConnection,
        client: &ClientInfo,
    ) -> Result<(), SessionError> {
        self.spend.spend(conn, &self.user.id, client)?;
        if let Some(id) = self.place.as_ref().and_then(|p| p.id()) {
            login_failures::succeed(conn, &self.user.email, &self.class, id)?;
        }
        Ok(())
    }

    /// The transaction that settled it committed.
    pub(super) fn settled(self) {
        if let Some(place) = self.place {
            place.settled();
        }
    }
}

impl Spend {
    /// The login's `amr` with this proof.
    pub(super) fn amr(&self) -> Amr {
        match self {
            Self::Step(_) | Self::Confirm { .. } => Amr::PasswordOtp,
            Self::Recovery(_) => Amr::PasswordRecovery,
        }
    }

    /// Spends it; `InvalidCode` when a concurrent request spent it first
    /// (the step was accepted, the recovery code deleted).
    pub(super) fn spend(
        &self,
        conn: &mut DbConnection,
        user_id: &UserId,
        client: &ClientInfo,
    ) -> Result<(), SessionError> {
        let spent = match self {
            Self::Step(step) => store::accept_step(conn, user_id, *step)?,
            Self::Confirm { step, secret } => {
                store::confirm_totp(conn, user_id, secret, *step, client.now)?
            }
            Self::Recovery(hash) => {
                let spent = store::spend_recovery_code(conn, user_id, hash)?;
                if spent {
                    client
                        .event(AuditKind::MfaRecoveryCodeUsed)
                        .user(user_id)
                        .insert(conn)?;
                }
                spent
            }
        };
        if spent {
            Ok(())
        } else {
            Err(SessionError::InvalidCode)
        }
    }
}

impl Sessions {
    /// Leaves the challenge of a verified password for `user_id` at
    /// `version`, in the caller's transaction.
    pub(super) fn challenge(
        conn: &mut DbConnection,
        user_id: &UserId,
        version: i64,
        now: chrono::NaiveDateTime,
    ) -> Result<MfaChallenge, SessionError> {
        let token = OneTimeToken::new();
        store::issue_challenge(
            conn,
            &token.hash,
            user_id,
            version,
            now,
            now + CHALLENGE_TTL,
        )?;
        Ok(MfaChallenge {
            token: token.token.into(),
        })
    }

    /// Starts a pending TOTP factor for the caller, after their current
    /// password; replaces a pending one.
    pub async fn start_totp(
        &self,
        caller: AuthUser,
        current_password: SecretString,
    ) -> Result<Enrolment, SessionError> {
        let user = self
            .check_current_password(&caller, current_password)
            .await?;
        if user.mfa_enabled {
            return Err(SessionError::MfaAlreadyEnabled);
        }
        let enrolment = self.mfa.enrol(&user.id, &user.email);
        let (sealed, now) = (enrolment.sealed.clone(), self.clock.now());
        let started = self
            .db
            .write(move |conn| {
                Ok::<_, SessionError>(store::start_totp(conn, &user.id, &sealed, now)?)
            })
            .await?;
        if !started {
            return Err(SessionError::MfaAlreadyEnabled);
        }
        Ok(enrolment)
    }

    /// Confirms the caller's pending factor with a code from it: ten
    /// recovery codes, every other session ended, and the caller's session
    /// re-keyed with fresh tokens (its `amr` now names the code). Wrong codes
    /// count in the lockout as at a login: a stolen access token must not
    /// buy unlimited guesses at a factor its owner left pending.
    pub async fn confirm_totp(
        &self,
        caller: AuthUser,
        code: SecretString,
        device: Option<String>,
        client: ClientInfo,
    ) -> Result<(Issued, Vec<SecretString>), SessionError> {
        let devices = self.devices(device);
        let proof = Proof::Code(code);
        let proven = self
            .prove(&caller, &proof, Stage::Pending, &devices, &client)
            .await?;
        let (codes, hashes) = self.mfa.recovery_codes();
        let (policy, who, mailer) = (self.policy, caller.clone(), self.mailer.clone());
        let (user, version, generation, ends_at, amr, proven) = self
            .revoking(move |conn, revocations| {
                conn.transaction(|conn| {
                    let (id, now) = (&who.user.id, revocations.now());
                    proven.settle(conn, &client)?;
                    store::replace_recovery_codes(conn, id, &hashes, now)?;
                    let on = Letter::SignInMethodChanged {
                        change: MethodChange::TotpOn,
                        at: now,
                    };
                    notify(mailer.as_ref(), conn, id, &on, now)?;
                    let event = client
                        .event(AuditKind::MfaEnabled)
                        .user(id)
                        .session(&who.session_id);
                    let (version, generation) =
                        rekey_caller(conn, revocations, &who, AuditKind::MfaEnabled)?;
                    event.insert(conn)?;
                    SessionRow::upgrade_amr(conn, &who.session_id, Amr::PasswordOtp.as_stored())?;
                    let session = SessionRow::find(conn, &who.session_id)?
                        .ok_or(SessionError::InvalidToken)?;
                    let user = UserRow::find(conn, id)?.ok_or(SessionError::InvalidToken)?;
                    let (ends_at, amr) = (policy.ends_at(&session), Amr::from_stored(&session.amr));
                    Ok::<_, SessionError>((user, version, generation, ends_at, amr, proven))
                })
            })
            .await?;
        proven.settled();
        self.wake_mail();
        let device = self.device_cookie(&devices, &user.id, version);
        let mut issued = self.issue(user, &caller.session_id, generation, version, ends_at, amr)?;
        issued.device = Some(device);
        Ok((issued, codes))
    }

    /// Finishes a login with its `mfa_token` and a proof; `device` is the
    /// device cookie the client sent.
    pub async fn login_mfa(
        &self,
        mfa_token: SecretString,
        proof: Proof,
        device: Option<String>,
        client: ClientInfo,
    ) -> Result<Issued, SessionError> {
        let method = proof.method();
        let outcome = self.finish_login(mfa_token, proof, device, client).await;
        self.count_login(&outcome, metrics::Login::Succeeded);
        self.count_check(method, &outcome);
        outcome
    }

    async fn finish_login(
        &self,
        mfa_token: SecretString,
        proof: Proof,
        device: Option<String>,
        client: ClientInfo,
    ) -> Result<Issued, SessionError> {
        let (hash, now) = (token_hash(mfa_token.expose_secret()), client.now);
        let peek = hash.clone();
        let (challenge, user) = self
            .db
            .run(move |conn| {
                let Some(challenge) = store::find_challenge(conn, &peek, now)? else {
                    return Ok::<_, SessionError>(None);
                };
                let user = UserRow::find(conn, &challenge.user_id)?;
                Ok(user.map(|user| (challenge, user)))
            })
            .await?
            .ok_or(SessionError::InvalidMfaToken)?;
        let devices = self.devices(device);
        let (begun, _turn) = self.begin_proof(&user.email, &devices, &client).await?;
        let Begun {
            place,
            class,
            candidate,
        } = begun;
        // The account as it is now must be the one that was challenged: at
        // the same version (no password change or sign-out everywhere since),
        // enabled, with its factor.
        let candidate = candidate
            .filter(|c| {
                c.user.id == challenge.user_id
                    && c.version == challenge.token_version
                    && !c.user.disabled
                    && c.user.mfa_enabled
            })
            .ok_or(SessionError::InvalidMfaToken)?;
        let (spend, place) = self
            .judge(
                &candidate.user,
                &proof,
                Stage::Confirmed,
                &class,
                place,
                &client,
            )
            .await?;
        let opening = super::login::Opening {
            email: user.email,
            class,
            place,
        };
        let amr = spend.amr();
        let finish = super::login::Finish {
            amr,
            then: Some(Box::new(move |conn, user_id, client| {
                if !store::spend_challenge(conn, &hash, client.now)? {
                    return Err(SessionError::InvalidMfaToken);
                }
                spend.spend(conn, user_id, client)
            })),
            stale: SessionError::InvalidMfaToken,
        };
        self.open_session(candidate, opening, &devices, client, finish)
            .await
    }

    /// New recovery codes for the caller, with a proof; the old set dies.
    pub async fn regenerate_recovery_codes(
        &self,
        caller: AuthUser,
        proof: Proof,
        device: Option<String>,
        client: ClientInfo,
    ) -> Result<Vec<SecretString>, SessionError> {
        let (codes, hashes) = self.mfa.recovery_codes();
        let work: ProofWork = Box::new(
            move |conn: &mut DbConnection,
                  _: &mut Revocations,
                  id: &UserId,
                  client: &ClientInfo| {
                store::replace_recovery_codes(conn, id, &hashes, client.now)?;
                client
                    .event(AuditKind::MfaRecoveryCodesRegenerated)
                    .user(id)
                    .insert(conn)?;
                Ok(())
            },
        );
        self.with_proof(caller, proof, device, client, work).await?;
        Ok(codes)
    }

    /// Removes the caller's factor and recovery codes, with a proof.
    pub async fn disable_totp(
        &self,
        caller: AuthUser,
        proof: Proof,
        device: Option<String>,
        client: ClientInfo,
    ) -> Result<(), SessionError> {
        let mailer = self.mailer.clone();
        let work: ProofWork = Box::new(
            move |conn: &mut DbConnection,
                  revocations: &mut Revocations,
                  id: &UserId,
                  client: &ClientInfo| {
                store::remove(conn, id)?;
                revocations.changed_user(id);
                client.event(AuditKind::MfaDisabled).user(id).insert(conn)?;
                let off = Letter::SignInMethodChanged {
                    change: MethodChange::TotpOff,
                    at: client.now,
                };
                notify(mailer.as_ref(), conn, id, &off, client.now)
            },
        );
        self.with_proof(caller, proof, device, client, work).await?;
        self.wake_mail();
        Ok(())
    }

    /// An admin (`actor`) removes `user_id`'s second factor: every session
    /// and access token of the user dies with it.
    pub async fn reset_mfa(
        &self,
        actor: UserId,
        user_id: UserId,
        client: ClientInfo,
    ) -> Result<(), SessionError> {
        let mailer = self.mailer.clone();
        self.revoking(move |conn, revocations| {
            conn.transaction(|conn| {
                UserRow::find(conn, &user_id)?.ok_or(SessionError::NotFound)?;
                let removed = store::remove(conn, &user_id)?;
                let event = client
                    .event(AuditKind::MfaReset)
                    .user(&user_id)
                    .actor(&actor);
                revocations.all_for_user_audited(conn, &user_id, None, event)?;
                if removed {
                    let now = client.now;
                    let change = MethodChange::TotpRemovedByAdmin;
                    let letter = Letter::SignInMethodChanged { change, at: now };
                    notify(mailer.as_ref(), conn, &user_id, &letter, now)?;
                }
                Ok::<_, SessionError>(())
            })
        })
        .await?;
        self.wake_mail();
        Ok(())
    }

    /// Runs `then` in one transaction with spending the caller's proof, under
    /// the lockout: a wrong proof is a failure of the client's class, a right
    /// one resets the class's count.
    async fn with_proof(
        &self,
        caller: AuthUser,
        proof: Proof,
        device: Option<String>,
        client: ClientInfo,
        then: ProofWork,
    ) -> Result<(), SessionError> {
        let devices = self.devices(device);
        let proven = self
            .prove(&caller, &proof, Stage::Confirmed, &devices, &client)
            .await?;
        let proven = self
            .revoking(move |conn, revocations| {
                conn.transaction(|conn| {
                    proven.settle(conn, &client)?;
                    then(conn, revocations, &proven.user.id, &client)?;
                    Ok::<_, SessionError>(proven)
                })
            })
            .await?;
        proven.settled();
        Ok(())
    }

    /// The caller's proof, judged under the lockout (a place in the budget of
    /// the client's class, taken first; a wrong proof recorded as a failure),
    /// against their confirmed factor or — for an enrolment — the pending one;
    /// counted in the metrics.
    pub(super) async fn prove(
        &self,
        caller: &AuthUser,
        proof: &Proof,
        stage: Stage,
        devices: &[Device],
        client: &ClientInfo,
    ) -> Result<Proven, SessionError> {
        let proven = self
            .judge_caller(caller, proof, stage, devices, client)
            .await;
        self.count_check(proof.method(), &proven);
        proven
    }

    async fn judge_caller(
        &self,
        caller: &AuthUser,
        proof: &Proof,
        stage: Stage,
        devices: &[Device],
        client: &ClientInfo,
    ) -> Result<Proven, SessionError> {
        let email = caller.user.email.clone();
        let (begun, _turn) = self.begin_proof(&email, devices, client).await?;
        let Begun {
            place,
            class,
            candidate,
        } = begun;
        let user = candidate
            .map(|c| c.user)
            .filter(|user| user.id == caller.user.id)
            .ok_or(SessionError::InvalidToken)?;
        match stage {
            Stage::Confirmed if !user.mfa_enabled => return Err(SessionError::MfaNotEnabled),
            Stage::Pending if user.mfa_enabled => return Err(SessionError::MfaAlreadyEnabled),
            _ => {}
        }
        let (spend, place) = self
            .judge(&user, proof, stage, &class, place, client)
            .await?;
        Ok(Proven {
            spend,
            user,
            class,
            place,
        })
    }

    /// A turn and a place in the budget of `email`'s class for this client,
    /// as a password attempt takes them.
    async fn begin_proof(
        &self,
        email: &str,
        devices: &[Device],
        client: &ClientInfo,
    ) -> Result<(Begun, super::queue::Turn), SessionError> {
        let give_up = Instant::now() + BUSY_WAIT;
        let class = self.queue_class(email, devices).await?;
        let turn = self.wait_turn(email, &class, give_up).await?;
        let begun = self
            .begin_attempt(Some(email.to_owned()), devices, client, give_up)
            .await?;
        Ok((begun, turn))
    }

    /// The verdict on `proof` from `user`, holding `place` in `class`'s
    /// budget: what to spend (and the place, to settle with it); or a wrong
    /// proof recorded as a failure; or a replay, refused.
    async fn judge(
        &self,
        user: &UserRow,
        proof: &Proof,
        stage: Stage,
        class: &ClientClass,
        place: Option<Place>,
        client: &ClientInfo,
    ) -> Result<(Spend, Option<Place>), SessionError> {
        match self.check_proof(&user.id, proof, stage).await? {
            Checked::Right(spend) => Ok((spend, place)),
            Checked::Replayed => Err(self.replayed(&user.id, client.clone()).await),
            Checked::Wrong => {
                let (who, email) = (Some(user.clone()), Some(user.email.clone()));
                let (class, client) = (class.clone(), client.clone());
                self.record_failure(who, email, class, place, client, AuditKind::MfaFailed)
                    .await?;
                Err(SessionError::InvalidCode)
            }
        }
    }

    /// A code of a step already accepted: refused and audited, but not a
    /// failure of the lockout — it proves the secret was used, and one code
    /// sent twice at once (two tabs, a double click) must not lock anyone out.
    async fn replayed(&self, user_id: &UserId, client: ClientInfo) -> SessionError {
        let id = user_id.clone();
        let audited = self
            .db
            .write(move |conn| {
                client.event(AuditKind::MfaFailed).user(&id).insert(conn)?;
                Ok::<_, SessionError>(())
            })
            .await;
        match audited {
            Ok(()) => SessionError::InvalidCode,
            Err(e) => e,
        }
    }

    /// What `proof` would spend for `user_id`'s confirmed factor, or why it
    /// is refused: a code of no step near now, a recovery code the user does
    /// not have, are wrong; a code of a step at or before the last accepted
    /// one is a replay.
    async fn check_proof(
        &self,
        user_id: &UserId,
        proof: &Proof,
        stage: Stage,
    ) -> Result<Checked, SessionError> {
        let id = user_id.clone();
        match (proof, stage) {
            (Proof::Code(code), stage) => {
                let now = self.clock.now();
                let factor = self
                    .db
                    .run(move |conn| Ok::<_, SessionError>(store::find_totp(conn, &id)?))
                    .await?
                    .filter(|factor| match stage {
                        Stage::Confirmed => factor.confirmed_at.is_some(),
                        Stage::Pending => {
                            factor.confirmed_at.is_none() && now < factor.created_at + PENDING_TTL
                        }
                    });
                let Some(factor) = factor else {
                    return Ok(Checked::Wrong);
                };
                let Some(secret) = self.mfa.open(user_id, &factor.secret) else {
                    // Not the user's doing: an outage, not a failure to count.
                    log::warn!(
                        "the TOTP secret of user {user_id} does not open: was the refresh \
                         secret changed? An admin can remove the factor"
                    );
                    return Err(SessionError::FactorUnreadable);
                };
                let Some(step) = secret.step_of(code.expose_secret(), self.clock.timestamp())
                else {
                    return Ok(Checked::Wrong);
                };
                Ok(match stage {
                    Stage::Pending => Checked::Right(Spend::Confirm {
                        step,
                        secret: factor.secret,
                    }),
                    Stage::Confirmed if step <= factor.last_step => Checked::Replayed,
                    Stage::Confirmed => Checked::Right(Spend::Step(step)),
                })
            }
            (Proof::Recovery(_), Stage::Pending) => Ok(Checked::Wrong),
            (Proof::Recovery(code), Stage::Confirmed) => {
                let Some(hash) = self.mfa.recovery_hash(code.expose_secret()) else {
                    return Ok(Checked::Wrong);
                };
                let peek = hash.clone();
                let found = self
                    .db
                    .run(move |conn| {
                        Ok::<_, SessionError>(store::has_recovery_code(conn, &id, &peek)?)
                    })
                    .await?;
                Ok(if found {
                    Checked::Right(Spend::Recovery(hash))
                } else {
                    Checked::Wrong
                })
            }
        }
    }

    fn count_check<T>(&self, method: &'static str, outcome: &Result<T, SessionError>) {
        match outcome {
            Ok(_) => self.metrics.mfa_check(method, true),
            Err(SessionError::InvalidCode) => self.metrics.mfa_check(method, false),
            Err(_) => {}
        }
    }
}

/// Ends every session of the caller's user but the caller's, which moves to
/// the new token version with a new generation, for `cause`; returns the
/// version and the generation. `InvalidToken` when another change (a
/// password change, a sign-out everywhere) committed since the caller's
/// token was checked. In the caller's transaction, beside the event.
pub(super) fn rekey_caller(
    conn: &mut DbConnection,
    revocations: &mut Revocations,
    who: &AuthUser,
    cause: AuditKind,
) -> Result<(i64, i64), SessionError> {
    let (id, sid) = (&who.user.id, &who.session_id);
    let version = revocations.all_for_user(conn, id, Some(sid), cause.as_str())?;
    if version != who.user.version + 1 {
        return Err(SessionError::InvalidToken);
    }
    let generation = SessionRow::rekey(conn, sid, version, revocations.now())?
        .ok_or(SessionError::InvalidToken)?;
    Ok((version, generation))
}
