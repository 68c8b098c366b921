-- Wristband schema, SQLite flavour. Keep in step with migrations/postgres/.
-- Ids are TEXT (UUIDs), timestamps are UTC TIMESTAMP bound from Rust.
CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'user',
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- The per-user token version: bumping it kills every session and access token of the user.
CREATE TABLE token_versions (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    version BIGINT NOT NULL
);

-- One row per login. `generation` numbers the one live refresh token, which is derived
-- (HMAC) from (id, generation): the database never holds a presentable token.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_version BIGINT NOT NULL,
    generation BIGINT NOT NULL,
    rotated_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    last_refreshed_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    user_agent TEXT,
    ip TEXT
);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TIMESTAMP NOT NULL,
    event TEXT NOT NULL,
    user_id TEXT,
    actor_id TEXT,
    session_id TEXT,
    ip TEXT,
    user_agent TEXT
);
CREATE INDEX audit_events_user_id ON audit_events (user_id, id);

-- Server-wide values generated once (the signing key when none is configured).
CREATE TABLE settings (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
