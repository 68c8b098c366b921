//! The signing keyring: EdDSA tokens verified by a standard library against
//! the published JWKS, rotation under a live session, retired keys that
//! verify for the access TTL and then are refused, unknown kids, and HS256
//! secrets rotated through `WRISTBAND_JWT_PREVIOUS_SECRETS`.

use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use reqwest::StatusCode;
use serde_json::Value;
use wristband::api::User;
use wristband::clock::Clock;
use wristband::config::Settings;
use wristband::tokens::keys::SigningKey;
use wristband::tokens::{AccessClaims, AccessTokens, KeyAlgorithm, Keyring};

use crate::helpers::storage::{rotate_signing_key, stored_signing_key};
use crate::helpers::{
    Client, ResponseExt, TestApp, TestDatabase, assert_error, backend_test, base_settings,
};

fn eddsa() -> Settings {
    Settings {
        jwt_secret: None,
        jwt_alg: Some("EdDSA".into()),
        ..base_settings()
    }
}

fn eddsa_test_mode() -> Settings {
    Settings {
        test_mode: Some("true".into()),
        ..eddsa()
    }
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .unwrap()
        .kid
        .expect("a kid")
}

async fn jwks(app: &TestApp) -> JwkSet {
    let response = app.anon().get("/.well-known/jwks.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    response.body().await
}

/// Waits (up to 5 s) until the server publishes `count` keys: the keyring
/// is re-read every second.
async fn until_published(app: &TestApp, count: usize) -> JwkSet {
    for _ in 0..50 {
        let set = jwks(app).await;
        if set.keys.len() == count {
            return set;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the JWKS never held {count} keys");
}

/// Refreshes `client` (up to 5 s, the keyring is re-read every second) until
/// its new access token is signed by `kid`; returns the last token either way.
async fn refresh_until_signed_by(client: &Client, kid: &str) -> String {
    let mut token = String::new();
    for _ in 0..50 {
        token = client.refresh().await.access_token;
        if kid_of(&token) == kid {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    token
}

/// Verifies `token` as a resource server would: the key from the JWKS by
/// `kid`, with jsonwebtoken's own JWK support.
fn verify_with_jwks(set: &JwkSet, token: &str) -> jsonwebtoken::errors::Result<AccessClaims> {
    let kid = kid_of(token);
    let jwk = set.find(&kid).expect("the token's key is published");
    let mut validation = Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&["wristband"]);
    validation.set_issuer(&["wristband"]);
    jsonwebtoken::decode::<AccessClaims>(token, &DecodingKey::from_jwk(jwk)?, &validation)
        .map(|data| data.claims)
}

backend_test!(eddsa_tokens_verify_against_the_published_jwk, eddsa());
async fn eddsa_tokens_verify_against_the_published_jwk(app: TestApp) {
    let alice = app.new_user().await;
    let token = alice.token();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);

    let raw: Value = app.anon().get("/.well-known/jwks.json").await.body().await;
    let keys = raw["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kty"], "OKP");
    assert_eq!(keys[0]["crv"], "Ed25519");
    assert!(keys[0].get("d").is_none(), "no private part: {raw}");

    let claims = verify_with_jwks(&jwks(&app).await, &token).expect("verifies");
    assert_eq!(claims.sub.to_string(), alice.user().id.to_string());
    // Tampered: the library refuses it too.
    let mut forged = token.clone();
    forged.insert_str(forged.rfind('.').unwrap() + 1, "AAAA");
    assert!(verify_with_jwks(&jwks(&app).await, &forged).is_err());
}

backend_test!(an_hs256_server_publishes_no_key);
async fn an_hs256_server_publishes_no_key(app: TestApp) {
    let raw: Value = app.anon().get("/.well-known/jwks.json").await.body().await;
    assert_eq!(raw, serde_json::json!({"keys": []}));
}

/// Logs in, rotates the key as `wristband rotate-key` does, and checks that
/// the session lives on: the old token still works, refresh still works and
/// hands out a token under the new key.
async fn rotation_keeps_the_session(app: &TestApp, algorithm: KeyAlgorithm, published: usize) {
    let alice = app.new_user().await;
    let old_token = alice.token();
    let old_kid = kid_of(&old_token);

    let new_kid = rotate_signing_key(app, algorithm).await;
    assert_ne!(new_kid, old_kid);
    // Within a second or so the server signs with the new key.
    let refreshed = refresh_until_signed_by(&alice, &new_kid).await;
    assert_eq!(kid_of(&refreshed), new_kid, "the new key signs");
    assert_eq!(until_published(app, published).await.keys.len(), published);

    let me: User = alice.get("/auth/me").await.body().await;
    assert_eq!(me.id, alice.user().id, "the new token works");
    let old = alice.with_token(&old_token).get("/auth/me").await;
    assert_eq!(old.status(), StatusCode::OK, "the old key still verifies");
}

backend_test!(rotating_an_eddsa_key_keeps_sessions_alive, eddsa());
async fn rotating_an_eddsa_key_keeps_sessions_alive(app: TestApp) {
    rotation_keeps_the_session(&app, KeyAlgorithm::EdDsa, 2).await;
}

backend_test!(
    rotating_a_stored_hs256_key_keeps_sessions_alive,
    Settings {
        jwt_secret: None,
        ..base_settings()
    }
);
async fn rotating_a_stored_hs256_key_keeps_sessions_alive(app: TestApp) {
    rotation_keeps_the_session(&app, KeyAlgorithm::Hs256, 0).await;
}

/// Claims for `user` valid for an hour from `now`.
fn claims_for(user: &Client, sid: String, now: i64) -> AccessClaims {
    AccessClaims {
        iss: "wristband".into(),
        aud: "wristband".into(),
        sub: user.user().id.to_string().parse().unwrap(),
        sid: sid.parse().unwrap(),
        ver: 1,
        role: wristband::db::Role::User,
        iat: now,
        nbf: now,
        exp: now + 3600,
        jti: uuid::Uuid::new_v4(),
        amr: vec!["pwd".into()],
    }
}

fn signer(key: SigningKey, clock: Clock) -> AccessTokens {
    AccessTokens::new(
        Keyring::new(key, []),
        "wristband",
        "wristband",
        Duration::from_secs(3600),
        Duration::ZERO,
        clock,
    )
}

backend_test!(
    retired_keys_verify_for_the_access_ttl_then_are_refused,
    eddsa_test_mode()
);
async fn retired_keys_verify_for_the_access_ttl_then_are_refused(app: TestApp) {
    let alice = app.new_user().await;
    let sid = alice.current_session().await.id.to_string();
    let old_kid = kid_of(&alice.token());
    let old_key = stored_signing_key(&app, &old_kid).await;
    rotate_signing_key(&app, KeyAlgorithm::EdDsa).await;
    until_published(&app, 2).await;

    // A token under the retired key, valid for an hour by its claims.
    let clock = Clock::movable();
    let forge = signer(old_key, clock.clone());
    let token = forge
        .sign(&claims_for(&alice, sid.clone(), clock.timestamp()))
        .unwrap();
    let response = alice.with_token(&token).get("/auth/me").await;
    assert_eq!(response.status(), StatusCode::OK, "retired, still verifies");

    // The access TTL (10 minutes) plus two keyring reloads (2 s) later, the
    // retired key is done with.
    let moved = app
        .anon()
        .post("/test/clock")
        .json(&serde_json::json!({"advance": "605s"}))
        .await;
    assert_eq!(moved.status(), StatusCode::OK);
    clock.advance(Duration::from_secs(605)).unwrap();
    let token = forge
        .sign(&claims_for(&alice, sid, clock.timestamp()))
        .unwrap();
    let response = alice.with_token(&token).get("/auth/me").await;
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let set = jwks(&app).await;
    assert_eq!(set.keys.len(), 1, "the retired key left the JWKS");
    assert!(set.find(&old_kid).is_none());
}

backend_test!(tokens_under_unknown_kids_are_refused, eddsa());
async fn tokens_under_unknown_kids_are_refused(app: TestApp) {
    let alice = app.new_user().await;
    let sid = alice.current_session().await.id.to_string();
    let now = Clock::system().timestamp();
    // Well-formed, with a live session's claims, but under a key the server
    // never had; and under an HS256 secret the server does not hold.
    for key in [
        SigningKey::ed25519(&[9u8; 32]),
        SigningKey::hs256(b"an HS256 key this server never had!"),
    ] {
        let token = signer(key, Clock::system())
            .sign(&claims_for(&alice, sid.clone(), now))
            .unwrap();
        let response = alice.with_token(&token).get("/auth/me").await;
        assert_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
}

const OLD: &str = "the-old-hs256-secret-from-the-secret-store";
const NEW: &str = "the-new-hs256-secret-from-the-secret-store";

backend_test!(previous_hs256_secrets_still_verify_and_nobody_is_logged_out);
async fn previous_hs256_secrets_still_verify_and_nobody_is_logged_out(db: TestDatabase) {
    let before = db
        .spawn(Settings {
            jwt_secret: Some(OLD.into()),
            ..base_settings()
        })
        .await;
    let alice = before.new_user().await;
    let old_token = alice.token();

    // Refresh tokens were keyed by the old secret: it becomes the refresh
    // secret, so the signing key can change without logging anybody out.
    let after = db
        .spawn(Settings {
            jwt_secret: Some(NEW.into()),
            jwt_previous_secrets: Some(OLD.into()),
            refresh_secret: Some(OLD.into()),
            ..base_settings()
        })
        .await;
    let alice = alice.on(&after);
    let me = alice.get("/auth/me").await;
    assert_eq!(me.status(), StatusCode::OK, "the previous secret verifies");
    let refreshed = alice.refresh().await;
    assert_ne!(kid_of(&refreshed.access_token), kid_of(&old_token));
    assert_eq!(alice.get("/auth/me").await.status(), StatusCode::OK);

    let without = db
        .spawn(Settings {
            jwt_secret: Some(NEW.into()),
            refresh_secret: Some(OLD.into()),
            ..base_settings()
        })
        .await;
    let response = alice
        .on(&without)
        .with_token(&old_token)
        .get("/auth/me")
        .await;
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

backend_test!(an_earlier_generated_secret_is_taken_over_and_nobody_is_logged_out);
async fn an_earlier_generated_secret_is_taken_over_and_nobody_is_logged_out(db: TestDatabase) {
    const LEGACY: &str = "a-secret-an-earlier-version-generated-xyz";
    crate::helpers::storage::with_legacy_secret(&db, LEGACY);
    let app = db
        .spawn(Settings {
            jwt_secret: None,
            ..base_settings()
        })
        .await;
    let alice = app.new_user().await;
    // Access tokens are signed with the same key as before (so tokens already
    // out verify), and refresh tokens made with the same secret.
    assert_eq!(
        kid_of(&alice.token()),
        SigningKey::hs256(LEGACY.as_bytes()).kid()
    );
    let refresh = wristband::tokens::RefreshKey::derive(LEGACY.as_bytes());
    assert!(refresh.parse(&alice.refresh_token()).is_some());
    // A rotation later, a restart keeps the new key: the old secret is not
    // taken over twice.
    let new_kid = rotate_signing_key(&app, KeyAlgorithm::Hs256).await;
    let restarted = db
        .spawn(Settings {
            jwt_secret: None,
            ..base_settings()
        })
        .await;
    let bob = restarted.new_user().await;
    assert_eq!(kid_of(&bob.token()), new_kid);
}

backend_test!(a_rolling_change_of_algorithm_keeps_every_instance_verifying);
async fn a_rolling_change_of_algorithm_keeps_every_instance_verifying(db: TestDatabase) {
    let stored_hs256 = || Settings {
        jwt_secret: None,
        ..base_settings()
    };
    let old = db.spawn(eddsa()).await;
    let alice = old.new_user().await;
    let eddsa_token = alice.token();
    // A new instance, configured for HS256, starts: it rotates to an HS256
    // key, retiring the EdDSA one.
    let new = db.spawn(stored_hs256()).await;
    let bob = new.new_user().await;
    assert_eq!(
        jsonwebtoken::decode_header(bob.token()).unwrap().alg,
        jsonwebtoken::Algorithm::HS256
    );
    // The old instance, finding no current EdDSA key, signs with the new
    // instance's key within about a second, so its tokens verify everywhere.
    let signed = refresh_until_signed_by(&alice, &kid_of(&bob.token())).await;
    assert_eq!(
        kid_of(&signed),
        kid_of(&bob.token()),
        "the old instance adopted the key"
    );
    for app in [&old, &new] {
        let me = alice.on(app).with_token(&signed).get("/auth/me").await;
        assert_eq!(
            me.status(),
            StatusCode::OK,
            "the adopted key verifies on both"
        );
        let me = alice.on(app).with_token(&eddsa_token).get("/auth/me").await;
        assert_eq!(
            me.status(),
            StatusCode::OK,
            "the retired EdDSA key still verifies on both"
        );
    }
}
