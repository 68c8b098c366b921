//! Passkeys' flows (the relying party is `src/passkeys/`): registering one
//! (Bearer), listing, renaming and removing the caller's, and signing in with
//! one. Each ceremony's state is kept in the database between its two halves
//! (`db/passkeys.rs`): single use — finishing takes it, whether the
//! credential then verifies or not — and five minutes long, so any instance
//! finishes what another started, and a replayed response finds no challenge.
//!
//! A passkey sign-in opens a session as a password login does (`login.rs`:
//! the device cookie, the new-device notice, the version check), with
//! `amr: ["hwk"]`: a passkey with user verification is two factors, so a
//! user with TOTP is not asked for a code. Disabled users are refused, and
//! every failure answers the same `invalid_credentials`.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::Connection;
use secrecy::{ExposeSecret, SecretString};
use webauthn_rs::prelude::{Passkey, PublicKeyCredential, RegisterPublicKeyCredential};

use super::lockout::{Candidate, classify};
use super::login::{Finish, Opening};
use super::{AuthUser, Issued, SessionError, Sessions, notify};
use crate::auth::{ClientInfo, email};
use crate::db::audit::AuditKind;
use crate::db::passkeys::{self as store, Ceremony, CeremonyRow, NewPasskey, PasskeyRow};
use crate::db::users::UserRow;
use crate::db::{DbConnection, UserId};
use crate::devices::device_name;
use crate::mail::{Letter, MethodChange, OneTimeToken, token_hash};
use crate::metrics;
use crate::passkeys::{PasskeyError, RelyingParty, Started, credential_id};
use crate::tokens::Amr;

/// How long a ceremony waits for its second half.
pub const CEREMONY_TTL: TimeDelta = TimeDelta::minutes(5);

/// The longest passkey name, in characters.
pub const NAME_MAX: usize = 64;

/// The most passkeys one account keeps (each is listed to the browser at a
/// sign-in with its email).
pub const MAX_PER_USER: usize = 20;

/// A ceremony's first half, for the client: its id and the browser's
/// options. (No `Debug`: the id finishes the ceremony.)
pub struct CeremonyStart {
    /// What the second half names.
    pub ceremony_id: SecretString,
    /// The options for `navigator.credentials`.
    pub options: serde_json::Value,
}

impl Sessions {
    /// Whether passkeys are on (a relying party could be named).
    pub fn passkeys_on(&self) -> bool {
        self.relying_party.is_some()
    }

    fn relying_party(&self) -> Result<&RelyingParty, SessionError> {
        self.relying_party.as_deref().ok_or(SessionError::NotFound)
    }

    /// Keeps `started`'s state as a ceremony of `kind` bound to `user_id`.
    async fn keep(
        &self,
        started: Started,
        kind: Ceremony,
        user_id: Option<UserId>,
    ) -> Result<CeremonyStart, SessionError> {
        let token = OneTimeToken::new();
        let (hash, state, now) = (token.hash, started.state, self.clock.now());
        self.db
            .write(move |conn| {
                let expires_at = now + CEREMONY_TTL;
                store::begin(conn, &hash, kind, user_id.as_ref(), &state, now, expires_at)?;
                Ok::<_, SessionError>(())
            })
            .await?;
        Ok(CeremonyStart {
            ceremony_id: token.token.into(),
            options: started.options,
        })
    }

    /// Takes the ceremony of `kind` that `ceremony_id` names (it is spent,
    /// whatever follows); `None` when unknown, expired or spent.
    async fn take(
        &self,
        ceremony_id: &SecretString,
        kind: Ceremony,
    ) -> Result<Option<CeremonyRow>, SessionError> {
        let (hash, now) = (token_hash(ceremony_id.expose_secret()), self.clock.now());
        self.db
            .write(move |conn| {
                conn.transaction(|conn| Ok::<_, SessionError>(store::take(conn, &hash, kind, now)?))
            })
            .await
    }

    /// The first half of registering a passkey for the caller, after their
    /// current password: a stolen access token alone must not add a way in
    /// that outlives it.
    pub async fn start_passkey_registration(
        &self,
        caller: AuthUser,
        current_password: SecretString,
    ) -> Result<CeremonyStart, SessionError> {
        let rp = self.relying_party()?;
        self.check_current_password(&caller, current_password)
            .await?;
        let id = caller.user.id.clone();
        let existing = self
            .db
            .run(move |conn| Ok::<_, SessionError>(PasskeyRow::list(conn, &id)?))
            .await?
            .into_iter()
            .map(|row| row.credential_id)
            .collect::<Vec<_>>();
        let started = rp
            .start_registration(&caller.user.id, &caller.user.email, &existing)
            .map_err(passkey_refused)?;
        self.keep(started, Ceremony::Register, Some(caller.user.id.clone()))
            .await
    }

    /// The second half: verifies the browser's `credential` and stores the
    /// passkey as `name` (by default the device's name).
    pub async fn finish_passkey_registration(
        &self,
        caller: AuthUser,
        ceremony_id: SecretString,
        name: Option<String>,
        credential: RegisterPublicKeyCredential,
        client: ClientInfo,
    ) -> Result<PasskeyRow, SessionError> {
        let rp = self.relying_party()?;
        let ceremony = self
            .take(&ceremony_id, Ceremony::Register)
            .await?
            .filter(|c| c.user_id.as_ref() == Some(&caller.user.id))
            .ok_or(SessionError::InvalidCredential)?;
        let passkey = rp
            .finish_registration(&ceremony.state, &credential)
            .map_err(|e| match e {
                PasskeyError::State => unreadable(e),
                e => {
                    log::debug!("passkey registration refused: {e}");
                    SessionError::InvalidCredential
                }
            })?;
        let name = passkey_name(name, &client)?;
        let stored =
            serde_json::to_string(&passkey).map_err(|_| SessionError::InvalidCredential)?;
        let (id, cred_id) = (uuid::Uuid::new_v4().to_string(), credential_id(&passkey));
        let (user_id, mailer) = (caller.user.id.clone(), self.mailer.clone());
        let added = self
            .db
            .write(move |conn| {
                conn.transaction(|conn| {
                    let new = NewPasskey {
                        id: &id,
                        user_id: &user_id,
                        credential_id: &cred_id,
                        name: &name,
                        credential: &stored,
                        created_at: client.now,
                    };
                    let full = PasskeyRow::list(conn, &user_id)?.len() >= MAX_PER_USER;
                    if full || !new.insert(conn)? {
                        return Err(SessionError::InvalidCredential);
                    }
                    client
                        .event(AuditKind::PasskeyAdded)
                        .user(&user_id)
                        .insert(conn)?;
                    let change = MethodChange::PasskeyAdded(name.clone());
                    let letter = Letter::SignInMethodChanged {
                        change,
                        at: client.now,
                    };
                    notify(mailer.as_ref(), conn, &user_id, &letter, client.now)?;
                    PasskeyRow::find(conn, &user_id, &id)?.ok_or(SessionError::NotFound)
                })
            })
            .await?;
        self.wake_mail();
        Ok(added)
    }

    /// The caller's passkeys, oldest first.
    pub async fn list_passkeys(&self, user_id: UserId) -> Result<Vec<PasskeyRow>, SessionError> {
        self.relying_party()?;
        self.db
            .run(move |conn| Ok::<_, SessionError>(PasskeyRow::list(conn, &user_id)?))
            .await
    }

    /// Renames the caller's passkey `id`.
    pub async fn rename_passkey(
        &self,
        caller: AuthUser,
        id: String,
        name: String,
        client: ClientInfo,
    ) -> Result<PasskeyRow, SessionError> {
        let name = Some(name.trim().to_owned())
            .filter(|n| !n.is_empty())
            .ok_or(SessionError::InvalidPasskeyName)
            .and_then(|n| passkey_name(Some(n), &client))?;
        let user_id = caller.user.id.clone();
        let kind = AuditKind::PasskeyRenamed;
        self.change_own(
            caller,
            id.clone(),
            client,
            kind,
            move |conn, user, id, _| Ok(PasskeyRow::rename(conn, user, id, &name)?),
        )
        .await?;
        self.db
            .run(move |conn| Ok::<_, SessionError>(PasskeyRow::find(conn, &user_id, &id)?))
            .await?
            .ok_or(SessionError::NotFound)
    }

    /// Removes the caller's passkey `id`: it signs in no more. (Every account
    /// has a password, so removing the last passkey leaves a way in.)
    pub async fn remove_passkey(
        &self,
        caller: AuthUser,
        id: String,
        client: ClientInfo,
    ) -> Result<(), SessionError> {
        let (kind, mailer) = (AuditKind::PasskeyRemoved, self.mailer.clone());
        self.change_own(caller, id, client, kind, move |conn, user, id, now| {
            let Some(row) = PasskeyRow::find(conn, user, id)? else {
                return Ok(false);
            };
            PasskeyRow::remove(conn, user, id)?;
            let change = MethodChange::PasskeyRemoved(row.name);
            let letter = Letter::SignInMethodChanged { change, at: now };
            notify(mailer.as_ref(), conn, user, &letter, now)?;
            Ok(true)
        })
        .await?;
        self.wake_mail();
        Ok(())
    }

    /// Applies `change` to the caller's passkey `id` and audits it as
    /// `kind`, in one transaction; `NotFound` unless it is the caller's.
    async fn change_own<F>(
        &self,
        caller: AuthUser,
        id: String,
        client: ClientInfo,
        kind: AuditKind,
        change: F,
    ) -> Result<(), SessionError>
    where
        F: FnOnce(&mut DbConnection, &UserId, &str, NaiveDateTime) -> Result<bool, SessionError>
            + Send
            + 'static,
    {
        self.relying_party()?;
        let user_id = caller.user.id.clone();
        self.db
            .write(move |conn| {
                conn.transaction(|conn| {
                    if !change(conn, &user_id, &id, client.now)? {
                        return Err(SessionError::NotFound);
                    }
                    client.event(kind).user(&user_id).insert(conn)?;
                    Ok(())
                })
            })
            .await
    }

    /// The first half of a sign-in: discoverable without an email; with
    /// one, limited to that account's passkeys — or, for an unknown email or
    /// an account without passkeys, to a made-up credential, so the answer
    /// tells nothing.
    pub async fn start_passkey_login(
        &self,
        address: Option<String>,
    ) -> Result<CeremonyStart, SessionError> {
        let rp = self.relying_party()?;
        let Some(address) = address else {
            let started = rp.start_login(&[]).map_err(passkey_refused)?;
            return self.keep(started, Ceremony::Login, None).await;
        };
        // A malformed address is refused as at registration (its form says
        // nothing about accounts).
        let normalized = email::normalize(&address)?;
        let lookup = normalized.clone();
        let found = self
            .db
            .run(move |conn| {
                let Some(user) = UserRow::find_by_email(conn, &lookup)? else {
                    return Ok::<_, SessionError>(None);
                };
                let ids = PasskeyRow::list(conn, &user.id)?
                    .into_iter()
                    .map(|row| row.credential_id)
                    .collect::<Vec<_>>();
                Ok(Some((user.id, ids)))
            })
            .await?
            .filter(|(_, ids)| !ids.is_empty());
        // A decoy is kept like a real ceremony (the same write, the same
        // answer), but as one that nothing finishes: no passkey — not even
        // the asker's own — may finish a sign-in asked for an address that
        // has none.
        let (kind, user_id, allow) = match found {
            Some((user_id, ids)) => (Ceremony::Login, Some(user_id), ids),
            None => (Ceremony::Decoy, None, vec![rp.decoy(&normalized)]),
        };
        let started = rp.start_login(&allow).map_err(passkey_refused)?;
        self.keep(started, kind, user_id).await
    }

    /// The second half of a sign-in: opens a session with `amr: ["hwk"]`;
    /// `device` is the device cookie the client sent.
    pub async fn login_with_passkey(
        &self,
        ceremony_id: SecretString,
        credential: PublicKeyCredential,
        device: Option<String>,
        client: ClientInfo,
    ) -> Result<Issued, SessionError> {
        let claimed = self.relying_party()?.identify(&credential);
        let outcome = self
            .passkey_login(ceremony_id, credential, device, client.clone())
            .await;
        self.count_login(&outcome, metrics::Login::Succeeded);
        if let Err(SessionError::InvalidCredentials) = &outcome {
            self.audit_refusal(claimed, client).await?;
        }
        outcome
    }

    /// A refused passkey sign-in: `login_failed` (detail `hwk`), about the
    /// account whose passkey `claimed` names — only when that credential is
    /// registered to that account, so a made-up user handle cannot write
    /// events about someone else.
    async fn audit_refusal(
        &self,
        claimed: Option<(UserId, String)>,
        client: ClientInfo,
    ) -> Result<(), SessionError> {
        self.db
            .write(move |conn| {
                let owner = match &claimed {
                    Some((user_id, cred_id)) => PasskeyRow::by_credential(conn, cred_id)?
                        .filter(|row| row.user_id == *user_id)
                        .map(|row| row.user_id),
                    None => None,
                };
                let mut event = client
                    .event(AuditKind::LoginFailed)
                    .detail(Amr::Passkey.as_stored());
                if let Some(owner) = &owner {
                    event = event.user(owner);
                }
                event.insert(conn)?;
                Ok::<_, SessionError>(())
            })
            .await
    }

    async fn passkey_login(
        &self,
        ceremony_id: SecretString,
        credential: PublicKeyCredential,
        device: Option<String>,
        client: ClientInfo,
    ) -> Result<Issued, SessionError> {
        let rp = self.relying_party()?;
        let refused = |why: &str| {
            log::debug!("passkey sign-in refused: {why}");
            SessionError::InvalidCredentials
        };
        let ceremony = self
            .take(&ceremony_id, Ceremony::Login)
            .await?
            .ok_or_else(|| refused("unknown, expired or spent ceremony"))?;
        let (user_id, cred_id) = rp
            .identify(&credential)
            .ok_or_else(|| refused("no user handle"))?;
        if ceremony
            .user_id
            .as_ref()
            .is_some_and(|bound| *bound != user_id)
        {
            return Err(refused(
                "the credential of another account than the email's",
            ));
        }
        let id = user_id.clone();
        let found = self
            .db
            .run(move |conn| {
                let Some(row) = PasskeyRow::by_credential(conn, &cred_id)? else {
                    return Ok::<_, SessionError>(None);
                };
                let user = UserRow::find(conn, &id)?;
                let version = crate::db::token_versions::TokenVersion::current(conn, &id)?;
                Ok(user.map(|user| (row, user, version)))
            })
            .await?
            .filter(|(row, _, _)| row.user_id == user_id)
            .ok_or_else(|| refused("unknown credential, or not the user handle's"))?;
        let (row, user, version) = found;
        let mut passkey: Passkey =
            serde_json::from_str(&row.credential).map_err(|_| unreadable(PasskeyError::State))?;
        let result = rp
            .finish_login(&ceremony.state, &credential, &passkey)
            .map_err(|e| {
                if matches!(e, PasskeyError::State) {
                    return unreadable(e);
                }
                if matches!(e, PasskeyError::PossibleClone) {
                    log::warn!(
                        "passkey {} of user {} signed with a counter that did not move on: \
                         it may have been cloned",
                        row.id,
                        row.user_id
                    );
                }
                refused(&e.to_string())
            })?;
        if user.disabled {
            return Err(refused("disabled user"));
        }
        if self.require_verified_email && !user.email_verified {
            return Err(SessionError::EmailNotVerified);
        }
        passkey.update_credential(&result);
        let stored =
            serde_json::to_string(&passkey).map_err(|_| unreadable(PasskeyError::State))?;
        let before = row.credential;
        let devices = self.devices(device);
        let candidate = Candidate { user, version };
        let opening = Opening {
            email: candidate.user.email.clone(),
            class: classify(Some(&candidate), &devices),
            place: None,
        };
        let passkey_id = row.id;
        let finish = Finish {
            amr: Amr::Passkey,
            then: Some(Box::new(
                move |conn: &mut DbConnection, _: &UserId, client: &ClientInfo| {
                    // Removed meanwhile (it signs in no more), or used by a
                    // concurrent sign-in (whose counter stands).
                    if !PasskeyRow::used(conn, &passkey_id, &before, &stored, client.now)? {
                        return Err(SessionError::InvalidCredentials);
                    }
                    Ok(())
                },
            )),
            stale: SessionError::InvalidCredentials,
        };
        self.open_session(candidate, opening, &devices, client, finish)
            .await
    }
}

/// A passkey's name: `name` trimmed, or the device's name; at most
/// [`NAME_MAX`] characters, on one line.
fn passkey_name(name: Option<String>, client: &ClientInfo) -> Result<String, SessionError> {
    let name = name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| device_name(client.user_agent.as_deref()));
    if name.chars().count() > NAME_MAX || name.chars().any(char::is_control) {
        return Err(SessionError::InvalidPasskeyName);
    }
    Ok(name)
}

/// A ceremony that could not even start: the server's fault.
fn passkey_refused(error: PasskeyError) -> SessionError {
    log::warn!("cannot start a passkey ceremony: {error}");
    SessionError::PasskeyUnavailable
}

/// Stored passkey state that does not read back: the server's fault, not the
/// client's (an outage; the cause is logged where outages are).
fn unreadable(error: PasskeyError) -> SessionError {
    log::warn!("{error}");
    SessionError::PasskeyUnavailable
}
