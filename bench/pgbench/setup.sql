-- Tables of the same shape as Wristband's (copied from the migrated schema,
-- in the benchmark's own database), one user and one session per pgbench
-- client, for rotation.sql. Run by bench/harness.py before each ceiling.
DROP TABLE IF EXISTS bench_sessions, bench_token_versions, bench_users;
CREATE TABLE bench_users (LIKE users INCLUDING ALL);
CREATE TABLE bench_token_versions (LIKE token_versions INCLUDING ALL);
CREATE TABLE bench_sessions (LIKE sessions INCLUDING ALL);
INSERT INTO bench_users (id, email, password_hash, role, disabled, created_at, updated_at)
    SELECT 'u' || i, 'u' || i || '@example.com', 'x', 'user', false, now(), now()
    FROM generate_series(0, 63) i;
INSERT INTO bench_token_versions SELECT 'u' || i, 1 FROM generate_series(0, 63) i;
INSERT INTO bench_sessions (id, user_id, token_version, generation, created_at, last_refreshed_at, expires_at, amr)
    SELECT 's' || i, 'u' || i, 1, 1, now(), now(), now() + interval '1 day', 'pwd'
    FROM generate_series(0, 63) i;
