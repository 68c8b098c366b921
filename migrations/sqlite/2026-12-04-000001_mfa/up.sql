-- A second factor: TOTP with recovery codes.
-- Whether the user has a confirmed TOTP factor (kept in step with
-- `totp_factors` by the same transactions).
ALTER TABLE users ADD COLUMN mfa_enabled BOOLEAN NOT NULL DEFAULT FALSE;
-- How each session's login was authenticated, space-separated RFC 8176
-- values ('pwd', 'pwd otp', 'pwd rec', 'hwk'): access tokens carry it as `amr`.
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
-- One TOTP factor per user: pending until a code confirms it. `secret` is
-- sealed (XChaCha20-Poly1305, a key derived from the refresh secret, bound to
-- the user); `last_step` is the last time step accepted, so a code (or an
-- earlier one) is accepted once.
CREATE TABLE totp_factors (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    confirmed_at TIMESTAMP,
    last_step BIGINT NOT NULL DEFAULT -1
);
-- Recovery codes: only an HMAC-SHA-256 of each (keyed from the refresh
-- secret); a used code is deleted.
CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);
-- The second step of a login: a right password for a user with a second
-- factor leaves one of these (only a SHA-256 of its token), bound to the user
-- at that token version, spent by the step that finishes the login.
CREATE TABLE mfa_challenges (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX mfa_challenges_expires ON mfa_challenges (expires_at);
