-- One rotation in one round trip, as Wristband's PostgreSQL rotation sends it
-- (src/db/sessions.rs, ROTATE_IF_LIVE), on the tables of setup.sql: each
-- pgbench client moves its own session, as each wrk connection does.
UPDATE bench_sessions SET generation = bench_sessions.generation + 1, rotated_at = now(), last_refreshed_at = now()
FROM bench_users, bench_token_versions
WHERE bench_sessions.id = 's' || :client_id AND bench_sessions.generation > 0
  AND bench_users.id = bench_sessions.user_id AND bench_token_versions.user_id = bench_sessions.user_id
  AND bench_sessions.revoked_at IS NULL AND bench_sessions.token_version = bench_token_versions.version
  AND NOT bench_users.disabled
  AND NOT (bench_sessions.expires_at <= now() OR bench_sessions.last_refreshed_at <= now() - interval '30 days')
RETURNING bench_sessions.id, bench_sessions.user_id, bench_sessions.token_version,
  bench_sessions.generation, bench_sessions.rotated_at, bench_sessions.created_at,
  bench_sessions.last_refreshed_at, bench_sessions.expires_at, bench_sessions.revoked_at,
  bench_sessions.user_agent, bench_sessions.ip, bench_sessions.amr, bench_token_versions.version AS user_version, bench_users.id AS users_id,
  bench_users.email, bench_users.password_hash, bench_users.role, bench_users.disabled,
  bench_users.created_at AS users_created_at, bench_users.updated_at, bench_users.email_verified,
  bench_users.mfa_enabled;
