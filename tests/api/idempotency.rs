//! `Idempotency-Key` on POST: a retry gets the first answer and creates nothing new; the key
//! with another body is 422; while the first is in flight, 409.

use actix_web::http::{Method, StatusCode};
use convene::domain::idempotency::{self, Answer, Claim};
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{TestApp, TestResponse};

async fn post_with_key(
    app: &TestApp,
    token: &str,
    path: &str,
    key: &str,
    body: &Value,
) -> TestResponse {
    app.as_(Some(token))
        .send(
            app.as_(Some(token))
                .request(Method::POST, path)
                .insert_header(("content-type", "application/json"))
                .insert_header(("idempotency-key", key)),
            Some(serde_json::to_vec(body).unwrap()),
        )
        .await
}

db_test!(
    async fn a_retried_create_gets_the_first_answer_and_creates_nothing_new(app) {
        let admin = app.admin_token.clone();
        let body = json!({"name": "Retried Trust", "kind": "local_charity"});
        let key = "\"0193a5c0-7b1e-7c2d-8e4f-5a6b7c8d9e0f\"";
        let first = post_with_key(&app, &admin, "/api/v1/organisations", key, &body).await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
        assert!(first.header("idempotent-replayed").is_none());
        for _ in 0..3 {
            let again = post_with_key(&app, &admin, "/api/v1/organisations", key, &body).await;
            assert_eq!(again.status, StatusCode::CREATED);
            assert_eq!(again.json(), first.json());
            assert_eq!(again.header("location"), first.header("location"));
            assert_eq!(again.header("etag"), first.header("etag"));
            assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
        }
        assert_eq!(app.list_all("q=retried").await.len(), 1);
        let id = first.json()["id"].as_str().unwrap().to_owned();
        let history = app.get(&format!("/api/v1/organisations/{id}/history")).await.json();
        assert_eq!(history["data"].as_array().unwrap().len(), 1, "one create, one event");

        // The same key for another request is refused, whatever the difference.
        let other = json!({"name": "Another Trust", "kind": "local_charity"});
        let reused = post_with_key(&app, &admin, "/api/v1/organisations", key, &other).await;
        assert_eq!(reused.problem(422)["type"], "/problems/idempotency-key-reused");
        let elsewhere = post_with_key(&app, &admin, "/api/v1/contacts", key, &json!({"given_name": "A", "family_name": "B"})).await;
        elsewhere.problem(422);
        assert!(app.list_all("q=another").await.is_empty());

        // Keys are the caller's own: another account's same key and body is its own create.
        let staff = app.token_for("staff").await;
        let theirs = post_with_key(&app, &staff, "/api/v1/organisations", key, &body).await;
        assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.text());
        assert!(theirs.header("idempotent-replayed").is_none());
        assert_eq!(app.list_all("q=retried").await.len(), 2);
    }
);

db_test!(
    async fn an_answer_that_was_a_refusal_is_replayed_too_and_bad_keys_are_400(app) {
        let admin = app.admin_token.clone();
        let bad = json!({"name": "", "kind": "local_charity"});
        let first = post_with_key(&app, &admin, "/api/v1/organisations", "bad-request-key-0001", &bad).await;
        first.problem(422);
        let again = post_with_key(&app, &admin, "/api/v1/organisations", "bad-request-key-0001", &bad).await;
        assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
        assert_eq!(again.json()["errors"], first.json()["errors"]);
        for key in ["short", "has spaces but is long enough", &"k".repeat(256)] {
            let body = json!({"name": "Keyed", "kind": "other"});
            post_with_key(&app, &admin, "/api/v1/organisations", key, &body).await.problem(400);
        }
        assert!(app.list_all("q=keyed").await.is_empty());
        // Sign-in answers with secrets: it ignores the header and never keeps an answer.
        let login = json!({"email": "admin@example.org", "password": crate::helpers::ADMIN_PASSWORD});
        let mut tokens = Vec::new();
        for _ in 0..2 {
            let signed_in = post_with_key(&app, &admin, "/api/v1/auth/login", "sign-in-key-000001", &login).await;
            assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.text());
            tokens.push(signed_in.json()["refresh_token"].clone());
        }
        assert_ne!(tokens[0], tokens[1]);
    }
);

db_test!(
    async fn concurrent_retries_create_once(app) {
        let admin = app.admin_token.clone();
        let body = json!({"name": "Stampede", "kind": "other"});
        let results = futures_util::future::join_all(
            (0..16).map(|_| post_with_key(&app, &admin, "/api/v1/organisations", "stampede-key-00001", &body)),
        )
        .await;
        for response in &results {
            match response.status {
                StatusCode::CREATED => {}
                StatusCode::CONFLICT => {
                    assert_eq!(response.problem(409)["type"], "/problems/idempotency-key-in-flight");
                    assert!(response.header("retry-after").is_some());
                }
                other => panic!("{other}: {}", response.text()),
            }
        }
        assert_eq!(app.list_all("q=stampede").await.len(), 1);
        let ids: std::collections::BTreeSet<String> = results
            .iter()
            .filter(|r| r.status == StatusCode::CREATED)
            .map(|r| r.json()["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids.len(), 1);
    }
);

db_test!(
    async fn a_key_moves_from_in_flight_to_answered(app) {
        let mut pooled = app.state.db.connection().unwrap();
        let conn: &mut convene::db::DbConn = &mut pooled;
        let claim = |conn: &mut convene::db::DbConn, print: &str| idempotency::claim(conn, "user:u", "key-under-test-01", print).unwrap();
        assert_eq!(claim(conn, "print-a"), Claim::Run);
        assert_eq!(claim(conn, "print-a"), Claim::InFlight);
        assert_eq!(claim(conn, "print-b"), Claim::Reused);
        let answer = Answer {
            status: 201,
            content_type: Some("application/json".to_owned()),
            location: Some("/api/v1/organisations/x".to_owned()),
            etag: Some("\"1\"".to_owned()),
            body: "{}".to_owned(),
        };
        idempotency::complete(conn, "user:u", "key-under-test-01", &answer).unwrap();
        assert_eq!(claim(conn, "print-a"), Claim::Replay(answer));
        assert_eq!(claim(conn, "print-b"), Claim::Reused);
        // A released key (the first answer was a 5xx) runs again.
        idempotency::release(conn, "user:u", "key-under-test-01").unwrap();
        assert_eq!(claim(conn, "print-b"), Claim::Run);
    }
);

db_test!(
    async fn a_key_is_bound_to_the_preconditions_it_was_sent_with(app) {
        let survivor = app.create_organisation(&json!({"name": "Keeps Trust", "kind": "local_charity"})).await;
        let twin = app.create_organisation(&json!({"name": "Keeps Trust Ltd", "kind": "local_charity"})).await;
        let path = format!("/api/v1/organisations/{}/merge", survivor["id"].as_str().unwrap());
        let body = json!({"merge": [twin["id"]]});
        let merge = |if_match: &'static str, key: &'static str| {
            let request = app
                .request(Method::POST, &path)
                .insert_header(("content-type", "application/json"))
                .insert_header(("idempotency-key", key))
                .insert_header(("if-match", if_match));
            app.send(request, Some(serde_json::to_vec(&body).unwrap()))
        };
        let key = "merge-with-a-precondition-01";
        merge("\"7\"", key).await.problem(412);
        // The same request again: the 412 is replayed.
        let again = merge("\"7\"", key).await;
        again.problem(412);
        assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
        // The client fixes If-Match: another request, so the key is refused rather than the
        // stale 412 replayed, and nothing is merged.
        let fixed = merge("\"1\"", key).await;
        assert_eq!(fixed.problem(422)["type"], "/problems/idempotency-key-reused");
        assert!(fixed.header("idempotent-replayed").is_none());
        let still = app.get(&format!("/api/v1/organisations/{}", twin["id"].as_str().unwrap())).await;
        assert_eq!(still.status, StatusCode::OK, "the twin is not merged yet");
        // With a new key it runs.
        let merged = merge("\"1\"", "merge-with-a-precondition-02").await;
        assert_eq!(merged.status, StatusCode::OK, "{}", merged.text());
    }
);
