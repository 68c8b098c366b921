//! `GET /openapi.json`: an OpenAPI 3.1 document that lists exactly the routes
//! the server serves, with the Bearer and refresh-cookie schemes.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{ResponseExt, TestApp, backend_test};

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            routes.insert((method.to_uppercase(), path.clone()));
        }
    }
    routes
}

fn served(test_mode: bool) -> BTreeSet<(String, String)> {
    wristband::routes::table()
        .into_iter()
        .filter(|entry| {
            let features = wristband::routes::Features {
                test_mode,
                mail: test_mode,
                passkeys: true,
            };
            wristband::routes::serves(features, entry.path)
        })
        .map(|entry| (entry.method.to_string(), entry.path.to_owned()))
        .collect()
}

backend_test!(the_document_lists_exactly_the_routes_served);
async fn the_document_lists_exactly_the_routes_served(app: TestApp) {
    lists_exactly_the_routes_served(app, false).await;
}

backend_test!(
    a_test_mode_document_lists_its_routes_too,
    wristband::config::Settings {
        test_mode: Some("true".into()),
        ..crate::helpers::base_settings()
    }
);
async fn a_test_mode_document_lists_its_routes_too(app: TestApp) {
    lists_exactly_the_routes_served(app, true).await;
}

async fn lists_exactly_the_routes_served(app: TestApp, test_mode: bool) {
    let response = app.anon().get("/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = response.body().await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let (documented, served) = (documented(&doc), served(test_mode));
    assert_eq!(
        documented
            .iter()
            .any(|(_, path)| path.starts_with("/test/")),
        test_mode,
        "test routes are documented exactly when served"
    );
    assert!(served.len() > 20, "the route table is read");
    assert_eq!(
        documented.difference(&served).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "documented but not served"
    );
    assert_eq!(
        served.difference(&documented).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "served but not documented"
    );
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["refresh_cookie"]["in"], "cookie");
    assert_eq!(
        schemes["refresh_cookie"]["name"],
        "__Host-wristband_refresh"
    );
    for schema in [
        "User",
        "TokenResponse",
        "Session",
        "ErrorResponse",
        "AuditEvent",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
}

/// Every optional route turned on, so that each documented one is served.
fn everything_on() -> wristband::config::Settings {
    wristband::config::Settings {
        introspection_secret: Some("an-introspection-secret-for-tests".into()),
        test_mode: Some("true".into()),
        ..crate::helpers::base_settings()
    }
}

backend_test!(
    every_documented_route_answers_and_every_refusal_is_documented,
    everything_on()
);
async fn every_documented_route_answers_and_every_refusal_is_documented(app: TestApp) {
    let anon = app.anon();
    let doc: Value = anon.get("/openapi.json").await.body().await;
    let id = uuid::Uuid::new_v4().to_string();
    for (method, path) in documented(&doc) {
        let concrete = path.replace("{id}", &id);
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = anon.request(method.clone(), &concrete).await;
        let status = response.status();
        assert!(
            status != StatusCode::METHOD_NOT_ALLOWED && status != StatusCode::NOT_FOUND,
            "{method} {path}: {status}"
        );
        let documented = &doc["paths"][&path][method.as_str().to_lowercase()]["responses"];
        assert!(
            documented[status.as_str()].is_object(),
            "{method} {path} answered {status}, which the document does not list"
        );
    }
}

backend_test!(a_method_a_path_does_not_have_is_405_with_allow);
async fn a_method_a_path_does_not_have_is_405_with_allow(app: TestApp) {
    let anon = app.anon();
    let response = anon.request(reqwest::Method::PUT, "/admin/users/x").await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "GET, PATCH");
    let response = anon.request(reqwest::Method::DELETE, "/auth/me").await;
    assert_eq!(response.headers()["allow"], "GET");
}
