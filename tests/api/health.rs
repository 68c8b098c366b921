//! Health and readiness, the page at `/`, and JSON errors for unknown routes.

use reqwest::StatusCode;

use crate::helpers::{TestApp, assert_error, backend_test};

backend_test!(health_and_readiness_answer);
async fn health_and_readiness_answer(app: TestApp) {
    let anon = app.anon();
    let live = anon.get("/healthz").await;
    assert_eq!(live.status(), StatusCode::OK);
    let ready = anon.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(ready.headers()["cache-control"], "no-store");
}

backend_test!(unknown_paths_and_methods_get_json_errors);
async fn unknown_paths_and_methods_get_json_errors(app: TestApp) {
    let anon = app.anon();
    let response = anon.get("/no/such/path").await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = anon.get("/auth/login").await;
    assert_error(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    let response = anon.delete("/auth/me").await;
    assert_error(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
}

backend_test!(the_page_at_root_is_served);
async fn the_page_at_root_is_served(app: TestApp) {
    let response = app.anon().get("/").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(response.text().await.unwrap().contains("Wristband"));
}

backend_test!(the_demo_app_is_served_with_a_strict_content_security_policy);
async fn the_demo_app_is_served_with_a_strict_content_security_policy(app: TestApp) {
    let anon = app.anon();
    for (path, content_type) in [
        ("/", "text/html"),
        ("/app.js", "text/javascript"),
        ("/wristband.js", "text/javascript"),
        ("/style.css", "text/css"),
    ] {
        let response = anon.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
        assert!(header("content-type").starts_with(content_type), "{path}");
        let policy = header("content-security-policy");
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "connect-src 'self'",
        ] {
            assert!(policy.contains(directive), "{path}: {policy}");
        }
        assert!(!policy.contains("unsafe-inline"), "{path}: {policy}");
    }
    let page = anon.get("/").await.text().await.unwrap();
    assert!(!page.contains("<script>"), "no inline script");
    for id in [
        "email",
        "password",
        "register-button",
        "login-button",
        "whoami",
        "message",
    ] {
        assert!(page.contains(&format!("id=\"{id}\"")), "#{id} on the page");
    }
}
