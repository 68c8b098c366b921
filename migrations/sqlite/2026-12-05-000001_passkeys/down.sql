ALTER TABLE audit_events DROP COLUMN detail;
DROP TABLE webauthn_ceremonies;
DROP TABLE passkeys;
