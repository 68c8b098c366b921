//! The second factor: TOTP enrolment, the login's second step, codes
//! accepted once (under concurrency too), recovery codes, the lockout
//! counting wrong codes, the `mfa_token`'s rules, disabling, an admin's
//! removal, the password reset of a user with a factor, `amr`, and what the
//! database holds. Test mode's clock makes the time steps: each code a test
//! needs is for a step after the last one accepted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use wristband::api::{ClockState, TokenResponse, User};
use wristband::config::Settings;
use wristband::tokens::AccessClaims;

use crate::helpers::storage::audit_events;
use crate::helpers::{
    Client, PASSWORD, ResponseExt, SECRET, TestApp, TestDatabase, admin_settings, assert_error,
    backend_test, base_settings,
};

fn test_mode() -> Settings {
    Settings {
        test_mode: Some("true".into()),
        ..admin_settings()
    }
}

fn lockout(max_failures: &str) -> Settings {
    Settings {
        login_max_failures: Some(max_failures.into()),
        login_lockout: Some("15m".into()),
        ..test_mode()
    }
}

/// The server's time now, in seconds.
async fn server_now(app: &TestApp) -> i64 {
    let clock: ClockState = app.anon().get("/test/clock").await.body().await;
    clock.now.timestamp()
}

/// The code of `secret` (base32) at `time`: an authenticator app's.
fn code_at(secret: &str, time: i64) -> String {
    let bytes = totp_rs::Secret::try_from_base32(secret)
        .expect("base32")
        .as_bytes()
        .to_vec();
    let totp = totp_rs::Builder::new()
        .with_secret(bytes)
        .build()
        .expect("a valid secret");
    totp.generate(u64::try_from(time).unwrap()).to_string()
}

/// The code of the server's current step.
async fn code_now(app: &TestApp, secret: &str) -> String {
    code_at(secret, server_now(app).await)
}

/// A code of a step after every step used so far: the clock moves on 30 s.
async fn next_code(app: &TestApp, secret: &str) -> String {
    app.advance_clock("30s").await;
    code_now(app, secret).await
}

/// Asks for a password reset of `email`; the token of the link mailed.
async fn reset_link(app: &TestApp, email: &str) -> String {
    let asked = app
        .anon()
        .post("/auth/password-reset")
        .json(&json!({ "email": email }))
        .await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let mails: Vec<wristband::api::Mail> = app
        .anon()
        .get(&format!("/test/mailbox?to={email}"))
        .await
        .body()
        .await;
    let text = &mails[0].text;
    let at = text.find("#reset-password=").unwrap() + "#reset-password=".len();
    text[at..].chars().take(43).collect()
}

fn claims(token: &str) -> AccessClaims {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// A user with a confirmed factor: their client (signed in, its session
/// re-keyed by the confirmation), the secret and the recovery codes.
struct Enrolled {
    client: Client,
    secret: String,
    recovery_codes: Vec<String>,
}

async fn start(client: &Client) -> Value {
    let response = client
        .post("/auth/mfa/totp")
        .json(&json!({ "current_password": PASSWORD }))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.body().await
}

async fn enrolled(app: &TestApp) -> Enrolled {
    let client = app.new_user().await;
    let secret = start(&client).await["secret"].as_str().unwrap().to_owned();
    let code = code_now(app, &secret).await;
    let response = client
        .post("/auth/mfa/totp/confirm")
        .json(&json!({ "code": code }))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.body().await;
    let recovery_codes: Vec<String> =
        serde_json::from_value(body["recovery_codes"].clone()).unwrap();
    let token = body["access_token"].as_str().unwrap().to_owned();
    Enrolled {
        client: client.with_token(&token),
        secret,
        recovery_codes,
    }
}

/// The first step: asserts the `mfa_required` answer (and no cookie), and
/// returns the `mfa_token`.
async fn password_step(client: &Client, email: &str) -> String {
    let response = client.try_login(email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers().get("set-cookie").is_none(),
        "no cookie before the second step"
    );
    let body: Value = response.body().await;
    assert_eq!(body["mfa_required"], true, "{body}");
    assert_eq!(body["methods"], json!(["totp", "recovery_code"]));
    assert!(body.get("access_token").is_none(), "{body}");
    body["mfa_token"].as_str().unwrap().to_owned()
}

async fn second_step(
    client: &Client,
    mfa_token: &str,
    field: &str,
    code: &str,
) -> reqwest::Response {
    client
        .post("/auth/login/mfa")
        .json(&json!({ "mfa_token": mfa_token, field: code }))
        .await
}

/// Both steps with a code; asserts 200 and returns the signed-in client.
async fn login_with(app: &TestApp, email: &str, field: &str, code: &str) -> Client {
    let client = app.anon();
    let token = password_step(&client, email).await;
    let response = second_step(&client, &token, field, code).await;
    assert_eq!(response.status(), StatusCode::OK, "second step");
    assert!(client.has_refresh_token(), "the refresh cookie");
    assert!(client.device_cookie().is_some(), "the device cookie");
    client.signed_in(response).await
}

backend_test!(enrolment_then_a_login_in_two_steps, test_mode());
async fn enrolment_then_a_login_in_two_steps(app: TestApp) {
    let alice = app.new_user().await;
    let email = alice.user().email.clone();
    let elsewhere = app.login(&email, PASSWORD).await;
    let wrong = alice
        .post("/auth/mfa/totp")
        .json(&json!({ "current_password": "not the password" }))
        .await;
    assert_error(wrong, StatusCode::FORBIDDEN, "invalid_credentials").await;

    // A pending factor changes nothing yet, and a second start replaces it.
    let first = start(&alice).await;
    let pending = start(&alice).await;
    assert_ne!(first["secret"], pending["secret"]);
    let secret = pending["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 32, "160 bits in base32");
    let uri = pending["otpauth_uri"].as_str().unwrap();
    let account = email.replace('+', "%2B");
    assert_eq!(
        uri,
        format!(
            "otpauth://totp/Wristband:{account}?secret={secret}&issuer=Wristband&algorithm=SHA1&digits=6&period=30"
        )
    );
    assert!(pending["qr_svg"].as_str().unwrap().contains("<svg"));
    let me: User = alice.get("/auth/me").await.body().await;
    assert!(!me.mfa_enabled);
    let still_one_step = app.anon().try_login(&email, PASSWORD).await;
    let body: Value = still_one_step.body().await;
    assert!(body["access_token"].is_string(), "pending: {body}");

    // The old pending secret's code does not confirm the new one.
    let stale = code_now(&app, first["secret"].as_str().unwrap()).await;
    let refused = alice
        .post("/auth/mfa/totp/confirm")
        .json(&json!({ "code": stale }))
        .await;
    assert_error(refused, StatusCode::BAD_REQUEST, "invalid_code").await;

    let code = code_now(&app, &secret).await;
    let confirmed = alice
        .post("/auth/mfa/totp/confirm")
        .json(&json!({ "code": code }))
        .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let set_cookies = confirmed.headers().get_all("set-cookie").iter().count();
    assert_eq!(set_cookies, 2, "the refresh and device cookies");
    let body: Value = confirmed.body().await;
    let codes = body["recovery_codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    assert!(codes.iter().all(|c| c.as_str().unwrap().len() == 29));
    let tokens: TokenResponse = serde_json::from_value(body.clone()).unwrap();
    assert!(tokens.user.mfa_enabled);
    assert_eq!(claims(&tokens.access_token).amr, ["pwd", "otp"]);

    // Every other session ended; this one lives on with its new token.
    elsewhere.refresh_refused("revoked").await;
    let alice = alice.with_token(&tokens.access_token);
    let me: User = alice.get("/auth/me").await.body().await;
    assert!(me.mfa_enabled);
    let again = alice
        .post("/auth/mfa/totp")
        .json(&json!({ "current_password": PASSWORD }))
        .await;
    assert_error(again, StatusCode::CONFLICT, "mfa_already_enabled").await;
    let refreshed = alice.refresh().await;
    assert_eq!(
        claims(&refreshed.access_token).amr,
        ["pwd", "otp"],
        "kept by a refresh"
    );

    // The login now takes two steps.
    let code = next_code(&app, &secret).await;
    let signed_in = login_with(&app, &email, "code", &code).await;
    assert_eq!(claims(&signed_in.token()).amr, ["pwd", "otp"]);
    assert!(signed_in.user().mfa_enabled);
    assert_eq!(signed_in.get("/auth/me").await.status(), StatusCode::OK);
    let events = audit_events(&app, &me.id);
    assert!(events.contains(&"mfa_enabled".to_owned()), "{events:?}");
    assert!(
        events[..2].contains(&"login_succeeded".to_owned()),
        "{events:?}"
    );
}

backend_test!(a_code_is_accepted_once, test_mode());
async fn a_code_is_accepted_once(app: TestApp) {
    let alice = enrolled(&app).await;
    let email = alice.client.user().email.clone();
    let code = next_code(&app, &alice.secret).await;
    login_with(&app, &email, "code", &code).await;

    let client = app.anon();
    let token = password_step(&client, &email).await;
    let replay = second_step(&client, &token, "code", &code).await;
    assert_error(replay, StatusCode::UNAUTHORIZED, "invalid_code").await;
    // An earlier step's code, still inside the window, is refused as well.
    let earlier = code_at(&alice.secret, server_now(&app).await - 30);
    let response = second_step(&client, &token, "code", &earlier).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_code").await;

    // Eight logins at once with one new code: exactly one gets in, and the
    // replays do not lock the account (they are refused, not counted).
    let code = next_code(&app, &alice.secret).await;
    let mut clients = Vec::new();
    for _ in 0..8 {
        let client = app.anon();
        let token = password_step(&client, &email).await;
        clients.push((client, token));
    }
    let answers = futures_util::future::join_all(
        clients
            .iter()
            .map(|(client, token)| second_step(client, token, "code", &code)),
    )
    .await;
    let statuses: Vec<StatusCode> = answers.iter().map(|r| r.status()).collect();
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    let events = audit_events(&app, &alice.client.user().id);
    assert!(
        events.contains(&"mfa_failed".to_owned()),
        "audited: {events:?}"
    );
    // Nine replays, more than the five failures that lock: not locked.
    let code = next_code(&app, &alice.secret).await;
    login_with(&app, &email, "code", &code).await;
}

backend_test!(a_recovery_code_works_once, test_mode());
async fn a_recovery_code_works_once(app: TestApp) {
    let alice = enrolled(&app).await;
    let email = alice.client.user().email.clone();
    let first = &alice.recovery_codes[0];
    let signed_in = login_with(&app, &email, "recovery_code", first).await;
    assert_eq!(claims(&signed_in.token()).amr, ["pwd", "rec"]);

    let client = app.anon();
    let token = password_step(&client, &email).await;
    let again = second_step(&client, &token, "recovery_code", first).await;
    assert_error(again, StatusCode::UNAUTHORIZED, "invalid_code").await;
    // Typed in capitals with spaces for dashes, a code still counts.
    let typed = alice.recovery_codes[1].to_uppercase().replace('-', " ");
    let response = second_step(&client, &token, "recovery_code", &typed).await;
    assert_eq!(response.status(), StatusCode::OK);

    // A new set (with a code): the old one dies, the new one works.
    let code = next_code(&app, &alice.secret).await;
    let renewed = signed_in
        .post("/auth/mfa/recovery-codes")
        .json(&json!({ "code": code }))
        .await;
    assert_eq!(renewed.status(), StatusCode::OK);
    let body: Value = renewed.body().await;
    let fresh: Vec<String> = serde_json::from_value(body["recovery_codes"].clone()).unwrap();
    assert_eq!(fresh.len(), 10);
    let client = app.anon();
    let token = password_step(&client, &email).await;
    let old = second_step(&client, &token, "recovery_code", &alice.recovery_codes[2]).await;
    assert_error(old, StatusCode::UNAUTHORIZED, "invalid_code").await;
    let response = second_step(&client, &token, "recovery_code", &fresh[0]).await;
    assert_eq!(response.status(), StatusCode::OK);
    // Recovery codes: three accepted at the second step, one refused; a
    // TOTP code accepted by the confirm and one for the new set.
    let metrics = app.anon().get("/metrics").await.text().await.unwrap();
    for line in [
        r#"wristband_mfa_checks_total{method="recovery_code",outcome="accepted"} 3"#,
        r#"wristband_mfa_checks_total{method="recovery_code",outcome="refused"} 2"#,
        r#"wristband_mfa_checks_total{method="totp",outcome="accepted"} 2"#,
        r#"wristband_logins_total{outcome="mfa_required"} 3"#,
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    let events = audit_events(&app, &alice.client.user().id);
    for event in [
        "mfa_recovery_code_used",
        "mfa_recovery_codes_regenerated",
        "mfa_failed",
    ] {
        assert!(events.contains(&event.to_owned()), "{event}: {events:?}");
    }
}

backend_test!(wrong_codes_count_in_the_lockout, lockout("3"));
async fn wrong_codes_count_in_the_lockout(app: TestApp) {
    let alice = enrolled(&app).await;
    let email = alice.client.user().email.clone();
    // A known device of the account: it logged in with both steps.
    let code = next_code(&app, &alice.secret).await;
    let known = login_with(&app, &email, "code", &code).await;

    // Two wrong codes from an untrusted client; a right password in between
    // does not reset the count (it would give the second step more tries).
    let guesser = app.anon();
    let token = password_step(&guesser, &email).await;
    for _ in 0..2 {
        let wrong = second_step(&guesser, &token, "code", "000000").await;
        assert_error(wrong, StatusCode::UNAUTHORIZED, "invalid_code").await;
    }
    let token = password_step(&guesser, &email).await;
    let wrong = second_step(
        &guesser,
        &token,
        "recovery_code",
        "aaaa-bbbb-cccc-dddd-eeee-ffff",
    )
    .await;
    assert_error(wrong, StatusCode::UNAUTHORIZED, "invalid_code").await;
    // Locked now, right code or not, and the password step too.
    let code = next_code(&app, &alice.secret).await;
    let locked = second_step(&guesser, &token, "code", &code).await;
    assert_error(locked, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
    let locked = app.anon().try_login(&email, PASSWORD).await;
    assert_error(locked, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;

    // The owner's known device is not locked out.
    let token = password_step(&known, &email).await;
    let response = second_step(&known, &token, "code", &code).await;
    assert_eq!(response.status(), StatusCode::OK);

    // Codes a signed-in caller sends count too.
    let signed_in = known.signed_in(response).await;
    for _ in 0..3 {
        let wrong = signed_in
            .delete("/auth/mfa/totp")
            .json(&json!({ "code": "000000" }))
            .await;
        assert_error(wrong, StatusCode::BAD_REQUEST, "invalid_code").await;
    }
    let code = next_code(&app, &alice.secret).await;
    let locked = signed_in
        .delete("/auth/mfa/totp")
        .json(&json!({ "code": code }))
        .await;
    assert_error(locked, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
}

backend_test!(
    the_mfa_token_is_short_lived_single_use_and_bound,
    test_mode()
);
async fn the_mfa_token_is_short_lived_single_use_and_bound(app: TestApp) {
    let alice = enrolled(&app).await;
    let email = alice.client.user().email.clone();
    let client = app.anon();

    let unknown = second_step(&client, "no-such-token", "code", "123456").await;
    assert_error(unknown, StatusCode::UNAUTHORIZED, "invalid_mfa_token").await;
    let token = password_step(&client, &email).await;
    for body in [
        json!({ "mfa_token": token }),
        json!({ "mfa_token": token, "code": "123456", "recovery_code": "aaaa-bbbb-cccc-dddd-eeee-ffff" }),
    ] {
        let response = client.post("/auth/login/mfa").json(&body).await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }

    // Spent by a success.
    let code = next_code(&app, &alice.secret).await;
    assert_eq!(
        second_step(&client, &token, "code", &code).await.status(),
        StatusCode::OK
    );
    let code = next_code(&app, &alice.secret).await;
    let spent = second_step(&client, &token, "code", &code).await;
    assert_error(spent, StatusCode::UNAUTHORIZED, "invalid_mfa_token").await;

    // Five minutes.
    let token = password_step(&client, &email).await;
    app.advance_clock("301s").await;
    let code = code_now(&app, &alice.secret).await;
    let expired = second_step(&client, &token, "code", &code).await;
    assert_error(expired, StatusCode::UNAUTHORIZED, "invalid_mfa_token").await;

    // A password change since ends it.
    let token = password_step(&client, &email).await;
    let code = next_code(&app, &alice.secret).await;
    let changed = alice
        .client
        .post("/auth/password")
        .json(&json!({
            "current_password": PASSWORD,
            "new_password": "a brand new passphrase",
            "code": code,
        }))
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let code = next_code(&app, &alice.secret).await;
    let stale = second_step(&client, &token, "code", &code).await;
    assert_error(stale, StatusCode::UNAUTHORIZED, "invalid_mfa_token").await;
}

backend_test!(a_code_outside_its_window_is_refused, test_mode());
async fn a_code_outside_its_window_is_refused(app: TestApp) {
    let alice = enrolled(&app).await;
    let email = alice.client.user().email.clone();
    app.advance_clock("30s").await;
    let now = server_now(&app).await;
    let code = code_at(&alice.secret, now);
    let client = app.anon();
    let token = password_step(&client, &email).await;
    // Three steps on, the code is no longer near now.
    app.advance_clock("90s").await;
    if code_now(&app, &alice.secret).await != code
        && code_at(&alice.secret, now + 60) != code
        && code_at(&alice.secret, now + 120) != code
    {
        let late = second_step(&client, &token, "code", &code).await;
        assert_error(late, StatusCode::UNAUTHORIZED, "invalid_code").await;
    }
    // The code of the step before now is still fine (one step of skew).
    let before = code_at(&alice.secret, server_now(&app).await - 30);
    let response = second_step(&client, &token, "code", &before).await;
    assert_eq!(response.status(), StatusCode::OK);
}

backend_test!(disabling_and_an_admins_removal, test_mode());
async fn disabling_and_an_admins_removal(app: TestApp) {
    let alice = enrolled(&app).await;
    let email = alice.client.user().email.clone();
    let wrong = alice
        .client
        .delete("/auth/mfa/totp")
        .json(&json!({ "code": "000000" }))
        .await;
    assert_error(wrong, StatusCode::BAD_REQUEST, "invalid_code").await;
    // A recovery code disables too.
    let disabled = alice
        .client
        .delete("/auth/mfa/totp")
        .json(&json!({ "code": alice.recovery_codes[0] }))
        .await;
    assert_eq!(disabled.status(), StatusCode::NO_CONTENT);
    let me: User = alice.client.get("/auth/me").await.body().await;
    assert!(!me.mfa_enabled);
    let again = alice
        .client
        .delete("/auth/mfa/totp")
        .json(&json!({ "code": "000000" }))
        .await;
    assert_error(again, StatusCode::CONFLICT, "mfa_not_enabled").await;
    let one_step = app.login(&email, PASSWORD).await;
    assert_eq!(claims(&one_step.token()).amr, ["pwd"]);

    // An admin removes Bob's factor: every session of Bob ends.
    let bob = enrolled(&app).await;
    let bob_email = bob.client.user().email.clone();
    let admin = app.admin().await;
    let id = bob.client.user().id.to_string();
    let removed = admin.delete(&format!("/admin/users/{id}/mfa")).await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    bob.client.refresh_refused("revoked").await;
    let me = bob.client.get("/auth/me").await;
    assert_error(me, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let user: User = admin.get(&format!("/admin/users/{id}")).await.body().await;
    assert!(!user.mfa_enabled);
    app.login(&bob_email, PASSWORD).await;
    let events = audit_events(&app, &id);
    assert!(events.contains(&"mfa_reset".to_owned()), "{events:?}");
    let unknown = admin
        .delete(&format!("/admin/users/{}/mfa", uuid::Uuid::new_v4()))
        .await;
    assert_error(unknown, StatusCode::NOT_FOUND, "not_found").await;
    let not_admin = one_step.delete(&format!("/admin/users/{id}/mfa")).await;
    assert_error(not_admin, StatusCode::FORBIDDEN, "forbidden").await;
    let audit = audit_events(&app, &alice.client.user().id);
    assert!(audit.contains(&"mfa_disabled".to_owned()), "{audit:?}");
}

backend_test!(
    a_password_reset_does_not_skip_the_second_factor,
    test_mode()
);
async fn a_password_reset_does_not_skip_the_second_factor(app: TestApp) {
    let alice = enrolled(&app).await;
    let email = alice.client.user().email.clone();
    let link = reset_link(&app, &email).await;
    let client = app.anon();
    let response = client
        .post("/auth/password-reset/confirm")
        .json(&json!({"token": link, "new_password": "a brand new passphrase"}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers().get("set-cookie").is_none(),
        "no cookie yet"
    );
    let body: Value = response.body().await;
    assert_eq!(body["mfa_required"], true, "{body}");
    let code = next_code(&app, &alice.secret).await;
    let token = body["mfa_token"].as_str().unwrap();
    let finished = second_step(&client, token, "code", &code).await;
    assert_eq!(finished.status(), StatusCode::OK);
}

backend_test!(
    introspection_tells_how_the_login_was_made,
    Settings {
        introspection_secret: Some(SECRET.into()),
        ..test_mode()
    }
);
async fn introspection_tells_how_the_login_was_made(app: TestApp) {
    let alice = enrolled(&app).await;
    let body: Value = app
        .anon()
        .with_token(SECRET)
        .post("/auth/introspect")
        .form(&[("token", alice.client.token())])
        .await
        .body()
        .await;
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["amr"], json!(["pwd", "otp"]));
}

backend_test!(a_database_copy_alone_yields_no_secret);
async fn a_database_copy_alone_yields_no_secret(db: TestDatabase) {
    let settings = Settings {
        test_mode: Some("true".into()),
        refresh_secret: Some("the-first-refresh-secret-of-32-bytes-or-more".into()),
        ..base_settings()
    };
    let app = db.spawn(settings.clone()).await;
    let alice = enrolled(&app).await;
    let email = alice.client.user().email.clone();
    let stored = crate::helpers::storage::stored_mfa_secrets(&app);
    assert_eq!(stored.len(), 11, "one secret and ten codes: {stored:?}");
    let raw = totp_rs::Secret::try_from_base32(&alice.secret).unwrap();
    let raw_hex: String = raw.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
    for value in &stored {
        assert!(
            !value.contains(&alice.secret) && !value.contains(&raw_hex),
            "{value}"
        );
        for code in &alice.recovery_codes {
            assert!(!value.contains(&code.replace('-', "")), "{value}");
        }
    }
    // The same database under another refresh secret opens nothing: the
    // right code and a right recovery code are both refused.
    let other = db
        .spawn(Settings {
            refresh_secret: Some("another-refresh-secret-of-32-bytes-or-more".into()),
            ..settings
        })
        .await;
    let client = other.anon();
    let token = password_step(&client, &email).await;
    // (The server's fault, not the client's: 503, not counted as a failure.)
    let code = next_code(&other, &alice.secret).await;
    let refused = second_step(&client, &token, "code", &code).await;
    assert_error(refused, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    let refused = second_step(&client, &token, "recovery_code", &alice.recovery_codes[0]).await;
    assert_error(refused, StatusCode::UNAUTHORIZED, "invalid_code").await;
}

backend_test!(
    the_confirming_code_is_spent_and_confirms_are_limited,
    lockout("3")
);
async fn the_confirming_code_is_spent_and_confirms_are_limited(app: TestApp) {
    // The code that confirmed the factor cannot sign in as well.
    let alice = app.new_user().await;
    let email = alice.user().email.clone();
    let secret = start(&alice).await["secret"].as_str().unwrap().to_owned();
    let code = code_now(&app, &secret).await;
    let confirmed = alice
        .post("/auth/mfa/totp/confirm")
        .json(&json!({ "code": code }))
        .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let client = app.anon();
    let token = password_step(&client, &email).await;
    let same = second_step(&client, &token, "code", &code).await;
    assert_error(same, StatusCode::UNAUTHORIZED, "invalid_code").await;

    // Guessing at a pending factor with a stolen access token: the lockout
    // stops it after three wrong codes, the right one included.
    let bob = app.new_user().await;
    let secret = start(&bob).await["secret"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        let wrong = bob
            .post("/auth/mfa/totp/confirm")
            .json(&json!({ "code": "000000" }))
            .await;
        assert_error(wrong, StatusCode::BAD_REQUEST, "invalid_code").await;
    }
    let right = code_now(&app, &secret).await;
    let locked = bob
        .post("/auth/mfa/totp/confirm")
        .json(&json!({ "code": right }))
        .await;
    assert_error(locked, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;

    // A pending factor lasts ten minutes.
    app.advance_clock("16m").await;
    let carol = app.new_user().await;
    let secret = start(&carol).await["secret"].as_str().unwrap().to_owned();
    app.advance_clock("11m").await;
    let tokens = carol.refresh().await;
    let carol = carol.with_token(&tokens.access_token);
    let late = carol
        .post("/auth/mfa/totp/confirm")
        .json(&json!({ "code": code_now(&app, &secret).await }))
        .await;
    assert_error(late, StatusCode::BAD_REQUEST, "invalid_code").await;
}

backend_test!(a_password_change_needs_the_second_factor, test_mode());
async fn a_password_change_needs_the_second_factor(app: TestApp) {
    let alice = enrolled(&app).await;
    let email = alice.client.user().email.clone();
    let change = |code: Option<&str>| {
        let mut body = json!({
            "current_password": PASSWORD,
            "new_password": "a brand new passphrase",
        });
        if let Some(code) = code {
            body["code"] = json!(code);
        }
        body
    };
    let without = alice
        .client
        .post("/auth/password")
        .json(&change(None))
        .await;
    assert_error(without, StatusCode::BAD_REQUEST, "invalid_code").await;
    let wrong = alice
        .client
        .post("/auth/password")
        .json(&change(Some("000000")))
        .await;
    assert_error(wrong, StatusCode::BAD_REQUEST, "invalid_code").await;
    // Nothing changed: the old password still takes the first step.
    password_step(&app.anon(), &email).await;

    let code = next_code(&app, &alice.secret).await;
    let changed = alice
        .client
        .post("/auth/password")
        .json(&change(Some(&code)))
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let tokens: TokenResponse = changed.body().await;
    assert_eq!(claims(&tokens.access_token).amr, ["pwd", "otp"]);
    // The code is spent: it cannot sign in too.
    let client = app.anon();
    let response = client.try_login(&email, "a brand new passphrase").await;
    let body: Value = response.body().await;
    let token = body["mfa_token"].as_str().unwrap();
    let spent = second_step(&client, token, "code", &code).await;
    assert_error(spent, StatusCode::UNAUTHORIZED, "invalid_code").await;
}

backend_test!(the_mfa_token_dies_with_the_account_state, test_mode());
async fn the_mfa_token_dies_with_the_account_state(app: TestApp) {
    let alice = enrolled(&app).await;
    let email = alice.client.user().email.clone();
    let id = alice.client.user().id.to_string();
    let admin = app.admin().await;
    let client = app.anon();

    // Disabled between the two steps.
    let token = password_step(&client, &email).await;
    let disabled = admin
        .patch(&format!("/admin/users/{id}"))
        .json(&json!({ "disabled": true }))
        .await;
    assert_eq!(disabled.status(), StatusCode::OK);
    let code = next_code(&app, &alice.secret).await;
    let refused = second_step(&client, &token, "code", &code).await;
    assert_error(refused, StatusCode::UNAUTHORIZED, "invalid_mfa_token").await;
    let enabled = admin
        .patch(&format!("/admin/users/{id}"))
        .json(&json!({ "disabled": false }))
        .await;
    assert_eq!(enabled.status(), StatusCode::OK);

    // The factor removed between the two steps.
    let token = password_step(&client, &email).await;
    let removed = admin.delete(&format!("/admin/users/{id}/mfa")).await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let code = next_code(&app, &alice.secret).await;
    let refused = second_step(&client, &token, "code", &code).await;
    assert_error(refused, StatusCode::UNAUTHORIZED, "invalid_mfa_token").await;
}

backend_test!(
    signed_in_routes_refuse_replays_and_spend_recovery_codes,
    lockout("3")
);
async fn signed_in_routes_refuse_replays_and_spend_recovery_codes(app: TestApp) {
    let alice = enrolled(&app).await;
    let code = next_code(&app, &alice.secret).await;
    let renewed = alice
        .client
        .post("/auth/mfa/recovery-codes")
        .json(&json!({ "code": code }))
        .await;
    assert_eq!(renewed.status(), StatusCode::OK);
    let fresh: Value = renewed.body().await;
    let fresh: Vec<String> = serde_json::from_value(fresh["recovery_codes"].clone()).unwrap();
    // The same code again is a replay: refused, and (four times, over the
    // limit of three) not counted.
    for _ in 0..4 {
        let replay = alice
            .client
            .post("/auth/mfa/recovery-codes")
            .json(&json!({ "code": code }))
            .await;
        assert_error(replay, StatusCode::BAD_REQUEST, "invalid_code").await;
    }
    // Two wrong codes, then a right one resets the count: two more wrong
    // ones do not lock.
    for _ in 0..2 {
        let wrong = alice
            .client
            .post("/auth/mfa/recovery-codes")
            .json(&json!({ "code": "000000" }))
            .await;
        assert_error(wrong, StatusCode::BAD_REQUEST, "invalid_code").await;
    }
    let used = alice
        .client
        .post("/auth/mfa/recovery-codes")
        .json(&json!({ "code": fresh[0] }))
        .await;
    assert_eq!(
        used.status(),
        StatusCode::OK,
        "a recovery code makes a new set"
    );
    let newest: Value = used.body().await;
    let newest: Vec<String> = serde_json::from_value(newest["recovery_codes"].clone()).unwrap();
    for _ in 0..2 {
        let wrong = alice
            .client
            .delete("/auth/mfa/totp")
            .json(&json!({ "code": "000000" }))
            .await;
        assert_error(wrong, StatusCode::BAD_REQUEST, "invalid_code").await;
    }
    let off = alice
        .client
        .delete("/auth/mfa/totp")
        .json(&json!({ "code": newest[1] }))
        .await;
    assert_eq!(off.status(), StatusCode::NO_CONTENT);
}

backend_test!(
    a_reset_keeps_the_lockout_of_a_user_with_a_factor,
    lockout("3")
);
async fn a_reset_keeps_the_lockout_of_a_user_with_a_factor(app: TestApp) {
    let alice = enrolled(&app).await;
    let email = alice.client.user().email.clone();
    let guesser = app.anon();
    let token = password_step(&guesser, &email).await;
    for _ in 0..3 {
        let wrong = second_step(&guesser, &token, "code", "000000").await;
        assert_error(wrong, StatusCode::UNAUTHORIZED, "invalid_code").await;
    }
    let link = reset_link(&app, &email).await;
    let reset = guesser
        .post("/auth/password-reset/confirm")
        .json(&json!({"token": link, "new_password": "a brand new passphrase"}))
        .await;
    assert_eq!(reset.status(), StatusCode::OK);
    let body: Value = reset.body().await;
    let token = body["mfa_token"].as_str().unwrap();
    // Still locked: the mailbox bought no fresh guesses.
    let code = next_code(&app, &alice.secret).await;
    let locked = second_step(&guesser, token, "code", &code).await;
    assert_error(locked, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
}

backend_test!(
    changes_to_the_second_factor_are_mailed_to_a_verified_address,
    test_mode()
);
async fn changes_to_the_second_factor_are_mailed_to_a_verified_address(app: TestApp) {
    let email = "notified@example.com";
    let alice = app
        .test_user(json!({ "email": email, "password": PASSWORD }))
        .await;
    assert!(alice.user().email_verified);
    let secret = start(&alice).await["secret"].as_str().unwrap().to_owned();
    let code = code_now(&app, &secret).await;
    let confirmed = alice
        .post("/auth/mfa/totp/confirm")
        .json(&json!({ "code": code }))
        .await;
    let body: Value = confirmed.body().await;
    let alice = alice.with_token(body["access_token"].as_str().unwrap());
    let code = next_code(&app, &secret).await;
    let off = alice
        .delete("/auth/mfa/totp")
        .json(&json!({ "code": code }))
        .await;
    assert_eq!(off.status(), StatusCode::NO_CONTENT);
    let subjects: Vec<String> = app
        .mailbox(email)
        .await
        .into_iter()
        .map(|m| m.subject)
        .collect();
    assert_eq!(
        subjects,
        [
            "Two-factor authentication is off for your Wristband account",
            "Two-factor authentication is on for your Wristband account",
        ]
    );

    // An admin's removal too; an unproven address gets none.
    let bob = enrolled(&app).await;
    let admin = app.admin().await;
    let id = bob.client.user().id.to_string();
    let removed = admin.delete(&format!("/admin/users/{id}/mfa")).await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let mails = app.mailbox(&bob.client.user().email).await;
    assert!(
        mails.iter().all(|m| !m.subject.contains("Two-factor")),
        "{mails:#?}"
    );
    let carol = app
        .test_user(json!({ "email": "carol@example.com", "password": PASSWORD }))
        .await;
    let secret = start(&carol).await["secret"].as_str().unwrap().to_owned();
    let code = code_now(&app, &secret).await;
    let confirmed = carol
        .post("/auth/mfa/totp/confirm")
        .json(&json!({ "code": code }))
        .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let removed = admin
        .delete(&format!("/admin/users/{}/mfa", carol.user().id))
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let latest = &app.mailbox("carol@example.com").await[0];
    assert_eq!(
        latest.subject,
        "Two-factor authentication was removed from your Wristband account"
    );
    assert!(
        latest.text.contains("An administrator removed"),
        "{}",
        latest.text
    );
}
