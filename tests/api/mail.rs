//! Mail, through test mode's mailbox: password reset, email verification,
//! email change, an admin's reset, the new-sign-in notice; one-time links
//! (single use under concurrency, superseded, expiring by the server's
//! clock); enumeration; and the 404s of a server without mail. (Delivery
//! through a real SMTP server, outages and several instances are in
//! `tests/python/test_mail_smtp.py`.)

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use wristband::api::{Mail, User};
use wristband::config::Settings;

use crate::helpers::storage::{audit_events, stored_link_secrets};
use crate::helpers::{
    Client, PASSWORD, ResponseExt, TestApp, admin_settings, assert_error, backend_test,
    base_settings,
};

const NEW_PASSWORD: &str = "a brand new passphrase";

fn mail_on() -> Settings {
    Settings {
        test_mode: Some("true".into()),
        ..base_settings()
    }
}

/// The token of the `kind` link (`reset-password`, `verify-email`,
/// `confirm-email`) in the newest mail to `to` with one, checking the link is
/// the same in both parts.
async fn link_token(app: &TestApp, to: &str, kind: &str) -> String {
    let mails = app.mailbox(to).await;
    let marker = format!("#{kind}=");
    let mail = mails
        .iter()
        .find(|m| m.text.contains(&marker))
        .unwrap_or_else(|| panic!("no {kind} link to {to} in {mails:#?}"));
    let at = mail.text.find(&marker).unwrap() + marker.len();
    let token: String = mail.text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert_eq!(token.len(), 43, "256 bits in base64url");
    assert!(
        mail.html.contains(&format!("{marker}{token}")),
        "same link in the HTML part"
    );
    token
}

async fn register(app: &TestApp, email: &str) -> User {
    let response = app
        .anon()
        .post("/auth/register")
        .json(&json!({"email": email, "password": PASSWORD}))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.body().await;
    serde_json::from_value(body["user"].clone()).unwrap()
}

async fn ask_reset(app: &TestApp, email: &str) -> Duration {
    let started = Instant::now();
    let response = app
        .anon()
        .post("/auth/password-reset")
        .json(&json!({ "email": email }))
        .await;
    let took = started.elapsed();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body: Value = response.body().await;
    assert_eq!(body, json!({}));
    took
}

async fn confirm_reset(client: &Client, token: &str, password: &str) -> reqwest::Response {
    client
        .post("/auth/password-reset/confirm")
        .json(&json!({"token": token, "new_password": password}))
        .await
}

/// Asserts that each of `events` was audited about `user_id`.
fn assert_audited(app: &TestApp, user_id: &impl std::fmt::Display, events: &[&str]) {
    let seen = audit_events(app, user_id);
    for event in events {
        assert!(
            seen.iter().any(|e| e == event),
            "{event} is not in {seen:?}"
        );
    }
}

fn unique(name: &str) -> String {
    format!("{name}-{}@example.com", uuid::Uuid::new_v4().simple())
}

backend_test!(mail_routes_are_404_without_mail);
async fn mail_routes_are_404_without_mail(app: TestApp) {
    let alice = app.new_user().await;
    assert!(!alice.user().email_verified);
    let id = &alice.user().id;
    let posts = [
        ("/auth/password-reset", json!({"email": alice.user().email})),
        (
            "/auth/password-reset/confirm",
            json!({"token": "x", "new_password": NEW_PASSWORD}),
        ),
        ("/auth/verify-email/send", json!({})),
        ("/auth/verify-email", json!({"token": "x"})),
        (
            "/auth/email",
            json!({"new_email": "b@example.com", "current_password": PASSWORD}),
        ),
        ("/auth/email/confirm", json!({"token": "x"})),
        (&format!("/admin/users/{id}/password-reset"), json!({})),
    ];
    for (path, body) in posts {
        assert_error(
            alice.post(path).json(&body).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    assert_error(
        alice.get("/test/mailbox").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // Registration sent nothing: no verification mail is waiting.
    assert!(
        !audit_events(&app, id).contains(&"email_verification_sent".to_owned()),
        "nothing sent without mail"
    );
}

backend_test!(
    registration_sends_a_link_that_verifies_the_address,
    mail_on()
);
async fn registration_sends_a_link_that_verifies_the_address(app: TestApp) {
    let email = unique("verify");
    let user = register(&app, &email).await;
    assert!(!user.email_verified);
    let mails = app.mailbox(&email).await;
    assert_eq!(mails.len(), 1, "{mails:#?}");
    assert_eq!(mails[0].subject, "Verify your Wristband email address");
    assert!(
        mails[0]
            .text
            .contains(&format!("{}/#verify-email=", app.address))
    );
    let token = link_token(&app, &email, "verify-email").await;

    // Only a hash of the token is stored, and the outbox holds it sealed.
    let stored = stored_link_secrets(&app);
    assert!(!stored.is_empty());
    assert!(stored.iter().all(|s| !s.contains(&token)), "{stored:?}");

    let anon = app.anon();
    let verified: User = anon
        .post("/auth/verify-email")
        .json(&json!({ "token": token }))
        .await
        .body()
        .await;
    assert!(verified.email_verified && verified.id == user.id);
    let again = anon
        .post("/auth/verify-email")
        .json(&json!({ "token": token }))
        .await;
    assert_error(again, StatusCode::BAD_REQUEST, "invalid_token").await;
    let bogus = anon
        .post("/auth/verify-email")
        .json(&json!({ "token": "not-a-token" }))
        .await;
    assert_error(bogus, StatusCode::BAD_REQUEST, "invalid_token").await;

    let alice = app.login(&email, PASSWORD).await;
    assert!(alice.user().email_verified);
    let resend = alice.post("/auth/verify-email/send").await;
    assert_error(resend, StatusCode::CONFLICT, "already_verified").await;
    assert_audited(
        &app,
        &user.id,
        &["email_verification_sent", "email_verified"],
    );
}

backend_test!(
    a_resent_link_supersedes_the_first_at_most_once_a_minute,
    mail_on()
);
async fn a_resent_link_supersedes_the_first_at_most_once_a_minute(app: TestApp) {
    let email = unique("resend");
    register(&app, &email).await;
    let first = link_token(&app, &email, "verify-email").await;
    let alice = app.login(&email, PASSWORD).await;
    let resent = alice.post("/auth/verify-email/send").await;
    assert_eq!(resent.status(), StatusCode::ACCEPTED);
    assert_eq!(
        app.mailbox(&email).await.len(),
        1,
        "not twice within a minute"
    );
    app.advance_clock("61s").await;
    assert_eq!(
        alice.post("/auth/verify-email/send").await.status(),
        StatusCode::ACCEPTED
    );
    let second = link_token(&app, &email, "verify-email").await;
    assert_ne!(first, second);
    let old = app
        .anon()
        .post("/auth/verify-email")
        .json(&json!({ "token": first }))
        .await;
    assert_error(old, StatusCode::BAD_REQUEST, "invalid_token").await;
    let new = app
        .anon()
        .post("/auth/verify-email")
        .json(&json!({ "token": second }))
        .await;
    assert_eq!(new.status(), StatusCode::OK);
}

backend_test!(a_reset_signs_in_and_ends_every_other_session, mail_on());
async fn a_reset_signs_in_and_ends_every_other_session(app: TestApp) {
    let email = unique("reset");
    register(&app, &email).await;
    let (laptop, phone) = (
        app.login(&email, PASSWORD).await,
        app.login(&email, PASSWORD).await,
    );
    ask_reset(&app, &email).await;
    let token = link_token(&app, &email, "reset-password").await;
    let mail = &app.mailbox(&email).await[0];
    assert_eq!(mail.subject, "Reset your Wristband password");
    assert!(mail.text.contains("1 hour"), "{}", mail.text);

    // A weak password leaves the link unspent.
    let browser = app.anon();
    let weak = confirm_reset(&browser, &token, "password").await;
    assert_error(weak, StatusCode::BAD_REQUEST, "weak_password").await;
    let reset = confirm_reset(&browser, &token, NEW_PASSWORD).await;
    assert_eq!(reset.status(), StatusCode::OK);
    assert!(reset.refresh_cookie().is_some_and(|c| !c.is_empty()));
    let browser = browser.signed_in(reset).await;
    assert!(
        browser.device_cookie().is_some(),
        "the browser becomes a known device"
    );
    assert!(browser.user().email_verified, "a reset proves the address");
    assert_eq!(browser.get("/auth/me").await.status(), StatusCode::OK);
    browser.refresh().await;

    for old in [&laptop, &phone] {
        let me = old.get("/auth/me").await;
        assert_error(me, StatusCode::UNAUTHORIZED, "invalid_token").await;
        old.refresh_refused("revoked").await;
    }
    let again = confirm_reset(&app.anon(), &token, "yet another passphrase").await;
    assert_error(again, StatusCode::BAD_REQUEST, "invalid_token").await;
    let old_password = app.anon().try_login(&email, PASSWORD).await;
    assert_eq!(old_password.status(), StatusCode::UNAUTHORIZED);
    app.login(&email, NEW_PASSWORD).await;
    let mails = app.mailbox(&email).await;
    assert!(
        mails
            .iter()
            .any(|m| m.subject == "Your Wristband password was changed"),
        "the address hears of the reset: {mails:#?}"
    );
    assert_audited(
        &app,
        &browser.user().id,
        &["password_reset_requested", "password_reset"],
    );
}

backend_test!(
    reset_requests_answer_alike_and_send_at_most_once_a_minute,
    mail_on()
);
async fn reset_requests_answer_alike_and_send_at_most_once_a_minute(app: TestApp) {
    let email = unique("alike");
    register(&app, &email).await;
    let nobody = unique("nobody");
    for address in [&email, &nobody, &"not an address".to_owned()] {
        let took = ask_reset(&app, address).await;
        assert!(took >= Duration::from_millis(150), "{address}: {took:?}");
    }
    assert!(app.mailbox(&nobody).await.is_empty());
    let resets = |mails: Vec<Mail>| {
        mails
            .iter()
            .filter(|m| m.subject.starts_with("Reset"))
            .count()
    };
    assert_eq!(resets(app.mailbox(&email).await), 1);
    ask_reset(&app, &email).await;
    assert_eq!(resets(app.mailbox(&email).await), 1, "one a minute");
    let first = link_token(&app, &email, "reset-password").await;
    app.advance_clock("61s").await;
    ask_reset(&app, &email).await;
    assert_eq!(resets(app.mailbox(&email).await), 2);
    let second = link_token(&app, &email, "reset-password").await;
    let superseded = confirm_reset(&app.anon(), &first, NEW_PASSWORD).await;
    assert_error(superseded, StatusCode::BAD_REQUEST, "invalid_token").await;
    assert_eq!(
        confirm_reset(&app.anon(), &second, NEW_PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
    // Addresses are matched as logins match them.
    app.advance_clock("61s").await;
    ask_reset(&app, &email.to_uppercase()).await;
    assert_eq!(resets(app.mailbox(&email).await), 3);
}

backend_test!(
    a_disabled_account_gets_no_reset,
    Settings {
        test_mode: Some("true".into()),
        ..admin_settings()
    }
);
async fn a_disabled_account_gets_no_reset(app: TestApp) {
    let email = unique("disabled");
    let user = register(&app, &email).await;
    let admin = app.admin().await;
    ask_reset(&app, &email).await;
    let token = link_token(&app, &email, "reset-password").await;
    let patched = admin
        .patch(&format!("/admin/users/{}", user.id))
        .json(&json!({"disabled": true}))
        .await;
    assert_eq!(patched.status(), StatusCode::OK);
    // A link sent before the account was disabled does not sign it in.
    let refused = confirm_reset(&app.anon(), &token, NEW_PASSWORD).await;
    assert_error(refused, StatusCode::BAD_REQUEST, "invalid_token").await;
    app.advance_clock("61s").await;
    let before = app.mailbox(&email).await.len();
    ask_reset(&app, &email).await;
    assert_eq!(
        app.mailbox(&email).await.len(),
        before,
        "no mail to a disabled account"
    );
}

backend_test!(parallel_confirms_spend_a_link_once, mail_on());
async fn parallel_confirms_spend_a_link_once(app: TestApp) {
    let email = unique("race");
    register(&app, &email).await;
    ask_reset(&app, &email).await;
    let token = link_token(&app, &email, "reset-password").await;
    let clients: Vec<Client> = (0..8).map(|_| app.anon()).collect();
    let answers = futures_util::future::join_all(
        clients
            .iter()
            .map(|c| confirm_reset(c, &token, NEW_PASSWORD)),
    )
    .await;
    let statuses: Vec<StatusCode> = answers.iter().map(|r| r.status()).collect();
    let won = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let lost = statuses
        .iter()
        .filter(|s| **s == StatusCode::BAD_REQUEST)
        .count();
    assert_eq!((won, lost), (1, 7), "{statuses:?}");
}

backend_test!(links_expire_by_the_servers_clock, mail_on());
async fn links_expire_by_the_servers_clock(app: TestApp) {
    let email = unique("expire");
    register(&app, &email).await;
    let verify = link_token(&app, &email, "verify-email").await;
    ask_reset(&app, &email).await;
    let reset = link_token(&app, &email, "reset-password").await;
    app.advance_clock("61m").await;
    let late = confirm_reset(&app.anon(), &reset, NEW_PASSWORD).await;
    assert_error(late, StatusCode::BAD_REQUEST, "invalid_token").await;
    // The verification link lives 24 hours.
    app.advance_clock("23h").await;
    let late = app
        .anon()
        .post("/auth/verify-email")
        .json(&json!({ "token": verify }))
        .await;
    assert_error(late, StatusCode::BAD_REQUEST, "invalid_token").await;
}

backend_test!(a_reset_clears_every_lockout_of_the_account, mail_on());
async fn a_reset_clears_every_lockout_of_the_account(app: TestApp) {
    let email = unique("locked");
    register(&app, &email).await;
    let attacker = app.anon();
    for _ in 0..5 {
        let wrong = attacker.try_login(&email, "wrong password!").await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
    let stranger = app.anon();
    let locked = stranger.try_login(&email, PASSWORD).await;
    assert_error(locked, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
    ask_reset(&app, &email).await;
    let token = link_token(&app, &email, "reset-password").await;
    assert_eq!(
        confirm_reset(&app.anon(), &token, NEW_PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
    // Another untrusted client, with the new password, at once.
    let after = app.anon().try_login(&email, NEW_PASSWORD).await;
    assert_eq!(after.status(), StatusCode::OK);
}

backend_test!(an_email_change_goes_through_the_new_address, mail_on());
async fn an_email_change_goes_through_the_new_address(app: TestApp) {
    let (old, new) = (unique("old"), unique("new"));
    register(&app, &old).await;
    let taken = unique("taken");
    register(&app, &taken).await;
    let alice = app.login(&old, PASSWORD).await;
    let change = |to: &str, password: &str| {
        alice
            .post("/auth/email")
            .json(&json!({"new_email": to, "current_password": password}))
    };
    assert_error(
        change(&new, "wrong password!").await,
        StatusCode::FORBIDDEN,
        "invalid_credentials",
    )
    .await;
    assert_error(
        change("nope", PASSWORD).await,
        StatusCode::BAD_REQUEST,
        "invalid_email",
    )
    .await;
    assert_error(
        change(&taken, PASSWORD).await,
        StatusCode::CONFLICT,
        "email_taken",
    )
    .await;
    let unauthenticated = app
        .anon()
        .post("/auth/email")
        .json(&json!({"new_email": new, "current_password": PASSWORD}))
        .await;
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(change(&new, PASSWORD).await.status(), StatusCode::ACCEPTED);
    // One link a minute: an account cannot flood other inboxes.
    let flood = change(&unique("victim"), PASSWORD).await;
    assert!(flood.headers().contains_key("retry-after"));
    assert_error(flood, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;

    let notice = &app.mailbox(&old).await[0];
    assert_eq!(notice.subject, "Your Wristband address is about to change");
    assert!(notice.text.contains(&new));
    let token = link_token(&app, &new, "confirm-email").await;
    // Nothing changed yet.
    app.login(&old, PASSWORD).await;

    let moved: User = app
        .anon()
        .post("/auth/email/confirm")
        .json(&json!({ "token": token }))
        .await
        .body()
        .await;
    assert_eq!(moved.email, new);
    assert!(moved.email_verified);
    let changed = &app.mailbox(&old).await[0];
    assert_eq!(changed.subject, "Your Wristband address was changed");
    app.login(&new, PASSWORD).await;
    assert_eq!(
        app.anon().try_login(&old, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let again = app
        .anon()
        .post("/auth/email/confirm")
        .json(&json!({ "token": token }))
        .await;
    assert_error(again, StatusCode::BAD_REQUEST, "invalid_token").await;
    assert_audited(
        &app,
        &moved.id,
        &["email_change_requested", "email_changed"],
    );
}

backend_test!(an_address_taken_meanwhile_is_a_conflict, mail_on());
async fn an_address_taken_meanwhile_is_a_conflict(app: TestApp) {
    let (old, new) = (unique("old"), unique("wanted"));
    register(&app, &old).await;
    let alice = app.login(&old, PASSWORD).await;
    let asked = alice
        .post("/auth/email")
        .json(&json!({"new_email": new, "current_password": PASSWORD}))
        .await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let token = link_token(&app, &new, "confirm-email").await;
    register(&app, &new).await;
    let confirm = app
        .anon()
        .post("/auth/email/confirm")
        .json(&json!({ "token": token }))
        .await;
    assert_error(confirm, StatusCode::CONFLICT, "email_taken").await;
    app.login(&old, PASSWORD).await;
}

backend_test!(
    an_admin_can_send_a_reset_link,
    Settings {
        test_mode: Some("true".into()),
        ..admin_settings()
    }
);
async fn an_admin_can_send_a_reset_link(app: TestApp) {
    let email = unique("forgetful");
    let user = register(&app, &email).await;
    let admin = app.admin().await;
    let path = format!("/admin/users/{}/password-reset", user.id);
    let bob = app.new_user().await;
    assert_error(bob.post(&path).await, StatusCode::FORBIDDEN, "forbidden").await;
    let sent = admin.post(&path).await;
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    let token = link_token(&app, &email, "reset-password").await;
    assert_eq!(
        confirm_reset(&app.anon(), &token, NEW_PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
    let unknown = format!("/admin/users/{}/password-reset", uuid::Uuid::new_v4());
    assert_error(
        admin.post(&unknown).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_audited(&app, &user.id, &["password_reset_requested"]);
}

backend_test!(
    an_unverified_address_cannot_log_in_when_required,
    Settings {
        test_mode: Some("true".into()),
        require_verified_email: Some("true".into()),
        ..base_settings()
    }
);
async fn an_unverified_address_cannot_log_in_when_required(app: TestApp) {
    let email = unique("unverified");
    register(&app, &email).await;
    let wrong = app.anon().try_login(&email, "wrong password!").await;
    assert_error(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let right = app.anon().try_login(&email, PASSWORD).await;
    assert_error(right, StatusCode::FORBIDDEN, "email_not_verified").await;
    let token = link_token(&app, &email, "verify-email").await;
    let verified = app
        .anon()
        .post("/auth/verify-email")
        .json(&json!({ "token": token }))
        .await;
    assert_eq!(verified.status(), StatusCode::OK);
    app.login(&email, PASSWORD).await;
}

backend_test!(a_sign_in_from_a_new_device_is_mailed, mail_on());
async fn a_sign_in_from_a_new_device_is_mailed(app: TestApp) {
    let email = unique("devices");
    register(&app, &email).await;
    let notices = |mails: Vec<Mail>| {
        mails
            .into_iter()
            .filter(|m| m.subject == "New sign-in to your Wristband account")
            .collect::<Vec<_>>()
    };
    let laptop = app.login(&email, PASSWORD).await;
    assert!(
        notices(app.mailbox(&email).await).is_empty(),
        "the first sign-in is not news"
    );
    app.login(&email, PASSWORD).await;
    assert!(
        notices(app.mailbox(&email).await).is_empty(),
        "no notice to an address nobody proved"
    );
    let token = link_token(&app, &email, "verify-email").await;
    let verified = app
        .anon()
        .post("/auth/verify-email")
        .json(&json!({ "token": token }))
        .await;
    assert_eq!(verified.status(), StatusCode::OK);
    let again = laptop.try_login(&email, PASSWORD).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert!(
        notices(app.mailbox(&email).await).is_empty(),
        "a known device"
    );
    app.login(&email, PASSWORD).await;
    let sent = notices(app.mailbox(&email).await);
    assert_eq!(sent.len(), 1);
    assert!(sent[0].text.contains("127.0.0.1"), "{}", sent[0].text);
    assert!(
        sent[0].text.contains("change your password"),
        "{}",
        sent[0].text
    );
}

backend_test!(the_mailbox_lists_newest_first_and_empties, mail_on());
async fn the_mailbox_lists_newest_first_and_empties(app: TestApp) {
    let (a, b) = (unique("a"), unique("b"));
    register(&app, &a).await;
    register(&app, &b).await;
    let all: Vec<Mail> = app.anon().get("/test/mailbox").await.body().await;
    assert!(all.len() >= 2);
    assert_eq!(all[0].to, b, "newest first");
    assert_eq!(app.mailbox(&a).await.len(), 1);
    let deleted = app.anon().delete("/test/mailbox").await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert!(app.mailbox(&a).await.is_empty());
    let metrics = app.anon().get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("wristband_mail_sent_total"), "{metrics}");
    assert!(metrics.contains("wristband_outbox_pending"));
}

backend_test!(a_password_change_is_mailed, mail_on());
async fn a_password_change_is_mailed(app: TestApp) {
    let email = unique("changer");
    register(&app, &email).await;
    let alice = app.login(&email, PASSWORD).await;
    let changed = alice
        .post("/auth/password")
        .json(&json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}))
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let newest = &app.mailbox(&email).await[0];
    assert_eq!(newest.subject, "Your Wristband password was changed");
    assert!(newest.text.contains("password reset"), "{}", newest.text);
}

backend_test!(a_password_change_ends_the_links_mailed_before_it, mail_on());
async fn a_password_change_ends_the_links_mailed_before_it(app: TestApp) {
    // Someone who knew the password asked to move the account to their
    // address; the owner, warned, changes the password: the link dies.
    let (email, thief) = (unique("owner"), unique("thief"));
    register(&app, &email).await;
    let intruder = app.login(&email, PASSWORD).await;
    let asked = intruder
        .post("/auth/email")
        .json(&json!({"new_email": thief, "current_password": PASSWORD}))
        .await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let stolen = link_token(&app, &thief, "confirm-email").await;
    let owner = app.login(&email, PASSWORD).await;
    let changed = owner
        .post("/auth/password")
        .json(&json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}))
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let confirm = app
        .anon()
        .post("/auth/email/confirm")
        .json(&json!({ "token": stolen }))
        .await;
    assert_error(confirm, StatusCode::BAD_REQUEST, "invalid_token").await;
    app.login(&email, NEW_PASSWORD).await;
}

backend_test!(addresses_in_mailbox_syntax_are_refused, mail_on());
async fn addresses_in_mailbox_syntax_are_refused(app: TestApp) {
    for email in [
        "\"ceo@corp.example\"<attacker@evil.example>",
        "x<victim@corp.example>",
        "a@b@example.com",
        "victim@corp.example,attacker@evil.example",
    ] {
        let response = app
            .anon()
            .post("/auth/register")
            .json(&json!({"email": email, "password": PASSWORD}))
            .await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_email").await;
    }
}
