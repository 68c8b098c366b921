//! The binary under an operator's hands: a SIGTERM during a burst of
//! refreshes (every answer complete or refused, exit 0, no session left
//! half-rotated), and JSON log lines without secrets.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use wristband::api::Credentials;

use crate::helpers::{PASSWORD, ResponseExt};

/// The binary serving the SQLite file in `dir`; returns it, its URL, and
/// its log (read all along, so the pipe never fills), complete once it exits.
fn serve(dir: &std::path::Path) -> (Child, String, std::thread::JoinHandle<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wristband"))
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("WRISTBAND_BIND", "127.0.0.1:0")
        .env("WRISTBAND_DATABASE_URL", "sqlite://wristband.db")
        .env("WRISTBAND_JWT_SECRET", crate::helpers::SECRET)
        .env("WRISTBAND_BCRYPT_COST", "4")
        .env("WRISTBAND_RATE_LIMIT_PER_MINUTE", "1000000")
        .env("WRISTBAND_SHUTDOWN_TIMEOUT", "5s")
        .env("WRISTBAND_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("wristband listening on ")
        .unwrap_or_else(|| panic!("first line {line:?}"))
        .to_owned();
    let mut stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut logs = String::new();
        let _ = stderr.read_to_string(&mut logs);
        logs
    });
    (child, url, logs)
}

/// A logged-in user's refresh cookie (`name=value`).
async fn login(http: &reqwest::Client, url: &str, email: &str) -> String {
    let credentials = Credentials::new(email, PASSWORD);
    http.post(format!("{url}/auth/register"))
        .json(&credentials)
        .send()
        .await
        .unwrap();
    let response = http
        .post(format!("{url}/auth/login"))
        .json(&credentials)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.refresh_set_cookie().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

/// Refreshes along one chain until the server stops answering; returns the
/// last cookie it received and how many answers were complete.
async fn refresh_chain(http: reqwest::Client, url: String, mut cookie: String) -> (String, usize) {
    let mut complete = 0;
    loop {
        let sent = http
            .post(format!("{url}/auth/refresh"))
            .header("cookie", &cookie)
            .send()
            .await;
        let Ok(response) = sent else {
            return (cookie, complete); // refused or closed: the server stopped
        };
        let status = response.status();
        let next = response.refresh_set_cookie();
        let Ok(body) = response.text().await else {
            return (cookie, complete);
        };
        assert_eq!(
            status,
            StatusCode::OK,
            "an answer that is not a success: {body}"
        );
        assert!(body.contains("access_token"), "a complete body: {body}");
        cookie = next
            .expect("a new cookie")
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        complete += 1;
    }
}

fn terminate(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[actix_web::test]
async fn sigterm_during_a_refresh_burst_finishes_or_refuses_every_request() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url, logs) = serve(dir.path());
    let http = reqwest::Client::new();
    let mut chains = Vec::new();
    for i in 0..8 {
        chains.push(login(&http, &url, &format!("chain-{i}@example.com")).await);
    }
    let tasks: Vec<_> = chains
        .into_iter()
        .map(|cookie| actix_web::rt::spawn(refresh_chain(http.clone(), url.clone(), cookie)))
        .collect();
    actix_web::rt::time::sleep(Duration::from_millis(400)).await;
    terminate(&child);
    let stopping = Instant::now();
    let mut last = Vec::new();
    for task in tasks {
        let (cookie, complete) = task.await.unwrap();
        assert!(complete > 0, "the burst was under way");
        last.push(cookie);
    }
    let (status, logs) =
        actix_web::web::block(move || (child.wait().unwrap(), logs.join().unwrap()))
            .await
            .unwrap();
    assert!(status.success(), "exit status {status:?}");
    assert!(
        stopping.elapsed() < Duration::from_secs(8),
        "{:?}",
        stopping.elapsed()
    );

    // One JSON object per line; the access log carries the route pattern and
    // never a token or cookie.
    let mut access = 0;
    for line in logs.lines() {
        let entry: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        if entry["target"] == "wristband::access" {
            access += 1;
            assert!(
                entry["route"].is_string() && entry["status"].is_u64(),
                "{line}"
            );
        }
    }
    assert!(access > 8, "{access} access lines");
    assert!(!logs.contains("wbr1."), "a refresh token in the logs");
    assert!(!logs.contains("eyJ"), "an access token in the logs");

    // No session was left half-rotated: each chain's last cookie still works
    // (rotated and received, or not rotated, or rotated and lost: the grace).
    let (mut child, url, _logs) = serve(dir.path());
    for cookie in last {
        let response = http
            .post(format!("{url}/auth/refresh"))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
