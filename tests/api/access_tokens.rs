//! Attacks on access tokens: every one is a 401 `invalid_token`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use wristband::tokens::{AccessClaims, AccessTokens};

use crate::legacy::{LoggedIn, TestApp, assert_error, each_backend, forger};

fn claims_of(user: &LoggedIn) -> AccessClaims {
    let payload = user.access_token.split('.').nth(1).unwrap();
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
    let response = app.me(token).await;
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

#[actix_web::test]
async fn a_valid_token_reads_me() {
    each_backend(|app| async move {
        let user = app.new_user().await;
        let header = header_of(&user.access_token);
        assert_eq!(header["alg"], "HS256");
        assert_eq!(header["typ"], "at+jwt");
        assert!(header["kid"].is_string());
        let claims = claims_of(&user);
        assert_eq!(claims.sub.to_string(), user.user_id);
        assert_eq!(
            (claims.iss.as_str(), claims.aud.as_str(), claims.ver),
            ("wristband", "wristband", 1)
        );
        assert_eq!(claims.exp - claims.iat, 600);

        let response = app.me(&user.access_token).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["id"], user.user_id.as_str());
        assert_eq!(body["email"], user.email.as_str());
    })
    .await;
}

#[actix_web::test]
async fn forged_and_out_of_date_claims_are_refused() {
    each_backend(|app| async move {
        let user = app.new_user().await;
        let forge = forger(&app.settings);
        let now = chrono::Utc::now().timestamp();
        let base = claims_of(&user);
        // The forger signs exactly like the server: prove it first.
        assert_eq!(
            app.me(&forge.sign(&base).unwrap()).await.status(),
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
                    sid: uuid::Uuid::new_v4(),
                    ..base.clone()
                },
            ),
            (
                "someone else's session",
                AccessClaims {
                    sub: uuid::Uuid::new_v4(),
                    ..base.clone()
                },
            ),
        ];
        for (what, claims) in cases {
            assert_refused(&app, &forge.sign(&claims).unwrap(), what).await;
        }

        // Signed with another key.
        let stranger = AccessTokens::new(
            b"a completely different signing key!!",
            "wristband",
            "wristband",
            std::time::Duration::from_secs(600),
            std::time::Duration::ZERO,
        );
        assert_refused(&app, &stranger.sign(&base).unwrap(), "foreign key").await;
    })
    .await;
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

#[actix_web::test]
async fn tampered_and_unsigned_tokens_are_refused() {
    each_backend(|app| async move {
        let user = app.new_user().await;
        let victim = app.new_user().await;
        let token = &user.access_token;
        let mut payload = serde_json::to_value(claims_of(&user)).unwrap();
        payload["sub"] = json!(victim.user_id);
        payload["role"] = json!("admin");
        assert_refused(&app, &with_parts(token, None, Some(&payload), None), "tampered payload").await;

        let header = header_of(token);
        let none = json!({"alg": "none", "typ": "at+jwt", "kid": header["kid"]});
        assert_refused(&app, &with_parts(token, Some(&none), None, Some("")), "alg none").await;
        assert_refused(&app, &format!("{}.{}.", token.split('.').next().unwrap(), token.split('.').nth(1).unwrap()), "no signature").await;
        let hs512 = json!({"alg": "HS512", "typ": "at+jwt", "kid": header["kid"]});
        assert_refused(&app, &with_parts(token, Some(&hs512), None, None), "alg switched").await;
        for bad in [
            json!({"alg": "HS256", "typ": "at+jwt", "kid": "0000000000000000"}),
            json!({"alg": "HS256", "typ": "JWT", "kid": header["kid"]}),
            json!({"alg": "HS256", "typ": "at+jwt", "kid": header["kid"], "jku": "https://evil.example/keys"}),
            json!({"alg": "HS256", "typ": "at+jwt", "kid": header["kid"], "jwk": {"kty": "oct", "k": "AAAA"}}),
            json!({"alg": "HS256", "typ": "at+jwt", "kid": header["kid"], "x5u": "https://evil.example/cert"}),
        ] {
            assert_refused(&app, &with_parts(token, Some(&bad), None, None), &bad.to_string()).await;
        }
        assert_refused(&app, "not-a-jwt", "garbage").await;
    })
    .await;
}

#[actix_web::test]
async fn the_authorization_header_is_parsed_strictly() {
    each_backend(|app| async move {
        let user = app.new_user().await;
        let token = &user.access_token;
        let me = app.url("/auth/me");

        let lower = app
            .client
            .get(&me)
            .header("authorization", format!("bearer {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(lower.status(), StatusCode::OK, "scheme is case-insensitive");

        let missing = app.client.get(&me).send().await.unwrap();
        assert_eq!(
            missing.headers()["www-authenticate"],
            r#"Bearer realm="wristband""#
        );
        assert_error(missing, StatusCode::UNAUTHORIZED, "missing_token").await;

        let two = app
            .client
            .get(&me)
            .header("authorization", format!("Bearer {token}"))
            .header("authorization", format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
        assert_error(two, StatusCode::BAD_REQUEST, "invalid_request").await;

        let query = app
            .client
            .get(format!("{me}?access_token={token}"))
            .send()
            .await
            .unwrap();
        assert_error(query, StatusCode::UNAUTHORIZED, "missing_token").await;
        let cookie = app
            .client
            .get(&me)
            .header("cookie", format!("access_token={token}"))
            .send()
            .await
            .unwrap();
        assert_error(cookie, StatusCode::UNAUTHORIZED, "missing_token").await;
        let basic = app
            .client
            .get(&me)
            .basic_auth("user", Some("pass"))
            .send()
            .await
            .unwrap();
        assert_error(basic, StatusCode::UNAUTHORIZED, "missing_token").await;
    })
    .await;
}

#[actix_web::test]
async fn authentication_comes_before_path_and_body_checks() {
    each_backend(|app| async move {
        let response = app
            .client
            .delete(app.url("/auth/sessions/not-a-uuid"))
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::UNAUTHORIZED, "missing_token").await;
        let response = app
            .client
            .post(app.url("/auth/password"))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::UNAUTHORIZED, "missing_token").await;
        let response = app
            .client
            .post(app.url("/auth/password"))
            .header("content-type", "text/plain")
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::UNAUTHORIZED, "missing_token").await;
    })
    .await;
}
