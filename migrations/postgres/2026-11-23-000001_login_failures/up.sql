-- Per-account login lockout, keyed by the normalised email whether or not an
-- account exists, so every instance on this database sees the same count.
-- `failures` counts attempts since the last success (an attempt is counted
-- before its password is checked); `locked_until` is set when it reaches the
-- limit; rows quiet for a day are purged.
CREATE TABLE login_failures (
    email TEXT PRIMARY KEY NOT NULL,
    failures BIGINT NOT NULL,
    locked_until TIMESTAMP,
    last_attempt_at TIMESTAMP NOT NULL
);
