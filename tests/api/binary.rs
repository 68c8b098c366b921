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
