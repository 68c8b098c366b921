DROP TABLE login_attempts;
DROP TABLE login_failures;
CREATE TABLE login_failures (
    email TEXT PRIMARY KEY NOT NULL,
    failures BIGINT NOT NULL,
    locked_until TIMESTAMP,
    last_attempt_at TIMESTAMP NOT NULL
);
