-- Passkeys (WebAuthn).
-- A user's passkeys: `credential` is the verified credential as webauthn-rs
-- keeps it (public key, sign counter, flags) in JSON: public values, nothing
-- that signs. `credential_id` (base64url) is unique across all users.
CREATE TABLE passkeys (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    credential TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP
);
CREATE INDEX passkeys_user ON passkeys (user_id, created_at);
-- Ceremonies in progress: the state webauthn-rs must keep server-side (the
-- challenge and what it allows), under a SHA-256 of the id the client holds;
-- single use (finishing deletes it) and short-lived, so any instance can
-- finish what another started. `user_id`: the registering user, or for a
-- login with an email that account (none for an unknown email or a
-- discoverable login).
CREATE TABLE webauthn_ceremonies (
    id_hash TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX webauthn_ceremonies_expires ON webauthn_ceremonies (expires_at);
-- What an event needs beside its name: how a login was made (its amr).
ALTER TABLE audit_events ADD COLUMN detail TEXT;
