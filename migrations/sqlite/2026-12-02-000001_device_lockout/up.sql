-- The lockout per account *and client class* (device cookies): failures are
-- counted for each known device of an account on its own (`client` = 'd:' and
-- the device cookie's nonce) and for all untrusted clients of the account
-- together (`client` = '*'), so an attacker who knows only the email can lock
-- out untrusted clients, never the owner's known devices. Keyed by the
-- normalised email whether or not an account has it, so a locked unknown email
-- looks like a locked real one. `failures` counts verified failures only.
-- The counts and locks in force carry over as the untrusted clients' ones,
-- so an upgrade in the middle of an attack gives the attacker no fresh budget.
CREATE TABLE login_failures_by_class (
    email TEXT NOT NULL,
    client TEXT NOT NULL,
    failures BIGINT NOT NULL,
    locked_until TIMESTAMP,
    last_attempt_at TIMESTAMP NOT NULL,
    PRIMARY KEY (email, client)
);
INSERT INTO login_failures_by_class (email, client, failures, locked_until, last_attempt_at)
    SELECT email, '*', failures, locked_until, last_attempt_at FROM login_failures;
DROP TABLE login_failures;
ALTER TABLE login_failures_by_class RENAME TO login_failures;
-- Attempts whose password is being checked: counted with the failures so that
-- parallel guesses cannot exceed the limit; each ends with its verdict, or
-- expires (a crash, a dropped request) at `expires_at`.
CREATE TABLE login_attempts (
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL,
    client TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX login_attempts_by_class ON login_attempts (email, client);
