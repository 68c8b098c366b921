"""Tokens from a test-mode Wristband, verified by libraries Wristband did not
write: PyJWT against the published JWKS, and introspection over HTTP."""


import jwt
from conftest import INTROSPECTION_SECRET, call

def new_user(base, email):
    status, headers, body = call("POST", f"{base}/test/users", {"email": email})
    assert status == 201, body
    assert headers["Wristband-Test-Mode"] == "1"
    return body

def test_pyjwt_verifies_an_access_token_through_the_jwks(wristband):
    alice = new_user(wristband, "alice@example.com")
    token = alice["access_token"]

    jwks = jwt.PyJWKClient(f"{wristband}/.well-known/jwks.json")
    key = jwks.get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token,
        key.key,
        algorithms=["EdDSA"],
        audience="wristband",
        issuer="wristband",
        options={"require": ["exp", "nbf", "iat", "sub", "sid"]},
    )
    assert claims["sub"] == alice["user"]["id"]
    assert jwt.get_unverified_header(token)["kid"] == key.key_id

    # A token altered by one character does not verify.
    head, payload, signature = token.split(".")
    altered = f"{head}.{payload}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    try:
        jwt.decode(altered, key.key, algorithms=["EdDSA"], audience="wristband")
    except jwt.InvalidSignatureError:
        pass
    else:
        raise AssertionError("an altered token verified")

def test_introspection_sees_a_logout_at_once(wristband):
    alice = new_user(wristband, "alice@example.com")
    token = alice["access_token"]

    def introspect():
        status, _, body = call(
            "POST",
            f"{wristband}/auth/introspect",
            form={"token": token},
            token=INTROSPECTION_SECRET,
        )
        assert status == 200, body
        return body

    active = introspect()
    assert active["active"] is True
    assert active["sub"] == alice["user"]["id"]
    status, _, _ = call("POST", f"{wristband}/auth/logout-all", token=token)
    assert status == 204
    assert introspect() == {"active": False}

def test_the_clock_expires_tokens_without_waiting(wristband):
    alice = new_user(wristband, "alice@example.com")
    status, _, _ = call("GET", f"{wristband}/auth/me", token=alice["access_token"])
    assert status == 200
    status, _, clock = call("POST", f"{wristband}/test/clock", {"advance": "10m"})
    assert status == 200 and clock["offset_seconds"] == 600
    status, _, body = call("GET", f"{wristband}/auth/me", token=alice["access_token"])
    assert status == 401 and body["error"] == "invalid_token"
