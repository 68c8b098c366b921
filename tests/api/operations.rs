//! What an operator watches and relies on: `/metrics` (every series, route
//! patterns as labels, the optional token) and HTTPS with a certificate of
//! the operator's (here one the test generates).

use reqwest::StatusCode;
use wristband::api::{Credentials, TokenResponse};
use wristband::config::Settings;

use crate::helpers::{
    PASSWORD, ResponseExt, TestApp, TestDatabase, assert_error, backend_test, base_settings,
};

/// The value of the series `name` with exactly `labels` (`""` for none).
fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
    let wanted = if labels.is_empty() {
        format!("{name} ")
    } else {
        format!("{name}{{{labels}}} ")
    };
    text.lines()
        .find_map(|line| line.strip_prefix(&wanted))
        .and_then(|value| value.trim().parse().ok())
}

async fn metrics(app: &TestApp) -> String {
    let response = app.anon().get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    response.text().await.unwrap()
}

backend_test!(metrics_count_requests_logins_refreshes_and_revocations);
async fn metrics_count_requests_logins_refreshes_and_revocations(app: TestApp) {
    let alice = app.new_user().await;
    let wrong = app
        .anon()
        .try_login(&alice.user().email, "wrong password")
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let first = alice.refresh_token();
    alice.refresh().await;
    alice.with_cookie(&first).refresh().await; // the predecessor, in grace
    let session = alice.current_session().await;
    let id = session.id.to_string();
    let unknown = format!("/auth/sessions/{}", uuid::Uuid::new_v4());
    assert_eq!(alice.delete(&unknown).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(alice.logout().await.status(), StatusCode::NO_CONTENT);

    let text = metrics(&app).await;
    let at_least = |name: &str, labels: &str, n: f64| {
        let value =
            sample(&text, name, labels).unwrap_or_else(|| panic!("{name}{{{labels}}} missing"));
        assert!(
            value >= n,
            "{name}{{{labels}}} = {value}, expected at least {n}"
        );
    };
    at_least("wristband_logins_total", r#"outcome="succeeded""#, 1.0);
    at_least("wristband_logins_total", r#"outcome="failed""#, 1.0);
    at_least("wristband_refreshes_total", r#"outcome="rotated""#, 1.0);
    at_least("wristband_refreshes_total", r#"outcome="grace""#, 1.0);
    at_least("wristband_revocations_total", r#"cause="logout""#, 1.0);
    at_least(
        "wristband_http_requests_total",
        r#"method="POST",route="/auth/login",status="200""#,
        1.0,
    );
    at_least(
        "wristband_http_requests_total",
        r#"method="DELETE",route="/auth/sessions/{id}",status="404""#,
        1.0,
    );
    at_least(
        "wristband_http_request_duration_seconds_count",
        r#"method="GET",route="/auth/sessions""#,
        1.0,
    );
    at_least("wristband_db_pool_connections", "", 1.0);
    assert!(sample(&text, "wristband_db_pool_idle_connections", "").is_some());
    at_least("wristband_db_pool_wait_seconds_count", "", 1.0);
    at_least(
        "wristband_build_info",
        &format!(r#"version="{}""#, env!("CARGO_PKG_VERSION")),
        1.0,
    );
    assert!(!text.contains(&id), "no session id among the labels");
}

backend_test!(reuse_and_lockouts_are_counted, lockout_after_one());
async fn reuse_and_lockouts_are_counted(app: TestApp) {
    let alice = app.new_user().await;
    let first = alice.refresh_token();
    alice.refresh().await;
    alice.refresh().await;
    alice.with_cookie(&first).refresh_refused("reused").await;
    let anon = app.anon();
    for _ in 0..2 {
        anon.try_login("nobody@example.com", PASSWORD).await;
    }
    let text = metrics(&app).await;
    assert_eq!(
        sample(&text, "wristband_refreshes_total", r#"outcome="reused""#),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "wristband_revocations_total",
            r#"cause="refresh_reused""#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "wristband_logins_total", r#"outcome="locked""#),
        Some(1.0)
    );
}

fn lockout_after_one() -> Settings {
    Settings {
        login_max_failures: Some("1".into()),
        ..base_settings()
    }
}

fn with_metrics_token() -> Settings {
    Settings {
        metrics_token: Some("a-metrics-token-of-some-length".into()),
        ..base_settings()
    }
}

backend_test!(a_metrics_token_is_required_when_set, with_metrics_token());
async fn a_metrics_token_is_required_when_set(app: TestApp) {
    let anon = app.anon();
    assert_error(
        anon.get("/metrics").await,
        StatusCode::UNAUTHORIZED,
        "missing_token",
    )
    .await;
    let wrong = anon
        .with_token("not-the-metrics-token")
        .get("/metrics")
        .await;
    assert_error(wrong, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let right = anon
        .with_token("a-metrics-token-of-some-length")
        .get("/metrics")
        .await;
    assert_eq!(right.status(), StatusCode::OK);
}

/// A self-signed certificate for 127.0.0.1 and localhost, as PEM files in `dir`.
fn certificate(dir: &std::path::Path) -> (String, String, String) {
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let generated = rcgen::generate_simple_self_signed(names).expect("a certificate");
    let cert_pem = generated.cert.pem();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, &cert_pem).unwrap();
    std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
    (
        cert.display().to_string(),
        key.display().to_string(),
        cert_pem,
    )
}

backend_test!(https_serves_the_login_and_refresh_flow);
async fn https_serves_the_login_and_refresh_flow(db: TestDatabase) {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, pem) = certificate(dir.path());
    let app = db
        .spawn(Settings {
            tls_cert: Some(cert),
            tls_key: Some(key),
            ..base_settings()
        })
        .await;
    assert!(
        app.address.starts_with("https://127.0.0.1:"),
        "{}",
        app.address
    );
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let url = |path: &str| format!("{}{path}", app.address);
    let credentials = Credentials::new("tls@example.com", PASSWORD);
    let registered = client
        .post(url("/auth/register"))
        .json(&credentials)
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::CREATED);
    let login = client
        .post(url("/auth/login"))
        .json(&credentials)
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let cookie = login.refresh_set_cookie().expect("a refresh cookie");
    assert!(cookie.contains("; Secure"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_owned();
    let tokens: TokenResponse = login.body().await;
    let me = client
        .get(url("/auth/me"))
        .bearer_auth(&tokens.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let refreshed = client
        .post(url("/auth/refresh"))
        .header("cookie", pair)
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), StatusCode::OK);
    // Plain HTTP on the TLS port is not served.
    let plain = reqwest::get(url("/healthz").replacen("https://", "http://", 1)).await;
    assert!(plain.map(|r| !r.status().is_success()).unwrap_or(true));
}
