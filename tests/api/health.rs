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
