//! Passkeys' relying party: webauthn-rs does every verification
//! (attestation at registration, the assertion at sign-in, user
//! verification, sign counters — 0 from synced passkeys is normal); this
//! module shapes what goes to the browser and what is kept between the two
//! halves of a ceremony. The flows that store and spend them are in
//! `sessions/passkeys.rs`; the tables in `db/passkeys.rs`.
//!
//! - Registration asks for a discoverable (resident) credential with user
//!   verification, excluding the user's existing ones.
//! - Every sign-in is a discoverable ceremony: the browser's credential names
//!   its user (the user handle is the account's id). With an email, the
//!   options list that account's credentials — or, for an unknown email, a
//!   made-up one derived from the email, so the answer looks the same.
//! - The state of each ceremony is serialised for the database, so any
//!   instance finishes what another started; it holds the challenge, which
//!   the browser sees anyway, and nothing secret.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use webauthn_rs::prelude::{
    AuthenticationResult, DiscoverableAuthentication, Passkey, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

use crate::db::UserId;

/// Why a passkey step failed. Every client-caused failure is the same to
/// the caller (the routes answer alike); the detail is for the debug log.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// The relying party could not be set up (start-up).
    #[error("the passkey relying party {0:?} does not fit its origins")]
    Config(String),
    /// webauthn-rs refused the ceremony.
    #[error("webauthn: {0}")]
    Refused(String),
    /// Stored state that does not read back.
    #[error("a stored passkey state does not read back")]
    State,
    /// A sign counter that did not move on: the credential may have been
    /// cloned (webauthn-rs refuses it).
    #[error("the sign counter did not move on: a possible clone")]
    PossibleClone,
}

/// The relying party. (Its `Debug` shows the id only.)
pub struct RelyingParty {
    webauthn: Webauthn,
    id: String,
    origins: Vec<String>,
    /// Keys the made-up credential ids of unknown emails.
    decoys: Hmac<Sha256>,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty")
            .field("id", &self.id)
            .field("origins", &self.origins)
            .finish()
    }
}

/// A ceremony's first half: the options for the browser, and the state to
/// keep until the second.
pub struct Started {
    /// `PublicKeyCredentialCreationOptions` or `…RequestOptions`, as JSON
    /// with base64url strings.
    pub options: serde_json::Value,
    /// webauthn-rs's state, serialised.
    pub state: String,
}

impl RelyingParty {
    /// The relying party `id` accepting `origins` (the first is its own),
    /// named `name` in the browser's prompt; made-up credential ids are
    /// keyed from `secret`.
    pub fn new(
        id: &str,
        origins: &[String],
        name: &str,
        secret: &[u8],
    ) -> Result<Self, PasskeyError> {
        let config = || PasskeyError::Config(id.to_owned());
        let mut urls = origins.iter().filter_map(|o| Url::parse(o).ok());
        let own = urls.next().ok_or_else(config)?;
        let mut builder = WebauthnBuilder::new(id, &own)
            .map_err(|_| config())?
            .rp_name(name);
        for origin in urls {
            builder = builder.append_allowed_origin(&origin);
        }
        let webauthn = builder.build().map_err(|_| config())?;
        let mut derivation = <Hmac<Sha256> as Mac>::new_from_slice(secret)
            .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()));
        derivation.update(b"wristband passkey decoys");
        let key = derivation.finalize().into_bytes();
        let decoys = <Hmac<Sha256> as Mac>::new_from_slice(&key)
            .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()));
        Ok(Self {
            webauthn,
            id: id.to_owned(),
            origins: origins.to_vec(),
            decoys,
        })
    }

    /// A registration for `user_id` (named `email` in the prompt), excluding
    /// the credentials already registered (`existing`, base64url).
    pub fn start_registration(
        &self,
        user_id: &UserId,
        email: &str,
        existing: &[String],
    ) -> Result<Started, PasskeyError> {
        let uuid = Uuid::parse_str(&user_id.to_string()).map_err(|_| PasskeyError::State)?;
        let exclude = existing
            .iter()
            .filter_map(|id| URL_SAFE_NO_PAD.decode(id).ok())
            .collect::<Vec<_>>();
        let (ccr, state) = self
            .webauthn
            .start_passkey_registration(uuid, email, email, Some(exclude))
            .map_err(refused)?;
        let mut options = serde_json::to_value(&ccr.public_key).map_err(|_| PasskeyError::State)?;
        // A passkey: discoverable, so it signs in without an email.
        options["authenticatorSelection"]["residentKey"] = "required".into();
        options["authenticatorSelection"]["requireResidentKey"] = true.into();
        Ok(Started {
            options,
            state: serde_json::to_string(&state).map_err(|_| PasskeyError::State)?,
        })
    }

    /// The credential a registration made, verified against its `state`.
    pub fn finish_registration(
        &self,
        state: &str,
        credential: &RegisterPublicKeyCredential,
    ) -> Result<Passkey, PasskeyError> {
        let state: PasskeyRegistration =
            serde_json::from_str(state).map_err(|_| PasskeyError::State)?;
        self.webauthn
            .finish_passkey_registration(credential, &state)
            .map_err(refused)
    }

    /// A sign-in: discoverable (`allow` empty), or limited to `allow`
    /// (credential ids, base64url).
    pub fn start_login(&self, allow: &[String]) -> Result<Started, PasskeyError> {
        let (rcr, state) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(refused)?;
        let mut options = serde_json::to_value(&rcr.public_key).map_err(|_| PasskeyError::State)?;
        options["allowCredentials"] = allow
            .iter()
            .map(|id| serde_json::json!({ "type": "public-key", "id": id }))
            .collect::<Vec<_>>()
            .into();
        Ok(Started {
            options,
            state: serde_json::to_string(&state).map_err(|_| PasskeyError::State)?,
        })
    }

    /// A credential id for `email` that no authenticator holds: what a
    /// sign-in with an unknown email (or one without passkeys) lists, the
    /// same each time, so it looks like a real one.
    pub fn decoy(&self, email: &str) -> String {
        let mut mac = self.decoys.clone();
        mac.update(email.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// The user (their id) and the credential id (base64url) a sign-in's
    /// credential names; `None` without a user handle.
    pub fn identify(&self, credential: &PublicKeyCredential) -> Option<(UserId, String)> {
        let (uuid, id) = self
            .webauthn
            .identify_discoverable_authentication(credential)
            .ok()?;
        let user_id = uuid.to_string().parse().ok()?;
        Some((user_id, URL_SAFE_NO_PAD.encode(id)))
    }

    /// Verifies a sign-in's credential against its `state` and the stored
    /// `passkey`.
    pub fn finish_login(
        &self,
        state: &str,
        credential: &PublicKeyCredential,
        passkey: &Passkey,
    ) -> Result<AuthenticationResult, PasskeyError> {
        let state: DiscoverableAuthentication =
            serde_json::from_str(state).map_err(|_| PasskeyError::State)?;
        self.webauthn
            .finish_discoverable_authentication_v2(credential, state, passkey)
            .map_err(|e| match e {
                webauthn_rs::prelude::WebauthnError::CredentialPossibleCompromise => {
                    PasskeyError::PossibleClone
                }
                e => refused(e),
            })
    }
}

/// The credential id of a registered passkey, base64url.
pub fn credential_id(passkey: &Passkey) -> String {
    URL_SAFE_NO_PAD.encode(passkey.cred_id())
}

fn refused(error: webauthn_rs::prelude::WebauthnError) -> PasskeyError {
    PasskeyError::Refused(error.to_string())
}
