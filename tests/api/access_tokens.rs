//! Attacks on access tokens: every one is a 401 `invalid_token`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use wristband::api::User;
use wristband::tokens::{AccessClaims, AccessTokens, Keyring};

use crate::helpers::{Client, ResponseExt, TestApp, assert_error, backend_test};

fn claims_of(user: &Client) -> AccessClaims {
    let token = user.token();
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn header_of(token: &str) -> Value {
    serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap()
}

async fn assert_refused(app: &TestApp, token: &str, what: &str) {
    let response = app.anon().with_token(token).get("/auth/me").await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "{what} was accepted"
    );
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer realm="wristband", error="invalid_token""#,
        "{what}"
    );
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

backend_test!(a_valid_token_reads_me);
async fn a_valid_token_reads_me(app: TestApp) {
    let user = app.new_user().await;
    let header = header_of(&user.token());
    assert_eq!(header["alg"], "HS256");
    assert_eq!(header["typ"], "at+jwt");
    assert!(header["kid"].is_string());
    let claims = claims_of(&user);
    assert_eq!(claims.sub.to_string(), user.user().id.to_string());
    assert_eq!(
        (claims.iss.as_str(), claims.aud.as_str(), claims.ver),
        ("wristband", "wristband", 1)
    );
    assert_eq!(claims.exp - claims.iat, 600);

    let response = user.get("/auth/me").await;
    assert_eq!(response.status(), StatusCode::OK);
    let me: User = response.body().await;
    assert_eq!(me.id, user.user().id);
    assert_eq!(me.email, user.user().email);
}

backend_test!(forged_and_out_of_date_claims_are_refused);
async fn forged_and_out_of_date_claims_are_refused(app: TestApp) {
    let user = app.new_user().await;
    let forge = app.forger();
    let now = chrono::Utc::now().timestamp();
    let base = claims_of(&user);
    // The forger signs exactly like the server: prove it first.
    assert_eq!(
        app.anon()
            .with_token(&forge.sign(&base).unwrap())
            .get("/auth/me")
            .await
            .status(),
        StatusCode::OK
    );

    let cases: Vec<(&str, AccessClaims)> = vec![
        (
            "expired",
            AccessClaims {
                exp: now - 1,
                ..base.clone()
            },
        ),
        (
            "nbf in the future",
            AccessClaims {
                nbf: now + 60,
                ..base.clone()
            },
        ),
        (
            "wrong iss",
            AccessClaims {
                iss: "evil".into(),
                ..base.clone()
            },
        ),
        (
            "wrong aud",
            AccessClaims {
                aud: "another-service".into(),
                ..base.clone()
            },
        ),
        (
            "stale version",
            AccessClaims {
                ver: base.ver - 1,
                ..base.clone()
            },
        ),
        (
            "future version",
            AccessClaims {
                ver: base.ver + 1,
                ..base.clone()
            },
        ),
        (
            "unknown session",
            AccessClaims {
                sid: wristband::db::SessionId::new(),
                ..base.clone()
            },
        ),
        (
            "someone else's session",
            AccessClaims {
                sub: wristband::db::UserId::new(),
                ..base.clone()
            },
        ),
    ];
    for (what, claims) in cases {
        assert_refused(&app, &forge.sign(&claims).unwrap(), what).await;
    }

    // Signed with another key.
    let stranger = AccessTokens::new(
        Keyring::configured(b"a completely different signing key!!", &[]),
        "wristband",
        "wristband",
        std::time::Duration::from_secs(600),
        std::time::Duration::ZERO,
        wristband::clock::Clock::system(),
    );
    assert_refused(&app, &stranger.sign(&base).unwrap(), "foreign key").await;
}

backend_test!(a_token_issued_in_the_future_is_refused);
async fn a_token_issued_in_the_future_is_refused(app: TestApp) {
    let user = app.new_user().await;
    let forge = app.forger();
    let now = chrono::Utc::now().timestamp();
    let base = claims_of(&user);
    // Signed with the real key, valid in every other way (`nbf` and `exp`
    // are the real token's): only `iat` lies ahead of the server's clock.
    let ahead = AccessClaims {
        iat: now + 120,
        ..base.clone()
    };
    assert_refused(&app, &forge.sign(&ahead).unwrap(), "iat in the future").await;
    let past = AccessClaims {
        iat: now - 5,
        ..base
    };
    let accepted = app
        .anon()
        .with_token(&forge.sign(&past).unwrap())
        .get("/auth/me")
        .await;
    assert_eq!(accepted.status(), StatusCode::OK, "iat in the past");
}

fn with_parts(
    token: &str,
    header: Option<&Value>,
    payload: Option<&Value>,
    signature: Option<&str>,
) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let enc = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.{}",
        header.map(enc).unwrap_or(parts[0].to_owned()),
        payload.map(enc).unwrap_or(parts[1].to_owned()),
        signature.unwrap_or(parts[2])
    )
}

backend_test!(tampered_and_unsigned_tokens_are_refused);
async fn tampered_and_unsigned_tokens_are_refused(app: TestApp) {
    let user = app.new_user().await;
    let victim = app.new_user().await;
    let token = &user.token();
    let mut payload = serde_json::to_value(claims_of(&user)).unwrap();
    payload["sub"] = json!(victim.user().id);
    payload["role"] = json!("admin");
    let tampered = with_parts(token, None, Some(&payload), None);
    assert_refused(&app, &tampered, "tampered payload").await;

    let header = header_of(token);
    let none = json!({"alg": "none", "typ": "at+jwt", "kid": header["kid"]});
    let unsigned = with_parts(token, Some(&none), None, Some(""));
    assert_refused(&app, &unsigned, "alg none").await;
    let mut parts = token.split('.');
    let (head, body) = (parts.next().unwrap(), parts.next().unwrap());
    assert_refused(&app, &format!("{head}.{body}."), "no signature").await;
    let hs512 = json!({"alg": "HS512", "typ": "at+jwt", "kid": header["kid"]});
    let switched = with_parts(token, Some(&hs512), None, None);
    assert_refused(&app, &switched, "alg switched").await;
    for bad in [
        json!({"alg": "HS256", "typ": "at+jwt", "kid": "0000000000000000"}),
        json!({"alg": "HS256", "typ": "JWT", "kid": header["kid"]}),
        json!({"alg": "HS256", "typ": "at+jwt", "kid": header["kid"], "jku": "https://evil.example/keys"}),
        json!({"alg": "HS256", "typ": "at+jwt", "kid": header["kid"], "jwk": {"kty": "oct", "k": "AAAA"}}),
        json!({"alg": "HS256", "typ": "at+jwt", "kid": header["kid"], "x5u": "https://evil.example/cert"}),
    ] {
        let forged = with_parts(token, Some(&bad), None, None);
        assert_refused(&app, &forged, &bad.to_string()).await;
    }
    assert_refused(&app, "not-a-jwt", "garbage").await;
}

backend_test!(the_authorization_header_is_parsed_strictly);
async fn the_authorization_header_is_parsed_strictly(app: TestApp) {
    let user = app.new_user().await;
    let token = user.token();
    let anon = app.anon();

    let lower = anon
        .get("/auth/me")
        .header("authorization", format!("bearer {token}"))
        .await;
    assert_eq!(lower.status(), StatusCode::OK, "scheme is case-insensitive");

    let missing = anon.get("/auth/me").await;
    assert_eq!(
        missing.headers()["www-authenticate"],
        r#"Bearer realm="wristband""#
    );
    assert_error(missing, StatusCode::UNAUTHORIZED, "missing_token").await;

    let two = anon
        .get("/auth/me")
        .header("authorization", format!("Bearer {token}"))
        .header("authorization", format!("Bearer {token}"))
        .await;
    assert_error(two, StatusCode::BAD_REQUEST, "invalid_request").await;

    let query = anon.get(&format!("/auth/me?access_token={token}")).await;
    assert_error(query, StatusCode::UNAUTHORIZED, "missing_token").await;
    let cookie = anon
        .get("/auth/me")
        .header("cookie", format!("access_token={token}"))
        .await;
    assert_error(cookie, StatusCode::UNAUTHORIZED, "missing_token").await;
    let basic = anon.get("/auth/me").basic_auth("user", "pass").await;
    assert_error(basic, StatusCode::UNAUTHORIZED, "missing_token").await;
}

backend_test!(authentication_comes_before_path_and_body_checks);
async fn authentication_comes_before_path_and_body_checks(app: TestApp) {
    let anon = app.anon();
    let response = anon.delete("/auth/sessions/not-a-uuid").await;
    assert_error(response, StatusCode::UNAUTHORIZED, "missing_token").await;
    let response = anon
        .post("/auth/password")
        .header("content-type", "application/json")
        .body("{not json")
        .await;
    assert_error(response, StatusCode::UNAUTHORIZED, "missing_token").await;
    let response = anon
        .post("/auth/password")
        .header("content-type", "text/plain")
        .await;
    assert_error(response, StatusCode::UNAUTHORIZED, "missing_token").await;
}
