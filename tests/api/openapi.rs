//! The committed OpenAPI document is the one the service serves, and the docs UI works
//! offline.

use actix_web::http::StatusCode;
use serde_json::Value;

use crate::helpers::{Backend, TestApp};

const REGENERATE: &str = "cargo run -- openapi > openapi/openapi.json";

#[actix_web::test]
async fn the_committed_document_matches_the_served_one() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let served = app.get("/api/v1/openapi.json").await;
    assert_eq!(served.status, StatusCode::OK);
    let served: Value = served.json();
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .unwrap_or_else(|_| panic!("openapi/openapi.json is missing; run: {REGENERATE}")),
    )
    .expect("openapi/openapi.json is JSON");
    assert!(
        served == committed,
        "openapi/openapi.json is out of date; regenerate it with: {REGENERATE}"
    );
    assert_eq!(served["openapi"], "3.1.0");
}

#[actix_web::test]
async fn every_operation_documents_its_errors_as_problems() {
    let document = convene::api::routes::openapi();
    let json: Value = serde_json::to_value(&document).unwrap();
    let mut operations = 0;
    for (path, item) in json["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            operations += 1;
            let id = operation["operationId"].as_str().unwrap_or_default();
            assert!(!id.is_empty(), "{method} {path} has an operationId");
            let responses = operation["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|status| status.starts_with('2')),
                "{id}"
            );
            let touches_db = path != "/health/live";
            if touches_db {
                assert!(responses.contains_key("503"), "{id} documents 503");
            }
        }
    }
    assert!(operations >= 7);
}

#[actix_web::test]
async fn swagger_ui_is_served_without_any_outside_resource() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    // `/docs` (as the README writes it) redirects to `/docs/`; the client follows it.
    let bare = app.get("/docs").await;
    assert!(bare.text().contains("swagger-ui"), "{}", bare.status);
    let page = app.get("/docs/").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("swagger-ui"), "{html}");
    for line in html
        .lines()
        .filter(|l| l.contains("src=") || l.contains("href="))
    {
        assert!(
            !line.contains("http://") && !line.contains("https://"),
            "external resource: {line}"
        );
    }
    let script = app.get("/docs/swagger-ui-bundle.js").await;
    assert_eq!(script.status, StatusCode::OK);
    let config = app.get("/docs/swagger-initializer.js").await;
    assert!(config.text().contains("/api/v1/openapi.json"));
}

/// utoipa names a schema after its Rust type and keeps the last one registered, so two DTOs
/// with the same name in different modules would silently document one shape for both.
#[test]
fn every_documented_type_has_a_name_of_its_own() {
    let mut folders = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api")];
    let mut files = Vec::new();
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path);
            }
        }
    }
    let mut seen = std::collections::BTreeMap::<String, String>::new();
    for path in files {
        let source = std::fs::read_to_string(&path).unwrap();
        let mut derives_schema = false;
        for line in source.lines().map(str::trim) {
            if line.starts_with("#[derive(") {
                derives_schema = line.contains("ToSchema");
            } else if derives_schema
                && let Some(rest) = line
                    .strip_prefix("pub struct ")
                    .or_else(|| line.strip_prefix("pub enum "))
            {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let file = path.display().to_string();
                if let Some(other) = seen.insert(name.clone(), file.clone()) {
                    panic!("{name} is a schema in both {other} and {file}");
                }
                derives_schema = false;
            }
        }
    }
    assert!(seen.len() > 20, "found the DTOs: {seen:?}");
}
