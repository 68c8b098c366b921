//! Passkeys, driven by a software authenticator (webauthn-authenticator-rs's
//! `SoftPasskey`, standing in for a browser and its authenticator):
//! registering, listing, renaming, removing; signing in with and without an
//! email; and what must be refused — a replayed answer, a ceremony finished
//! twice or too late, a wrong origin, another user's credential, a removed
//! passkey, a disabled user. Ceremonies live in the database, so two
//! instances share them. (The browser side is in tests/e2e/passkeys.test.mjs,
//! with Chromium's virtual authenticator.)
//!
//! `SoftPasskey` makes neither discoverable credentials nor user handles: the
//! tests hand it the options with the resident-key requirement lifted, and
//! add the user handle to its answer as a browser's authenticator would
//! (the user handle is not signed; the server checks it against the
//! credential's owner).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};
use wristband::api::{PasskeyInfo, TokenResponse};
use wristband::config::Settings;
use wristband::tokens::AccessClaims;

use crate::helpers::storage::audit_events;
use crate::helpers::{
    Client, PASSWORD, ResponseExt, TestApp, TestDatabase, admin_settings, assert_error,
    backend_test, base_settings,
};

fn test_mode() -> Settings {
    Settings {
        test_mode: Some("true".into()),
        ..admin_settings()
    }
}

/// The origin the server's relying party accepts: `http://localhost:PORT`.
fn origin(app: &TestApp) -> Url {
    let port = app.address.rsplit(':').next().unwrap();
    Url::parse(&format!("http://localhost:{port}")).unwrap()
}

/// A user's authenticator, and what it registered.
struct Device {
    authenticator: SoftPasskey,
    passkey: PasskeyInfo,
    /// The credential id (base64url), as a browser lists it.
    credential_id: String,
}

async fn register_start(client: &Client) -> Value {
    let response = client
        .post("/auth/passkeys/register/start")
        .json(&json!({ "current_password": PASSWORD }))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.body().await
}

/// The browser's half of a registration: the authenticator's answer to
/// `started`'s options (`SoftPasskey` makes no resident keys: see the top).
fn create(authenticator: &mut SoftPasskey, origin: &Url, started: &Value) -> Value {
    let mut options = started["options"].clone();
    options["authenticatorSelection"]["residentKey"] = "discouraged".into();
    options["authenticatorSelection"]["requireResidentKey"] = false.into();
    let ccr: CreationChallengeResponse =
        serde_json::from_value(json!({ "publicKey": options })).unwrap();
    let credential = authenticator.do_registration(origin.clone(), ccr).unwrap();
    serde_json::to_value(credential).unwrap()
}

async fn register(app: &TestApp, client: &Client, name: Option<&str>) -> Device {
    let mut authenticator = SoftPasskey::new(true);
    let started = register_start(client).await;
    let credential = create(&mut authenticator, &origin(app), &started);
    let response = client
        .post("/auth/passkeys/register/finish")
        .json(&json!({
            "ceremony_id": started["ceremony_id"],
            "name": name,
            "credential": credential,
        }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    Device {
        authenticator,
        passkey: response.body().await,
        credential_id: credential["id"].as_str().unwrap().to_owned(),
    }
}

async fn login_start(client: &Client, email: Option<&str>) -> Value {
    let body = match email {
        Some(email) => json!({ "email": email }),
        None => json!({}),
    };
    let response = client.post("/auth/passkeys/login/start").json(&body).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.body().await
}

/// The browser's half of a sign-in: `device`'s assertion for `started`,
/// with `user`'s handle. (A discoverable ceremony lists no credential: the
/// browser finds the one it holds; `SoftPasskey` needs to be told it.)
fn get(device: &mut Device, origin: &Url, started: &Value, user: &str) -> Value {
    let mut options = started["options"].clone();
    if options["allowCredentials"]
        .as_array()
        .is_none_or(|ids| ids.is_empty())
    {
        options["allowCredentials"] = json!([{ "type": "public-key", "id": device.credential_id }]);
    }
    let rcr: RequestChallengeResponse =
        serde_json::from_value(json!({ "publicKey": options })).unwrap();
    let assertion = device
        .authenticator
        .do_authentication(origin.clone(), rcr)
        .unwrap();
    let mut assertion = serde_json::to_value(assertion).unwrap();
    let handle = uuid::Uuid::parse_str(user).unwrap();
    assertion["response"]["userHandle"] = URL_SAFE_NO_PAD.encode(handle.as_bytes()).into();
    assertion
}

async fn login_finish(client: &Client, started: &Value, assertion: &Value) -> reqwest::Response {
    client
        .post("/auth/passkeys/login/finish")
        .json(&json!({ "ceremony_id": started["ceremony_id"], "credential": assertion }))
        .await
}

/// Both halves with `email`: asserts 200, the cookies and `amr: ["hwk"]`.
async fn sign_in(app: &TestApp, device: &mut Device, user: &str, email: Option<&str>) -> Client {
    let client = app.anon();
    let started = login_start(&client, email).await;
    let assertion = get(device, &origin(app), &started, user);
    let response = login_finish(&client, &started, &assertion).await;
    assert_eq!(response.status(), StatusCode::OK, "passkey sign-in");
    assert!(client.has_refresh_token() && client.device_cookie().is_some());
    let client = client.signed_in(response).await;
    assert_eq!(claims(&client.token()).amr, ["hwk"]);
    client
}

fn claims(token: &str) -> AccessClaims {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

backend_test!(a_passkey_is_registered_used_renamed_and_removed);
async fn a_passkey_is_registered_used_renamed_and_removed(app: TestApp) {
    let alice = app.new_user().await;
    let (id, email) = (alice.user().id.to_string(), alice.user().email.clone());

    // A stolen access token alone adds no passkey.
    let wrong = alice
        .post("/auth/passkeys/register/start")
        .json(&json!({ "current_password": "not the password" }))
        .await;
    assert_error(wrong, StatusCode::FORBIDDEN, "invalid_credentials").await;
    let started = register_start(&alice).await;
    let options = &started["options"];
    assert_eq!(options["rp"]["id"], "localhost");
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "required"
    );
    let handle = uuid::Uuid::parse_str(&id).unwrap();
    assert_eq!(
        options["user"]["id"],
        URL_SAFE_NO_PAD.encode(handle.as_bytes())
    );

    let mut device = register(&app, &alice, Some("Laptop")).await;
    assert_eq!(device.passkey.name, "Laptop");
    assert!(device.passkey.last_used_at.is_none());
    // The second registration excludes the first passkey.
    let next = register_start(&alice).await;
    let excluded = next["options"]["excludeCredentials"].as_array().unwrap();
    assert_eq!(excluded.len(), 1);

    // With the email: that account's passkey is offered; without: none.
    let with_email = login_start(&app.anon(), Some(&email)).await;
    assert_eq!(
        with_email["options"]["allowCredentials"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(with_email["options"]["userVerification"], "required");
    let signed_in = sign_in(&app, &mut device, &id, Some(&email)).await;
    assert_eq!(signed_in.get("/auth/me").await.status(), StatusCode::OK);
    // Discoverable (no email) — twice: the counter moves on.
    sign_in(&app, &mut device, &id, None).await;
    sign_in(&app, &mut device, &id, None).await;

    let list: Vec<PasskeyInfo> = alice.get("/auth/passkeys").await.body().await;
    assert_eq!(list.len(), 1);
    assert!(list[0].last_used_at.is_some());
    let renamed = alice
        .patch(&format!("/auth/passkeys/{}", device.passkey.id))
        .json(&json!({ "name": "Work laptop" }))
        .await;
    assert_eq!(renamed.status(), StatusCode::OK);
    let renamed: PasskeyInfo = renamed.body().await;
    assert_eq!(renamed.name, "Work laptop");
    let too_long = alice
        .patch(&format!("/auth/passkeys/{}", device.passkey.id))
        .json(&json!({ "name": "x".repeat(65) }))
        .await;
    assert_error(too_long, StatusCode::BAD_REQUEST, "invalid_request").await;
    let empty = alice
        .patch(&format!("/auth/passkeys/{}", device.passkey.id))
        .json(&json!({ "name": "  " }))
        .await;
    assert_error(empty, StatusCode::BAD_REQUEST, "invalid_request").await;

    // Another user can neither see, rename nor remove it.
    let bob = app.new_user().await;
    let list: Vec<PasskeyInfo> = bob.get("/auth/passkeys").await.body().await;
    assert!(list.is_empty());
    let path = format!("/auth/passkeys/{}", device.passkey.id);
    let theirs = bob.patch(&path).json(&json!({ "name": "mine" })).await;
    assert_error(theirs, StatusCode::NOT_FOUND, "not_found").await;
    assert_error(bob.delete(&path).await, StatusCode::NOT_FOUND, "not_found").await;

    // Removed, it signs in no more.
    assert_eq!(alice.delete(&path).await.status(), StatusCode::NO_CONTENT);
    let client = app.anon();
    let started = login_start(&client, None).await;
    let assertion = get(&mut device, &origin(&app), &started, &id);
    let refused = login_finish(&client, &started, &assertion).await;
    assert_error(refused, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let events = audit_events(&app, &id);
    for event in ["passkey_added", "passkey_renamed", "passkey_removed"] {
        assert!(events.contains(&event.to_owned()), "{event}: {events:?}");
    }
}

backend_test!(
    answers_are_single_use_and_bound_to_their_ceremony,
    test_mode()
);
async fn answers_are_single_use_and_bound_to_their_ceremony(app: TestApp) {
    let alice = app.new_user().await;
    let id = alice.user().id.to_string();
    let mut device = register(&app, &alice, None).await;
    assert_eq!(
        device.passkey.name, "Unknown device",
        "the device's name by default"
    );

    // The same answer twice: the ceremony is spent.
    let client = app.anon();
    let started = login_start(&client, None).await;
    let assertion = get(&mut device, &origin(&app), &started, &id);
    assert_eq!(
        login_finish(&client, &started, &assertion).await.status(),
        StatusCode::OK
    );
    let replay = login_finish(&client, &started, &assertion).await;
    assert_error(replay, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    // Refused with a passkey that is the account's: audited about it.
    let events = audit_events(&app, &id);
    assert_eq!(events[0], "login_failed", "{events:?}");
    // A fresh answer to the spent ceremony: refused too.
    let again = get(&mut device, &origin(&app), &started, &id);
    let twice = login_finish(&client, &started, &again).await;
    assert_error(twice, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    // An old answer to a new ceremony: its challenge is not this one's.
    let fresh = login_start(&client, None).await;
    let stale = login_finish(&client, &fresh, &assertion).await;
    assert_error(stale, StatusCode::UNAUTHORIZED, "invalid_credentials").await;

    // Five minutes.
    let started = login_start(&client, None).await;
    app.advance_clock("301s").await;
    let late = get(&mut device, &origin(&app), &started, &id);
    let expired = login_finish(&client, &started, &late).await;
    assert_error(expired, StatusCode::UNAUTHORIZED, "invalid_credentials").await;

    // Another origin (a phishing page's): refused.
    let started = login_start(&client, None).await;
    let elsewhere = Url::parse("https://localhost:1").unwrap();
    let phished = get(&mut device, &elsewhere, &started, &id);
    let refused = login_finish(&client, &started, &phished).await;
    assert_error(refused, StatusCode::UNAUTHORIZED, "invalid_credentials").await;

    // A registration's ceremony is the registering user's alone.
    let bob = app.new_user().await;
    let started = register_start(&alice).await;
    let mut other = SoftPasskey::new(true);
    let credential = create(&mut other, &origin(&app), &started);
    let stolen = bob
        .post("/auth/passkeys/register/finish")
        .json(&json!({ "ceremony_id": started["ceremony_id"], "credential": credential }))
        .await;
    assert_error(stolen, StatusCode::BAD_REQUEST, "invalid_credential").await;
    let bogus = alice
        .post("/auth/passkeys/register/finish")
        .json(&json!({ "ceremony_id": "nope", "credential": credential }))
        .await;
    assert_error(bogus, StatusCode::BAD_REQUEST, "invalid_credential").await;
    // A sign-in's ceremony does not finish a registration.
    let login = login_start(&client, None).await;
    let crossed = alice
        .post("/auth/passkeys/register/finish")
        .json(&json!({ "ceremony_id": login["ceremony_id"], "credential": credential }))
        .await;
    assert_error(crossed, StatusCode::BAD_REQUEST, "invalid_credential").await;
}

backend_test!(another_users_credential_signs_nobody_in);
async fn another_users_credential_signs_nobody_in(app: TestApp) {
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let (alice_id, bob_id) = (alice.user().id.to_string(), bob.user().id.to_string());
    register(&app, &alice, None).await;
    let mut bobs = register(&app, &bob, None).await;

    // Bob's credential claiming Alice's user handle.
    let client = app.anon();
    let started = login_start(&client, None).await;
    let forged = get(&mut bobs, &origin(&app), &started, &alice_id);
    let refused = login_finish(&client, &started, &forged).await;
    assert_error(refused, StatusCode::UNAUTHORIZED, "invalid_credentials").await;

    // A ceremony started for Alice's email, answered with Bob's passkey.
    let mut started = login_start(&client, Some(&alice.user().email)).await;
    started["options"]["allowCredentials"] =
        json!([{ "type": "public-key", "id": bobs.credential_id }]);
    let swapped = get(&mut bobs, &origin(&app), &started, &bob_id);
    let refused = login_finish(&client, &started, &swapped).await;
    assert_error(refused, StatusCode::UNAUTHORIZED, "invalid_credentials").await;

    // Bob's own, for himself: fine.
    sign_in(&app, &mut bobs, &bob_id, None).await;
}

backend_test!(an_unknown_email_gets_options_that_look_real);
async fn an_unknown_email_gets_options_that_look_real(app: TestApp) {
    let alice = app.new_user().await;
    register(&app, &alice, None).await;
    let known = login_start(&app.anon(), Some(&alice.user().email)).await;
    let malformed = app
        .anon()
        .post("/auth/passkeys/login/start")
        .json(&json!({ "email": "not an address" }))
        .await;
    assert_error(malformed, StatusCode::BAD_REQUEST, "invalid_email").await;
    let unknown = login_start(&app.anon(), Some("nobody@example.com")).await;
    let again = login_start(&app.anon(), Some("Nobody@Example.com")).await;
    let without = app.new_user().await;
    let no_passkey = login_start(&app.anon(), Some(&without.user().email)).await;
    let shape = |started: &Value| {
        let options = &started["options"];
        let ids = options["allowCredentials"].as_array().unwrap();
        let keys: Vec<String> = options.as_object().unwrap().keys().cloned().collect();
        (ids.len(), ids[0]["id"].as_str().unwrap().len(), keys)
    };
    assert_eq!(shape(&unknown), shape(&known));
    assert_eq!(shape(&no_passkey), shape(&known));
    assert_eq!(
        unknown["options"]["allowCredentials"], again["options"]["allowCredentials"],
        "the same made-up id each time"
    );
    assert_ne!(
        unknown["options"]["allowCredentials"],
        known["options"]["allowCredentials"]
    );

    // Nothing finishes a decoy: not even the asker's own passkey, which would
    // tell them the address has none.
    let mut mine = register(&app, &without, None).await;
    let client = app.anon();
    let mut decoy = login_start(&client, Some("nobody@example.com")).await;
    decoy["options"]["allowCredentials"] =
        json!([{ "type": "public-key", "id": mine.credential_id }]);
    let own = get(
        &mut mine,
        &origin(&app),
        &decoy,
        &without.user().id.to_string(),
    );
    let refused = login_finish(&client, &decoy, &own).await;
    assert_error(refused, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

backend_test!(
    a_disabled_user_is_refused_and_a_second_factor_is_not_asked,
    test_mode()
);
async fn a_disabled_user_is_refused_and_a_second_factor_is_not_asked(app: TestApp) {
    let alice = app.new_user().await;
    let (id, email) = (alice.user().id.to_string(), alice.user().email.clone());
    let mut device = register(&app, &alice, None).await;
    // TOTP on: the password alone now needs a second step, a passkey does not.
    let secret = alice
        .post("/auth/mfa/totp")
        .json(&json!({ "current_password": PASSWORD }))
        .await
        .body::<Value>()
        .await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let now = app.advance_clock("0s").await.now.timestamp();
    let totp = totp_rs::Builder::new()
        .with_secret(
            totp_rs::Secret::try_from_base32(&secret)
                .unwrap()
                .as_bytes()
                .to_vec(),
        )
        .build()
        .unwrap();
    let confirmed = alice
        .post("/auth/mfa/totp/confirm")
        .json(&json!({ "code": totp.generate(now as u64).to_string() }))
        .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let password: Value = app.anon().try_login(&email, PASSWORD).await.body().await;
    assert_eq!(password["mfa_required"], true);
    let signed_in = sign_in(&app, &mut device, &id, Some(&email)).await;
    let tokens: TokenResponse = signed_in.post("/auth/refresh").await.body().await;
    assert_eq!(
        claims(&tokens.access_token).amr,
        ["hwk"],
        "kept by a refresh"
    );

    // The audit says how the login was made.
    let admin = app.admin().await;
    let events: Vec<Value> = admin
        .get(&format!("/admin/audit?user_id={id}"))
        .await
        .body()
        .await;
    let login = events
        .iter()
        .find(|e| e["event"] == "login_succeeded")
        .unwrap();
    assert_eq!(login["detail"], "hwk", "{login}");
    let disabled = admin
        .patch(&format!("/admin/users/{id}"))
        .json(&json!({ "disabled": true }))
        .await;
    assert_eq!(disabled.status(), StatusCode::OK);
    let client = app.anon();
    let started = login_start(&client, None).await;
    let assertion = get(&mut device, &origin(&app), &started, &id);
    let refused = login_finish(&client, &started, &assertion).await;
    assert_error(refused, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

backend_test!(two_instances_share_ceremonies);
async fn two_instances_share_ceremonies(db: TestDatabase) {
    // One public origin in front of both, as behind a load balancer.
    let settings = Settings {
        public_url: Some("http://localhost:9999".into()),
        ..base_settings()
    };
    let a = db.spawn(settings.clone()).await;
    let b = db.spawn(settings).await;
    let origin = Url::parse("http://localhost:9999").unwrap();
    let alice = a.new_user().await;
    let id = alice.user().id.to_string();

    // Registration started on A, finished on B.
    let mut authenticator = SoftPasskey::new(true);
    let started = register_start(&alice).await;
    let credential = create(&mut authenticator, &origin, &started);
    let finished = alice
        .on(&b)
        .post("/auth/passkeys/register/finish")
        .json(&json!({ "ceremony_id": started["ceremony_id"], "credential": credential }))
        .await;
    assert_eq!(finished.status(), StatusCode::CREATED);
    let mut device = Device {
        authenticator,
        passkey: finished.body().await,
        credential_id: credential["id"].as_str().unwrap().to_owned(),
    };

    // A sign-in started on B, finished on A; then not again on B.
    let client = b.anon();
    let started = login_start(&client, None).await;
    let assertion = get(&mut device, &origin, &started, &id);
    let on_a = login_finish(&client.on(&a), &started, &assertion).await;
    assert_eq!(on_a.status(), StatusCode::OK);
    let on_b = login_finish(&client, &started, &assertion).await;
    assert_error(on_b, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

backend_test!(added_and_removed_passkeys_are_mailed, test_mode());
async fn added_and_removed_passkeys_are_mailed(app: TestApp) {
    let email = "keys@example.com";
    let alice = app
        .test_user(json!({ "email": email, "password": PASSWORD }))
        .await;
    let device = register(&app, &alice, Some("Phone <b>")).await;
    let path = format!("/auth/passkeys/{}", device.passkey.id);
    assert_eq!(alice.delete(&path).await.status(), StatusCode::NO_CONTENT);
    let mails = app.mailbox(email).await;
    assert_eq!(
        mails[0].subject,
        "A passkey was removed from your Wristband account"
    );
    assert_eq!(
        mails[1].subject,
        "A passkey was added to your Wristband account"
    );
    assert!(mails[1].text.contains("\"Phone <b>\""), "{}", mails[1].text);
    assert!(
        mails[1].html.contains("Phone &lt;b&gt;"),
        "escaped: {}",
        mails[1].html
    );
}
