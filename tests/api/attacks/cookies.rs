//! Refresh cookies: garbage, altered and foreign tokens are an unknown grant,
//! and malformed `Cookie` headers are not server errors.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode};
use wristband::db::SessionId;
use wristband::tokens::RefreshKey;

use super::{b64, read, send_raw, unb64};
use crate::helpers::{Client, ResponseExt, TestApp, backend_test};

/// `POST /auth/refresh` with the refresh cookie `value`: asserts 401
/// `invalid_grant` with `reason` and a cleared cookie.
async fn grant_refused(client: &Client, value: &str, reason: &str) {
    let what = format!(
        "refresh cookie {:?}",
        value.chars().take(80).collect::<String>()
    );
    let response = client.with_cookie(value).post("/auth/refresh").await;
    assert_eq!(
        response.refresh_cookie().as_deref(),
        Some(""),
        "{what}: cookie cleared"
    );
    let body = read(response, &what)
        .await
        .error(StatusCode::UNAUTHORIZED, "invalid_grant", &what);
    assert_eq!(body["reason"], reason, "{what}: {body}");
}

backend_test!(refresh_cookie_garbage_is_an_unknown_grant);
async fn refresh_cookie_garbage_is_an_unknown_grant(app: TestApp) {
    let user = app.new_user().await;
    let anon = app.anon();
    let real = user.refresh_token();
    let raw = unb64(real.strip_prefix("wbr1.").expect("a wbr1 token"));
    assert_eq!(raw.len(), 16 + 8 + 32);
    let session_id = SessionId::from(uuid::Uuid::from_slice(&raw[..16]).unwrap());
    let generation = i64::from_be_bytes(raw[16..24].try_into().unwrap());

    let encode = |bytes: &[u8]| format!("wbr1.{}", b64(bytes));
    let mut wrong_mac = raw.clone();
    wrong_mac[40] ^= 1;
    let mut zero_mac = raw.clone();
    zero_mac[24..].fill(0);
    let mut next_generation = raw.clone();
    next_generation[16..24].copy_from_slice(&(generation + 1).to_be_bytes());
    let foreign =
        RefreshKey::derive(b"another server's secret, 32 bytes+").issue(&session_id, generation);
    // The access-token key is not the refresh key.
    let raw_secret_key = RefreshKey::derive(b"").issue(&session_id, generation);
    let mut last_changed = real.clone();
    let last = last_changed.pop().unwrap();
    last_changed.push(if last == 'A' { 'B' } else { 'A' });

    grant_refused(&anon, "", "missing").await;
    let unknown: Vec<String> = vec![
        "garbage".into(),
        "wbr1.".into(),
        "wbr1".into(),
        "wbr2.".into(),
        "wbr1.!!!!".into(),
        "wbr1.not base64".into(),
        format!("WBR1.{}", &real[5..]),
        format!("wbr1.{}", URL_SAFE_NO_PAD.encode([0u8; 56])),
        encode(&wrong_mac),
        encode(&zero_mac),
        encode(&next_generation),
        encode(&raw[..55]),
        format!("{}AA", encode(&raw)),
        format!("{real}="),
        format!("{real}=="),
        real[..real.len() - 1].to_owned(),
        last_changed,
        format!(
            "wbr1.{}",
            base64::engine::general_purpose::STANDARD.encode(&raw)
        ),
        foreign.expose().to_owned(),
        raw_secret_key.expose().to_owned(),
        format!("wbr1.{}", "A".repeat(10 * 1024)),
        "x".repeat(10 * 1024),
        format!("{real}%00"),
        format!("%00{real}"),
        "wbr1.%00".into(),
        "wbr1.ñé€😀".into(),
        format!("{real}😀"),
        "wbr1.%C3%B1".into(),
        "\"wbr1.\"".into(),
    ];
    for value in &unknown {
        grant_refused(&anon, value, "unknown").await;
    }
    // Someone else's cookie jar with the user's token name is no help either.
    let other = app.new_user().await;
    grant_refused(&other, &encode(&wrong_mac), "unknown").await;

    // None of it touched the session: the real cookie still rotates.
    user.refresh().await;
    // A malformed cookie next to the refresh cookie does not hide it.
    for sibling in ["a=%FF", "a=\"x", "=", "b"] {
        let response = user.post("/auth/refresh").header("cookie", sibling).await;
        read(response, sibling).await.ok(sibling);
    }
}

backend_test!(malformed_cookie_headers_are_not_server_errors);
async fn malformed_cookie_headers_are_not_server_errors(app: TestApp) {
    let user = app.new_user().await;
    for header in [
        b"\xff\xfe".as_slice(),
        b"=",
        b";;;;",
        b"a",
        b"a=%ZZ",
        b"a=%FF",
        b"\"",
    ] {
        let what = String::from_utf8_lossy(header).into_owned();
        let response = send_raw(
            &app,
            Method::POST,
            "/auth/refresh",
            &[("cookie", header)],
            vec![],
        )
        .await;
        let body =
            read(response, &what)
                .await
                .error(StatusCode::UNAUTHORIZED, "invalid_grant", &what);
        assert_eq!(body["reason"], "missing", "{what}: {body}");
    }
    user.refresh().await;
    // A malformed cookie next to the refresh cookie does not hide it.
    for sibling in ["a=%FF", "a=\"x", "=", "b"] {
        let response = user.post("/auth/refresh").header("cookie", sibling).await;
        read(response, sibling).await.ok(sibling);
    }
}
