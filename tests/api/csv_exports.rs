//! CSV lists refuse a bad request with its problem, before the first byte of the file: a
//! download is never a header row and then a cut connection.

use actix_web::http::{Method, StatusCode};
use base64::Engine;
use serde_json::json;

use crate::db_test;
use crate::helpers::{TestApp, TestResponse};

async fn csv_get(app: &TestApp, path: &str) -> TestResponse {
    let request = app
        .request(Method::GET, path)
        .insert_header(("accept", "text/csv"));
    app.send(request, None).await
}

/// A cursor shaped like ours, for `sort`, whose position the store cannot read.
fn forged_cursor(sort: &str) -> String {
    let json = format!(r#"{{"s":"{sort}","k":"last tuesday","i":"x"}}"#);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

#[track_caller]
fn assert_refused(response: &TestResponse, path: &str, code: &str) {
    assert_eq!(
        response.status,
        StatusCode::BAD_REQUEST,
        "{path}: {}",
        response.text()
    );
    let problem = response.problem(400);
    assert_eq!(problem["errors"][0]["code"], code, "{path}: {problem}");
    assert!(response.header("x-request-id").is_some(), "{path}");
    assert_eq!(
        response.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert!(response.header("content-disposition").is_none(), "{path}");
}

db_test!(
    async fn a_csv_list_with_a_bad_filter_is_refused_before_its_first_byte(app) {
        // Taxonomy codes shaped right but unknown: only the database can tell.
        for path in [
            "/api/v1/organisations?leadership=DEI999999",
            "/api/v1/organisations?mission=DEI999999",
            "/api/v1/organisations?expertise=nope",
            "/api/v1/expert-groups?expertise=nope",
            "/api/v1/consultations?expertise=nope",
        ] {
            assert_refused(&csv_get(&app, path).await, path, "unknown_code");
        }
        // A cursor whose position only the store reads.
        for list in ["organisations", "contacts", "expert-groups", "consultations"] {
            let path = format!("/api/v1/{list}?sort=updated_at&cursor={}", forged_cursor("updated_at"));
            assert_refused(&csv_get(&app, &path).await, &path, "invalid");
        }
        // A refused contact export is not recorded as an export.
        let exports = app.get("/api/v1/audit-events?entity_type=contact&action=export").await;
        assert_eq!(exports.status, StatusCode::OK, "{}", exports.text());
        assert_eq!(exports.json()["data"], json!([]));

        // The same lists with good filters still stream, header row first.
        for (path, heading) in [
            ("/api/v1/organisations?leadership=DEI010000", "id,"),
            ("/api/v1/expert-groups?expertise=participation_voice", "id,"),
            ("/api/v1/consultations?expertise=participation_voice", "id,"),
            ("/api/v1/contacts?sort=updated_at", "id,"),
        ] {
            let response = csv_get(&app, path).await;
            assert_eq!(response.status, StatusCode::OK, "{path}: {}", response.text());
            assert!(response.text().starts_with(heading), "{path}: {}", response.text());
        }
        let exports = app.get("/api/v1/audit-events?entity_type=contact&action=export").await;
        assert_eq!(exports.json()["data"].as_array().unwrap().len(), 1);
    }
);

db_test!(
    async fn every_csv_sub_list_refuses_bad_parameters_with_a_problem(app) {
        let organisation = app.create_organisation(&crate::helpers::organisation("Refusals")).await;
        let organisation = organisation["id"].as_str().unwrap();
        let group = app
            .post_json("/api/v1/expert-groups", &json!({"name": "Refusals", "kind": "expert_group", "status": "active"}))
            .await;
        assert_eq!(group.status, StatusCode::CREATED, "{}", group.text());
        let group = group.json()["id"].as_str().unwrap().to_owned();
        let consultation = app
            .post_json("/api/v1/consultations", &json!({"title": "Refusals", "kind": "survey"}))
            .await;
        assert_eq!(consultation.status, StatusCode::CREATED, "{}", consultation.text());
        let consultation = consultation.json()["id"].as_str().unwrap().to_owned();
        for path in [
            format!("/api/v1/consultations/{consultation}/invitations?cursor=nope"),
            format!("/api/v1/consultations/{consultation}/responses?attribution=nobody"),
            format!("/api/v1/organisations/{organisation}/consultations?cursor=nope"),
            format!("/api/v1/expert-groups/{group}/members?status=someday"),
            format!("/api/v1/organisations/{organisation}/expert-groups?status=someday"),
        ] {
            assert_refused(&csv_get(&app, &path).await, &path, "invalid");
        }
    }
);
