//! The first admin: `WRISTBAND_ADMIN_EMAIL`/`_PASSWORD` at start-up, and
//! `wristband create-admin`.

use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use wristband::api::{Credentials, PasswordChange, UserList};

use crate::helpers::{
    ADMIN_EMAIL, PASSWORD, ResponseExt, TestDatabase, admin_settings, backend_test, base_settings,
};

backend_test!(the_configured_admin_exists_once_across_restarts_and_keeps_its_password);
async fn the_configured_admin_exists_once_across_restarts_and_keeps_its_password(db: TestDatabase) {
    let first = db.spawn(admin_settings()).await;
    let admin = first.admin().await;
    let change = PasswordChange::new(PASSWORD, "a newer admin password");
    let changed = admin.post("/auth/password").json(&change).await;
    assert_eq!(changed.status(), StatusCode::OK);

    // A restart (another instance with the same settings) changes nothing.
    let second = db.spawn(admin_settings()).await;
    let admin = second.login(ADMIN_EMAIL, "a newer admin password").await;
    let list: UserList = admin
        .get(&format!("/admin/users?email={ADMIN_EMAIL}"))
        .await
        .body()
        .await;
    assert_eq!(list.total, 1, "{:?}", db.backend);
    assert_eq!(list.users[0].role, "admin");
}

backend_test!(an_existing_user_named_as_admin_is_promoted);
async fn an_existing_user_named_as_admin_is_promoted(db: TestDatabase) {
    let plain = db.spawn(base_settings()).await;
    let user = plain.login_as(ADMIN_EMAIL).await;
    assert_eq!(
        user.get("/admin/users").await.status(),
        StatusCode::FORBIDDEN
    );

    let configured = db.spawn(admin_settings()).await;
    let admin = configured.admin().await;
    assert_eq!(admin.get("/admin/users").await.status(), StatusCode::OK);
}

backend_test!(someone_elses_account_with_the_admin_email_is_not_promoted);
async fn someone_elses_account_with_the_admin_email_is_not_promoted(db: TestDatabase) {
    let plain = db.spawn(base_settings()).await;
    // With open registration, anyone could take the admin's email first.
    let squatter = Credentials::new(ADMIN_EMAIL, "the squatter's password");
    let response = plain.anon().post("/auth/register").json(&squatter).await;
    assert_eq!(response.status(), StatusCode::CREATED);

    let mut settings = admin_settings();
    settings.database_url = Some(db.url.clone());
    let config = wristband::Config::from_settings(&settings).unwrap();
    let error = match wristband::Application::build(config).await {
        Ok(_) => panic!(
            "{:?}: start-up promoted an account with another password",
            db.backend
        ),
        Err(e) => e.to_string(),
    };
    assert!(
        error.contains("WRISTBAND_ADMIN_EMAIL") && error.contains("create-admin"),
        "{error}"
    );
    assert!(
        !error.contains(PASSWORD) && !error.contains("squatter"),
        "no password in the message"
    );
    let squatter = plain.login(ADMIN_EMAIL, "the squatter's password").await;
    assert_eq!(
        squatter.get("/admin/users").await.status(),
        StatusCode::FORBIDDEN
    );
}

fn create_admin(
    database_url: &str,
    email: &str,
    stdin: Option<&str>,
    env_password: Option<&str>,
) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_wristband"));
    command
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("WRISTBAND_DATABASE_URL", database_url)
        .env("WRISTBAND_BCRYPT_COST", "4")
        .args(["create-admin", "--email", email])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(password) = env_password {
        command.env("WRISTBAND_ADMIN_PASSWORD", password);
    }
    let mut child = command.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

backend_test!(create_admin_reads_the_password_from_stdin_or_the_environment);
async fn create_admin_reads_the_password_from_stdin_or_the_environment(db: TestDatabase) {
    let url = &db.url;
    let output = create_admin(url, "Root@Example.com", Some("stdin password 1\n"), None);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = create_admin(url, "root@example.com", Some("short\n"), None);
    assert!(!output.status.success(), "a weak password is refused");
    assert!(String::from_utf8_lossy(&output.stderr).contains("weak password"));

    let app = db.spawn(base_settings()).await;
    let admin = app.login("root@example.com", "stdin password 1").await;
    assert_eq!(admin.get("/admin/users").await.status(), StatusCode::OK);

    // Run again with the environment's password: the account is reset and
    // its sessions revoked.
    let output = create_admin(url, "root@example.com", None, Some("env password 22"));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Another process revoked: this instance sees it within its 1 s cache.
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        admin.get("/auth/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let response = app
        .anon()
        .try_login("root@example.com", "stdin password 1")
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    app.login("root@example.com", "env password 22").await;
}

backend_test!(a_create_admin_reset_lifts_the_lockout);
async fn a_create_admin_reset_lifts_the_lockout(db: TestDatabase) {
    let url = &db.url;
    let output = create_admin(url, "root@example.com", Some("stdin password 1\n"), None);
    assert!(output.status.success());
    let settings = wristband::config::Settings {
        login_max_failures: Some("2".into()),
        ..base_settings()
    };
    let app = db.spawn(settings).await;
    for _ in 0..2 {
        let response = app
            .anon()
            .try_login("root@example.com", "not the password")
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = app
        .anon()
        .try_login("root@example.com", "stdin password 1")
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    // The operator resets the password: every lock of the account goes.
    let output = create_admin(url, "root@example.com", None, Some("env password 22"));
    assert!(output.status.success());
    app.login("root@example.com", "env password 22").await;
}
