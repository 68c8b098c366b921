//! Brute force and enumeration: the per-client-IP rate limit on login,
//! register and refresh, and the per-account lockout kept in the database.

use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::{Response, StatusCode};
use serde_json::Value;
use wristband::api::Credentials;
use wristband::config::Settings;

use crate::helpers::storage::audit_events;
use crate::helpers::{
    Client, PASSWORD, ResponseExt, TestApp, TestDatabase, assert_error, backend_test, base_settings,
};

const WRONG: &str = "not the password";

fn limited(per_minute: &str, trust_proxy: bool) -> Settings {
    Settings {
        rate_limit_per_minute: Some(per_minute.into()),
        trust_proxy: Some(trust_proxy.to_string()),
        ..base_settings()
    }
}

fn lockout(max_failures: &str, duration: &str) -> Settings {
    Settings {
        login_max_failures: Some(max_failures.into()),
        login_lockout: Some(duration.into()),
        ..base_settings()
    }
}

async fn login_from(client: &Client, forwarded_for: &str, email: &str) -> Response {
    client
        .post("/auth/login")
        .header("x-forwarded-for", forwarded_for)
        .json(&Credentials::new(email, WRONG))
        .await
}

/// Asserts 429 `too_many_requests` with a whole number of seconds in `Retry-After`.
async fn assert_too_many(response: Response) -> u64 {
    let retry_after = response
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse::<u64>()
        .expect("Retry-After is a whole number of seconds");
    assert!(retry_after >= 1);
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
    retry_after
}

backend_test!(
    the_rate_limit_covers_login_register_and_refresh,
    limited("4", false)
);
async fn the_rate_limit_covers_login_register_and_refresh(app: TestApp) {
    let anon = app.anon();
    let email = |i| format!("nobody-{i}@example.com");
    // One budget per client IP, shared by the three endpoints.
    assert_eq!(
        anon.try_login(&email(1), WRONG).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let registered = anon
        .post("/auth/register")
        .json(&Credentials::new(email(2), PASSWORD))
        .await;
    assert_eq!(registered.status(), StatusCode::CREATED);
    anon.refresh_refused("missing").await;
    assert_eq!(
        anon.try_login(&email(3), WRONG).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let retry_after = assert_too_many(anon.try_login(&email(4), WRONG).await).await;
    assert!(
        retry_after <= 15,
        "the next request is due within a quarter minute"
    );
    assert_too_many(
        anon.post("/auth/register")
            .json(&Credentials::new(email(5), PASSWORD))
            .await,
    )
    .await;
    assert_too_many(anon.post("/auth/refresh").await).await;
    // Other endpoints are not limited.
    assert_eq!(anon.get("/healthz").await.status(), StatusCode::OK);
}

backend_test!(
    a_spoofed_forwarded_for_neither_resets_nor_dodges_the_limit,
    limited("3", false)
);
async fn a_spoofed_forwarded_for_neither_resets_nor_dodges_the_limit(app: TestApp) {
    let anon = app.anon();
    for i in 0..3 {
        let response = login_from(&anon, &format!("203.0.113.{i}"), "a@example.com").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    for spoofed in ["198.51.100.7", "198.51.100.8, 127.0.0.1", "garbage"] {
        assert_too_many(login_from(&anon, spoofed, "a@example.com").await).await;
    }
}

backend_test!(
    behind_a_trusted_proxy_the_forwarded_client_is_the_key,
    limited("2", true)
);
async fn behind_a_trusted_proxy_the_forwarded_client_is_the_key(app: TestApp) {
    let anon = app.anon();
    for _ in 0..2 {
        let response = login_from(&anon, "198.51.100.1", "a@example.com").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_too_many(login_from(&anon, "198.51.100.1", "a@example.com").await).await;
    // The proxy appends the real client last; what the client wrote before is ignored.
    assert_too_many(login_from(&anon, "198.51.100.2, 198.51.100.1", "a@example.com").await).await;
    let other = login_from(&anon, "198.51.100.1, 198.51.100.2", "a@example.com").await;
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED, "another client");
}

backend_test!(
    the_account_locks_after_consecutive_failures,
    lockout("3", "3s")
);
async fn the_account_locks_after_consecutive_failures(app: TestApp) {
    let alice = app.new_user().await;
    let email = alice.user().email.clone();
    let anon = app.anon();
    for _ in 0..3 {
        assert_eq!(
            anon.try_login(&email, WRONG).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Locked: the right password too.
    let retry_after = assert_too_many(anon.try_login(&email, PASSWORD).await).await;
    assert!((1..=3).contains(&retry_after), "Retry-After {retry_after}");
    assert!(
        audit_events(&app, &alice.user().id).contains(&"login_locked".to_owned()),
        "the lock is audited"
    );
    // The lock does not touch existing sessions.
    assert_eq!(alice.get("/auth/me").await.status(), StatusCode::OK);
    actix_web::rt::time::sleep(Duration::from_secs(retry_after) + Duration::from_millis(300)).await;
    assert_eq!(
        anon.try_login(&email, PASSWORD).await.status(),
        StatusCode::OK
    );
}

backend_test!(a_success_resets_the_count, lockout("3", "5m"));
async fn a_success_resets_the_count(app: TestApp) {
    let alice = app.new_user().await;
    let email = alice.user().email.clone();
    let anon = app.anon();
    // Two failures, a success, twice: the limit of three is never reached.
    for _ in 0..2 {
        for _ in 0..2 {
            let failed = anon.try_login(&email, WRONG).await;
            assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
        }
        let succeeded = anon.try_login(&email, PASSWORD).await;
        assert_eq!(succeeded.status(), StatusCode::OK);
    }
}

/// The parts of a response an attacker compares: status, body, and headers
/// other than the date.
async fn observable(response: Response) -> (StatusCode, Vec<(String, String)>, Value) {
    let status = response.status();
    let headers = |h: &HeaderMap| {
        let mut v: Vec<_> = h
            .iter()
            .filter(|(name, _)| *name != "date")
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        v.sort();
        v
    };
    let headers = headers(response.headers());
    (status, headers, response.body().await)
}

backend_test!(known_and_unknown_emails_lock_alike, lockout("2", "5m"));
async fn known_and_unknown_emails_lock_alike(app: TestApp) {
    let known = app.new_user().await.user().email.clone();
    let unknown = "nobody-at-all@example.com";
    let anon = app.anon();
    for round in 0..2 {
        let a = observable(anon.try_login(&known, WRONG).await).await;
        let b = observable(anon.try_login(unknown, WRONG).await).await;
        assert_eq!(a.0, StatusCode::UNAUTHORIZED);
        assert_eq!(a, b, "failure {round}");
    }
    let a = observable(anon.try_login(&known, PASSWORD).await).await;
    let b = observable(anon.try_login(unknown, PASSWORD).await).await;
    assert_eq!(a.0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(a.1, b.1, "same headers (Retry-After included) when locked");
    assert_eq!(a.2, b.2, "same body when locked");
}

fn slow_lockout() -> Settings {
    Settings {
        bcrypt_cost: Some("12".into()),
        ..lockout("1", "5m")
    }
}

backend_test!(a_locked_account_costs_no_hash, slow_lockout());
async fn a_locked_account_costs_no_hash(app: TestApp) {
    let anon = app.anon();
    let started = Instant::now();
    let failed = anon.try_login("target@example.com", WRONG).await;
    let one_hash = started.elapsed();
    assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    let started = Instant::now();
    assert_too_many(anon.try_login("target@example.com", WRONG).await).await;
    let locked = started.elapsed();
    assert!(
        locked * 4 < one_hash,
        "a refused attempt took {locked:?}, a bcrypt check {one_hash:?}"
    );
}

backend_test!(instances_on_one_database_share_the_count);
async fn instances_on_one_database_share_the_count(db: TestDatabase) {
    let (a, b) = (
        db.spawn(lockout("3", "5m")).await,
        db.spawn(lockout("3", "5m")).await,
    );
    let alice = a.new_user().await;
    let email = alice.user().email.clone();
    assert_eq!(
        a.anon().try_login(&email, WRONG).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        b.anon().try_login(&email, WRONG).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        a.anon().try_login(&email, WRONG).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_too_many(b.anon().try_login(&email, PASSWORD).await).await;
    assert_too_many(a.anon().try_login(&email, PASSWORD).await).await;
}

backend_test!(parallel_guesses_cannot_outrun_the_count, lockout("3", "5m"));
async fn parallel_guesses_cannot_outrun_the_count(app: TestApp) {
    let email = app.new_user().await.user().email.clone();
    let anon = app.anon();
    let guesses = (0..12).map(|_| anon.try_login(&email, WRONG));
    let statuses: Vec<_> = futures_util::future::join_all(guesses)
        .await
        .iter()
        .map(Response::status)
        .collect();
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert!(checked <= 3, "{checked} guesses were checked: {statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
}

/// Logs `client` in with `password` and returns the status (the client
/// keeps the cookies the answer sets).
async fn attempt(client: &Client, email: &str, password: &str) -> StatusCode {
    client.try_login(email, password).await.status()
}

backend_test!(
    an_attacker_never_locks_out_the_owners_known_device,
    lockout("3", "5m")
);
async fn an_attacker_never_locks_out_the_owners_known_device(app: TestApp) {
    // The owner signed in once from this browser: it holds a device cookie.
    let owner = app.new_user().await;
    let email = owner.user().email.clone();
    assert!(
        owner.device_cookie().is_some(),
        "a login sets the device cookie"
    );
    // A stranger who knows the email hammers it, far past the limit.
    let attacker = app.anon();
    for _ in 0..8 {
        let status = attempt(&attacker, &email, WRONG).await;
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::TOO_MANY_REQUESTS,
            "{status}"
        );
    }
    // Untrusted clients are locked, the right password included...
    assert_too_many(attacker.try_login(&email, PASSWORD).await).await;
    assert_too_many(app.anon().try_login(&email, PASSWORD).await).await;
    // ...the owner's known device is not.
    let again = owner.without_cookie();
    assert_eq!(attempt(&again, &email, PASSWORD).await, StatusCode::OK);
    assert_eq!(attempt(&again, &email, PASSWORD).await, StatusCode::OK);
}

backend_test!(
    a_known_device_is_locked_by_its_own_failures_only,
    lockout("2", "5m")
);
async fn a_known_device_is_locked_by_its_own_failures_only(app: TestApp) {
    let owner = app.new_user().await;
    let email = owner.user().email.clone();
    let device = owner.without_cookie();
    for _ in 0..2 {
        assert_eq!(
            attempt(&device, &email, WRONG).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_too_many(device.try_login(&email, PASSWORD).await).await;
    // Untrusted clients have their own count, untouched.
    assert_eq!(attempt(&app.anon(), &email, PASSWORD).await, StatusCode::OK);
}

backend_test!(
    a_tampered_or_foreign_device_cookie_is_untrusted,
    lockout("2", "5m")
);
async fn a_tampered_or_foreign_device_cookie_is_untrusted(app: TestApp) {
    let alice = app.new_user().await;
    let email = alice.user().email.clone();
    let bob = app.login_as("bob@example.com").await;
    let alices = alice.device_cookie().expect("a device cookie");
    let bobs = bob.device_cookie().expect("a device cookie");
    assert_ne!(alices, bobs);
    assert!(
        !alices.contains(&email) && !alices.contains("alice"),
        "the cookie names no email: {alices}"
    );
    // Untrusted clients of Alice's account get locked.
    let attacker = app.anon();
    for _ in 0..2 {
        assert_eq!(
            attempt(&attacker, &email, WRONG).await,
            StatusCode::UNAUTHORIZED
        );
    }
    // Bob's device cookie is no known device of Alice's account...
    let with_bobs = app.anon().with_device(Some(&bobs));
    assert_too_many(with_bobs.try_login(&email, PASSWORD).await).await;
    // ...nor is Alice's with one character changed.
    let mut tampered = alices.clone();
    let last = tampered.pop().expect("a value");
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let with_tampered = app.anon().with_device(Some(&tampered));
    assert_too_many(with_tampered.try_login(&email, PASSWORD).await).await;
    // Alice's own is.
    let with_alices = app.anon().with_device(Some(&alices));
    assert_eq!(
        attempt(&with_alices, &email, PASSWORD).await,
        StatusCode::OK
    );
}

backend_test!(instances_share_the_counts_and_the_known_devices);
async fn instances_share_the_counts_and_the_known_devices(db: TestDatabase) {
    let (a, b) = (
        db.spawn(lockout("3", "5m")).await,
        db.spawn(lockout("3", "5m")).await,
    );
    let owner = a.new_user().await;
    let email = owner.user().email.clone();
    let attacker = a.anon();
    for client in [attacker.clone(), attacker.on(&b), attacker.clone()] {
        assert_eq!(
            attempt(&client, &email, WRONG).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_too_many(b.anon().try_login(&email, PASSWORD).await).await;
    // The device cookie one instance set is a known device on the other.
    let on_b = owner.without_cookie().on(&b);
    assert_eq!(attempt(&on_b, &email, PASSWORD).await, StatusCode::OK);
}

/// Settings for the parallel tests: a bcrypt cost at which attempts overlap.
fn parallel_lockout() -> Settings {
    Settings {
        bcrypt_cost: Some("8".into()),
        ..lockout("5", "5m")
    }
}

backend_test!(
    sixteen_parallel_right_password_logins_all_succeed,
    parallel_lockout()
);
async fn sixteen_parallel_right_password_logins_all_succeed(app: TestApp) {
    let email = app.new_user().await.user().email.clone();
    // Sixteen workers of a test suite, each a fresh (untrusted) client.
    let clients: Vec<Client> = (0..16).map(|_| app.anon()).collect();
    let logins = clients.iter().map(|c| attempt(c, &email, PASSWORD));
    let statuses = futures_util::future::join_all(logins).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
}

backend_test!(
    sixteen_parallel_guesses_get_at_most_the_limit_of_verdicts,
    parallel_lockout()
);
async fn sixteen_parallel_guesses_get_at_most_the_limit_of_verdicts(app: TestApp) {
    let email = app.new_user().await.user().email.clone();
    let clients: Vec<Client> = (0..16).map(|_| app.anon()).collect();
    let guesses = clients.iter().map(|c| attempt(c, &email, WRONG));
    let statuses = futures_util::future::join_all(guesses).await;
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(checked, 5, "exactly the limit were checked: {statuses:?}");
    assert_eq!(checked + refused, 16, "{statuses:?}");
}

backend_test!(a_login_from_a_new_device_is_audited);
async fn a_login_from_a_new_device_is_audited(app: TestApp) {
    let laptop = app.new_user().await;
    let (id, email) = (laptop.user().id.clone(), laptop.user().email.clone());
    let new_devices = || {
        audit_events(&app, &id)
            .iter()
            .filter(|e| *e == "login_new_device")
            .count()
    };
    assert_eq!(
        new_devices(),
        0,
        "the account's first sign-in is not pointed out"
    );
    // The same browser again: a known device.
    assert_eq!(attempt(&laptop, &email, PASSWORD).await, StatusCode::OK);
    assert_eq!(new_devices(), 0);
    // Another browser, and a client that dropped its device cookie.
    assert_eq!(attempt(&app.anon(), &email, PASSWORD).await, StatusCode::OK);
    assert_eq!(new_devices(), 1);
    let forgetful = laptop.with_device(None);
    assert_eq!(attempt(&forgetful, &email, PASSWORD).await, StatusCode::OK);
    assert_eq!(new_devices(), 2);
}

backend_test!(a_fresh_server_exports_the_login_series_at_zero);
async fn a_fresh_server_exports_the_login_series_at_zero(app: TestApp) {
    let metrics = app.anon().get("/metrics").await.text().await.unwrap();
    for series in [
        r#"wristband_logins_total{outcome="succeeded"} 0"#,
        r#"wristband_logins_total{outcome="failed"} 0"#,
        r#"wristband_logins_total{outcome="locked"} 0"#,
        r#"wristband_refreshes_total{outcome="rotated"} 0"#,
        r#"wristband_refreshes_total{outcome="grace"} 0"#,
        r#"wristband_refreshes_total{outcome="reused"} 0"#,
        r#"wristband_refreshes_total{outcome="refused"} 0"#,
        r#"wristband_revocations_total{cause="logout"} 0"#,
        r#"wristband_revocations_total{cause="other_sessions_revoked"} 0"#,
        r#"wristband_revocations_total{cause="refresh_reused"} 0"#,
    ] {
        assert!(metrics.contains(series), "{series} missing from\n{metrics}");
    }
}

backend_test!(
    a_browser_shared_by_two_accounts_is_a_known_device_of_both,
    lockout("2", "5m")
);
async fn a_browser_shared_by_two_accounts_is_a_known_device_of_both(app: TestApp) {
    let alice = app.new_user().await;
    let bob = app.login_as("bob@example.com").await;
    let alice_email = alice.user().email.clone();
    // One browser signs in to both accounts, one after the other.
    let shared = app.anon();
    for email in [alice_email.as_str(), "bob@example.com"] {
        assert_eq!(attempt(&shared, email, PASSWORD).await, StatusCode::OK);
    }
    // A stranger locks out the untrusted clients of both accounts.
    for email in [alice_email.as_str(), "bob@example.com"] {
        for _ in 0..2 {
            assert_eq!(
                attempt(&app.anon(), email, WRONG).await,
                StatusCode::UNAUTHORIZED
            );
        }
        assert_too_many(app.anon().try_login(email, PASSWORD).await).await;
    }
    // The shared browser is a known device of each.
    for email in [alice_email.as_str(), "bob@example.com"] {
        assert_eq!(attempt(&shared, email, PASSWORD).await, StatusCode::OK);
    }
    drop(bob);
}

backend_test!(
    a_password_change_retires_every_other_device_cookie,
    lockout("2", "5m")
);
async fn a_password_change_retires_every_other_device_cookie(app: TestApp) {
    let laptop = app.new_user().await;
    let email = laptop.user().email.clone();
    // Someone who once had the password kept a device cookie of their own.
    let old_thief = app.anon();
    assert_eq!(attempt(&old_thief, &email, PASSWORD).await, StatusCode::OK);
    let new_password = "a fresh passphrase 42";
    let changed = laptop
        .post("/auth/password")
        .json(&serde_json::json!({"current_password": PASSWORD, "new_password": new_password}))
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    // Untrusted clients get locked.
    for _ in 0..2 {
        assert_eq!(
            attempt(&app.anon(), &email, WRONG).await,
            StatusCode::UNAUTHORIZED
        );
    }
    // The thief's cookie no longer makes a known device...
    assert_too_many(old_thief.try_login(&email, new_password).await).await;
    // ...the laptop's, renewed by the change, does.
    assert_eq!(attempt(&laptop, &email, new_password).await, StatusCode::OK);
}
