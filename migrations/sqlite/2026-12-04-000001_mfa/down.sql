DROP TABLE mfa_challenges;
DROP TABLE recovery_codes;
DROP TABLE totp_factors;
ALTER TABLE sessions DROP COLUMN amr;
ALTER TABLE users DROP COLUMN mfa_enabled;
