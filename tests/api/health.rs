use reqwest::StatusCode;

use crate::helpers::{assert_error, each_backend};

#[actix_web::test]
async fn health_and_readiness_answer() {
    each_backend(|app| async move {
        let live = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(live.status(), StatusCode::OK);
        let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), StatusCode::OK);
        assert_eq!(ready.headers()["cache-control"], "no-store");
    })
    .await;
}

#[actix_web::test]
async fn unknown_paths_and_methods_get_json_errors() {
    each_backend(|app| async move {
        let response = app
            .client
            .get(app.url("/no/such/path"))
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
        let response = app.client.get(app.url("/auth/login")).send().await.unwrap();
        assert_error(
            response,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        )
        .await;
        let response = app.client.delete(app.url("/auth/me")).send().await.unwrap();
        assert_error(
            response,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        )
        .await;
    })
    .await;
}

#[actix_web::test]
async fn the_page_at_root_is_served() {
    each_backend(|app| async move {
        let response = app.client.get(app.url("/")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(response.text().await.unwrap().contains("Wristband"));
    })
    .await;
}
