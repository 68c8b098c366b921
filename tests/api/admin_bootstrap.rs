//! The first admin: `WRISTBAND_ADMIN_EMAIL`/`_PASSWORD` at start-up, and
//! `wristband create-admin`.

use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use serde_json::json;

use crate::legacy::{
    ADMIN_EMAIL, PASSWORD, admin_settings, backends, base_settings, fresh_database, json_body,
    spawn_on,
};

#[actix_web::test]
async fn the_configured_admin_exists_once_across_restarts_and_keeps_its_password() {
    for backend in backends() {
        let (url, dir) = fresh_database(backend);
        let first = spawn_on(url.clone(), dir.clone(), admin_settings()).await;
        let admin = first.admin().await;
        let body = json!({"current_password": PASSWORD, "new_password": "a newer admin password"});
        let changed = first
            .post_bearer("/auth/password", &admin.access_token, Some(&body))
            .await;
        assert_eq!(changed.status(), StatusCode::OK);

        // A restart (another instance with the same settings) changes nothing.
        let second = spawn_on(url, dir, admin_settings()).await;
        let admin = second
            .login_with(ADMIN_EMAIL, "a newer admin password")
            .await;
        let list = json_body(
            second
                .get(
                    &format!("/admin/users?email={ADMIN_EMAIL}"),
                    &admin.access_token,
                )
                .await,
        )
        .await;
        assert_eq!(list["total"], 1, "{backend:?}");
        assert_eq!(list["users"][0]["role"], "admin");
    }
}

#[actix_web::test]
async fn an_existing_user_named_as_admin_is_promoted() {
    for backend in backends() {
        let (url, dir) = fresh_database(backend);
        let plain = spawn_on(url.clone(), dir.clone(), base_settings()).await;
        let user = plain.login_as(ADMIN_EMAIL).await;
        assert_eq!(
            plain.get("/admin/users", &user.access_token).await.status(),
            StatusCode::FORBIDDEN
        );

        let configured = spawn_on(url, dir, admin_settings()).await;
        let admin = configured.admin().await;
        assert_eq!(
            configured
                .get("/admin/users", &admin.access_token)
                .await
                .status(),
            StatusCode::OK
        );
    }
}

#[actix_web::test]
async fn someone_elses_account_with_the_admin_email_is_not_promoted() {
    for backend in backends() {
        let (url, dir) = fresh_database(backend);
        let plain = spawn_on(url.clone(), dir.clone(), base_settings()).await;
        // With open registration, anyone could take the admin's email first.
        assert_eq!(
            plain
                .register(ADMIN_EMAIL, "the squatter's password")
                .await
                .status(),
            StatusCode::CREATED
        );

        let mut settings = admin_settings();
        settings.database_url = Some(url);
        let config = wristband::Config::from_settings(&settings).unwrap();
        let error = match wristband::Application::build(config).await {
            Ok(_) => panic!("{backend:?}: start-up promoted an account with another password"),
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
        let squatter = plain
            .login_with(ADMIN_EMAIL, "the squatter's password")
            .await;
        assert_eq!(
            plain
                .get("/admin/users", &squatter.access_token)
                .await
                .status(),
            StatusCode::FORBIDDEN
        );
    }
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

#[actix_web::test]
async fn create_admin_reads_the_password_from_stdin_or_the_environment() {
    for backend in backends() {
        let (url, dir) = fresh_database(backend);
        let output = create_admin(&url, "Root@Example.com", Some("stdin password 1\n"), None);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let output = create_admin(&url, "root@example.com", Some("short\n"), None);
        assert!(!output.status.success(), "a weak password is refused");
        assert!(String::from_utf8_lossy(&output.stderr).contains("weak password"));

        let app = spawn_on(url.clone(), dir.clone(), base_settings()).await;
        let admin = app.login_with("root@example.com", "stdin password 1").await;
        assert_eq!(
            app.get("/admin/users", &admin.access_token).await.status(),
            StatusCode::OK
        );

        // Run again with the environment's password: the account is reset and
        // its sessions revoked.
        let output = create_admin(&url, "root@example.com", None, Some("env password 22"));
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        // Another process revoked: this instance sees it within its 1 s cache.
        actix_web::rt::time::sleep(std::time::Duration::from_millis(1100)).await;
        assert_eq!(
            app.me(&admin.access_token).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            app.login("root@example.com", "stdin password 1")
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
        app.login_with("root@example.com", "env password 22").await;
    }
}
