//! The `wristband` binary: start-up line, sub-commands, and configuration errors.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn wristband(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wristband"));
    // A clean environment: no developer .env, no inherited settings.
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    command
}

/// Starts a server: the child, its first stdout line, and the address that
/// line announces (if it is the listening line).
fn start(command: &mut Command) -> (std::process::Child, String, Option<String>) {
    start_with_stderr(command, Stdio::null())
}

/// [`start`], with the server's stderr going to `stderr`.
fn start_with_stderr(
    command: &mut Command,
    stderr: Stdio,
) -> (std::process::Child, String, Option<String>) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address = line
        .trim()
        .strip_prefix("wristband listening on ")
        .map(str::to_owned);
    (child, line, address)
}

#[test]
fn bad_settings_stop_start_up_with_one_line_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    for (variable, value) in [
        ("WRISTBAND_ACCESS_TTL", "banana"),
        ("WRISTBAND_JWT_SECRET", "too-short"),
        ("WRISTBAND_DATABASE_URL", "mysql://localhost/db"),
        ("WRISTBAND_BCRYPT_COST", "99"),
        ("WRISTBAND_COOKIE_SECURE", "perhaps"),
    ] {
        let output = wristband(dir.path()).env(variable, value).output().unwrap();
        assert!(!output.status.success(), "{variable}={value} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(variable), "{stderr}");
        assert!(!stderr.contains("panicked"));
        if variable == "WRISTBAND_JWT_SECRET" {
            assert!(!stderr.contains(value), "the secret is not echoed");
        }
    }
}

#[test]
fn serve_prints_the_address_first_and_migrate_migrates() {
    let dir = tempfile::tempdir().unwrap();
    let status = wristband(dir.path())
        .args(["migrate", "--database-url", "sqlite://migrated.db"])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(dir.path().join("migrated.db").exists());

    let (mut child, line, address) = start(
        wristband(dir.path())
            .env("WRISTBAND_BIND", "127.0.0.1:0")
            .env("WRISTBAND_BCRYPT_COST", "4"),
    );
    let answered = address.as_ref().map(|a| {
        let host = a.strip_prefix("http://").unwrap();
        let mut stream = std::net::TcpStream::connect(host).unwrap();
        use std::io::{Read, Write};
        write!(
            stream,
            "GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(address.is_some(), "first line was {line:?}");
    assert!(answered.unwrap().starts_with("HTTP/1.1 200"));
    // The default database file was created in the working directory.
    assert!(dir.path().join("wristband.db").exists());
}

#[test]
fn a_dotenv_file_is_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "WRISTBAND_SESSION_MAX_AGE=forever\n",
    )
    .unwrap();
    let output = wristband(dir.path()).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("WRISTBAND_SESSION_MAX_AGE"));
}

/// Sends one HTTP/1.1 request to `address` (`http://HOST:PORT`) and returns
/// the whole response.
fn http(address: &str, request_line: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let host = address.strip_prefix("http://").unwrap();
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "{request_line} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn serve_ephemeral_needs_no_settings_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    // Settings it replaces: a database file and a bind address.
    let (mut child, line, address) = start(
        wristband(dir.path())
            .args(["serve", "--ephemeral"])
            .env("WRISTBAND_DATABASE_URL", "sqlite://would-be-created.db")
            .env("WRISTBAND_BIND", "127.0.0.1:1"),
    );
    let responses = address.as_ref().map(|address| {
        let credentials = r#"{"email":"someone@example.com","password":"correct horse battery"}"#;
        (
            http(address, "POST /auth/register", credentials),
            http(address, "POST /auth/login", credentials),
        )
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let address = address.unwrap_or_else(|| panic!("first line was {line:?}"));
    assert!(address.starts_with("http://127.0.0.1:"), "{address}");
    assert!(
        !address.ends_with(":1"),
        "a free port, not the configured one"
    );
    let (registered, logged_in) = responses.unwrap();
    assert!(registered.starts_with("HTTP/1.1 201"), "{registered}");
    assert!(logged_in.starts_with("HTTP/1.1 200"), "{logged_in}");
    assert!(logged_in.contains("access_token"));
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "no file written: {left:?}");
}

#[test]
fn rotate_key_makes_a_new_key_current_and_refuses_a_configured_secret() {
    let dir = tempfile::tempdir().unwrap();
    let rotate = |extra: &[(&str, &str)]| {
        let mut command = wristband(dir.path());
        command.args(["rotate-key", "--database-url", "sqlite://keys.db"]);
        for (name, value) in extra {
            command.env(name, value);
        }
        command.output().unwrap()
    };
    let eddsa = [("WRISTBAND_JWT_ALG", "EdDSA")];
    let (first, second) = (rotate(&eddsa), rotate(&eddsa));
    assert!(first.status.success() && second.status.success());
    let kid = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).trim().to_owned();
    assert!(!kid(&first).is_empty());
    assert_ne!(kid(&first), kid(&second), "each rotation makes a new key");

    let configured = rotate(&[(
        "WRISTBAND_JWT_SECRET",
        "a-configured-secret-of-32-bytes-or-more",
    )]);
    assert!(!configured.status.success());
    let stderr = String::from_utf8_lossy(&configured.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("WRISTBAND_JWT_PREVIOUS_SECRETS"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("a-configured-secret"),
        "the secret is not echoed"
    );
}

#[test]
fn test_mode_is_refused_off_loopback_and_announced_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let output = wristband(dir.path())
        .env("WRISTBAND_TEST_MODE", "true")
        .env("WRISTBAND_BIND", "0.0.0.0:0")
        .output()
        .unwrap();
    assert!(
        !output.status.success(),
        "test mode on 0.0.0.0 was accepted"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("WRISTBAND_TEST_MODE"), "{stderr}");

    let (mut child, line, _) = start_with_stderr(
        wristband(dir.path())
            .args(["serve", "--ephemeral"])
            .env("WRISTBAND_TEST_MODE", "true"),
        Stdio::piped(),
    );
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        line.starts_with("wristband listening on http://127.0.0.1:"),
        "{line}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("WARN") && stderr.contains("WRISTBAND_TEST_MODE=true"),
        "a warning at start: {stderr}"
    );
}

#[test]
fn an_ipv6_bind_is_announced_in_brackets() {
    // Only where the machine has an IPv6 loopback (containers may not).
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: no IPv6 loopback here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (mut child, line, address) = start(
        wristband(dir.path())
            .env("WRISTBAND_BIND", "[::1]:0")
            .env("WRISTBAND_DATABASE_URL", "sqlite://v6.db")
            .env("WRISTBAND_BCRYPT_COST", "4"),
    );
    // The announced address is a URL a client can use as it stands.
    let answered = address
        .as_deref()
        .filter(|a| a.starts_with("http://[::1]:"))
        .map(|a| http(a, "GET /healthz", ""));
    child.kill().unwrap();
    child.wait().unwrap();
    let address = address.unwrap_or_else(|| panic!("first line was {line:?}"));
    assert!(address.starts_with("http://[::1]:"), "{address}");
    let port: u16 = address["http://[::1]:".len()..].parse().unwrap();
    assert_ne!(port, 0);
    let answered = answered.unwrap();
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
}

/// `GET path` on `address` (`http://HOST:PORT`) with one more header line;
/// the whole response.
fn get_with(address: &str, path: &str, header: &str) -> String {
    use std::io::{Read, Write};
    let host = address.strip_prefix("http://").unwrap();
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\n{header}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn a_newline_in_a_token_header_cannot_forge_a_log_line() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let (mut child, line, address) = start_with_stderr(
        wristband(dir.path())
            .args(["serve", "--ephemeral"])
            .env("RUST_LOG", "wristband=debug"),
        Stdio::piped(),
    );
    let stderr = child.stderr.take().unwrap();
    let (lines, logged) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let address = address.unwrap_or_else(|| panic!("first line was {line:?}"));
    // An unauthenticated token whose header names an `alg` holding a newline
    // and a whole log line after it; the library's parse error quotes it.
    let forged = "2026-01-01T00:00:00.000Z INFO  wristband::access: FORGED admin login";
    let header = serde_json::json!({"alg": format!("HS256\n{forged}"), "typ": "at+jwt"});
    let token = format!("{}.e30.c2ln", URL_SAFE_NO_PAD.encode(header.to_string()));
    let response = get_with(
        &address,
        "/auth/me",
        &format!("Authorization: Bearer {token}"),
    );
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");

    // The lines logged until the refusal's, and any that follow at once.
    let refusal = |l: &String| l.contains("access token refused");
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match logged.recv_timeout(Duration::from_millis(500)) {
            Ok(line) => seen.push(line),
            Err(mpsc::RecvTimeoutError::Timeout) if seen.iter().any(refusal) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let refused = seen
        .iter()
        .find(|l| refusal(l))
        .unwrap_or_else(|| panic!("no refusal logged: {seen:#?}"));
    assert!(
        refused.contains(r"HS256\n") && refused.contains("FORGED admin login"),
        "the header's text stays on the refusal's line: {seen:#?}"
    );
    assert!(
        !seen.iter().any(|l| l.starts_with(forged)),
        "a forged line: {seen:#?}"
    );
}
