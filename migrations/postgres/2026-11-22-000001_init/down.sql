DROP TABLE settings;
DROP TABLE audit_events;
DROP TABLE sessions;
DROP TABLE token_versions;
DROP TABLE users;
