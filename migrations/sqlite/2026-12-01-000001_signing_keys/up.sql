-- The signing keyring. `kid` names the key in token headers; `algorithm` is
-- HS256 or EdDSA; `material` is the HS256 secret text or the base64url
-- Ed25519 seed. The newest key with no `retired_at` signs; a retired key
-- still verifies until the access TTL plus leeway has passed since it was
-- retired, then it is ignored and leaves the JWKS.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    algorithm TEXT NOT NULL,
    material TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    retired_at TIMESTAMP
);
