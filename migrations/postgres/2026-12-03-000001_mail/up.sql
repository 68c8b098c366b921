-- Mail (password reset, email verification, email change).
-- Whether the user proved they read mail at their address.
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;
-- Admins existed before addresses could be verified: their operator vouched
-- for them (and WRISTBAND_REQUIRE_VERIFIED_EMAIL must not lock them out).
-- Everyone else proves their address with a link (a password reset does too).
UPDATE users SET email_verified = TRUE WHERE role = 'admin';
-- One-time tokens of every purpose ('reset', 'verify', 'email_change'): only
-- a SHA-256 of the token is kept. One live token per user and purpose (a new
-- one replaces the older); `email` is the address the token is about (the
-- one to verify, or the new one an email change asks for).
CREATE TABLE one_time_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    email TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, purpose)
);
-- The transactional outbox: a mail is written in the transaction of the
-- change it tells about, and sent by the delivery worker of any instance.
-- `body` is the text and HTML parts, sealed (encrypted and authenticated)
-- with a key derived from the refresh secret: the links in it are live.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    message_id TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    due_at TIMESTAMP NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    claimed_until TIMESTAMP,
    sent_at TIMESTAMP,
    failed_at TIMESTAMP,
    last_error TEXT
);
CREATE INDEX outbox_due ON outbox (due_at) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX outbox_recipient ON outbox (recipient, created_at);
