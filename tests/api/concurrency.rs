//! Many writers at once: one winner per `If-Match`, no create lost or stored twice.
//! (Concurrent membership renewals are in `membership.rs`.)

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::TestResponse;

/// A request the service was too busy to take says so (503 with `Retry-After`) and wrote
/// nothing; anything else is a failure of the test.
#[track_caller]
fn busy(response: &TestResponse) -> bool {
    if response.status == StatusCode::SERVICE_UNAVAILABLE {
        assert!(
            response.header("retry-after").is_some(),
            "{}",
            response.text()
        );
        true
    } else {
        false
    }
}

db_test!(
    async fn patches_sent_with_one_if_match_have_exactly_one_winner(app) {
        let created = app.create_organisation(&json!({"name": "Contested", "kind": "local_charity"})).await;
        let path = format!("/api/v1/organisations/{}", created["id"].as_str().unwrap());
        let etag = app.get(&path).await.header("etag").unwrap();
        let bodies: Vec<Value> = (0..12).map(|i| json!({"description": format!("writer {i}")})).collect();
        let results = futures_util::future::join_all(
            bodies.iter().map(|body| app.patch_json(&path, body, Some(&etag))),
        )
        .await;
        let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
        for response in &results {
            *statuses.entry(response.status.as_u16()).or_default() += 1;
        }
        // Every loser waited for the winner's write and was then told it was stale.
        assert_eq!(statuses, BTreeMap::from([(200, 1), (412, 11)]), "{statuses:?}");
        let winners: Vec<&TestResponse> = results.iter().filter(|r| r.status == StatusCode::OK).collect();
        // What is stored is exactly what the winner was told.
        let stored = app.get(&path).await;
        assert_eq!(stored.json(), winners[0].json());
        assert_eq!(stored.header("etag"), winners[0].header("etag"));
        let history = app.get(&format!("{path}/history")).await.json();
        let updates = history["data"].as_array().unwrap().iter().filter(|e| e["action"] == "update").count();
        assert_eq!(updates, 1, "one change, one event");
    }
);

db_test!(
    async fn a_thousand_concurrent_creates_are_each_stored_exactly_once(app) {
        const CREATES: usize = 1000;
        let mut pending: Vec<usize> = (0..CREATES).collect();
        let mut stored: BTreeMap<usize, String> = BTreeMap::new();
        let mut rounds = 0;
        let app = &app;
        // A create the service is too busy for is refused with 503 and retried, as a client would.
        while !pending.is_empty() {
            rounds += 1;
            assert!(rounds <= 20, "{} creates still refused after 20 rounds", pending.len());
            let results: Vec<(usize, TestResponse)> = futures_util::stream::iter(pending.clone())
                .map(|n| async move {
                    let body = json!({"name": format!("Concurrent {n:04}"), "kind": "other"});
                    (n, app.post_json("/api/v1/organisations", &body).await)
                })
                .buffer_unordered(200)
                .collect()
                .await;
            pending.clear();
            for (n, response) in results {
                if response.status == StatusCode::CREATED {
                    let id = response.json()["id"].as_str().unwrap().to_owned();
                    assert!(stored.insert(n, id).is_none());
                } else {
                    assert!(busy(&response), "create {n}: {} {}", response.status, response.text());
                    pending.push(n);
                }
            }
        }
        let listed = app.list_all("q=concurrent").await;
        assert_eq!(listed.len(), CREATES, "every create stored, none twice");
        let mut names: Vec<&str> = listed.iter().map(|o| o["name"].as_str().unwrap()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CREATES);
        for organisation in &listed {
            let n: usize = organisation["name"].as_str().unwrap()[11..].parse().unwrap();
            assert_eq!(stored[&n], organisation["id"].as_str().unwrap());
        }
    }
);

db_test!(
    async fn patches_without_if_match_all_apply_in_order_on_every_record_type(app) {
        const WRITERS: usize = 100;
        let app = &app;
        let created = |path: &'static str, body: Value| async move {
            let response = app.post_json(path, &body).await;
            assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
            format!("{path}/{}", response.json()["id"].as_str().unwrap())
        };
        let records = [
            (created("/api/v1/organisations", json!({"name": "Contested", "kind": "local_charity"})).await, "description"),
            (created("/api/v1/contacts", json!({"given_name": "Ada", "family_name": "Contested"})).await, "job_title"),
            (created("/api/v1/expert-groups", json!({"name": "Contested group", "kind": "working_group", "status": "active"})).await, "purpose"),
            (created("/api/v1/consultations", json!({"title": "Contested", "kind": "survey", "status": "draft"})).await, "summary"),
        ];
        for (path, field) in &records {
            // Without a precondition nothing can fail it: each write waits for the one before.
            // One the service is too busy for is refused with 503 and sent again, as a client
            // would.
            let mut pending: Vec<usize> = (0..WRITERS).collect();
            let mut written: Vec<(i64, String, String)> = Vec::new();
            for _ in 0..20 {
                if pending.is_empty() {
                    break;
                }
                let results = futures_util::future::join_all(pending.iter().map(|i| async move {
                    (*i, app.patch_json(path, &json!({*field: format!("writer {i}")}), None).await)
                }))
                .await;
                pending.clear();
                for (i, response) in results {
                    if busy(&response) {
                        pending.push(i);
                        continue;
                    }
                    assert_eq!(response.status, StatusCode::OK, "{path}: {}", response.text());
                    let version: i64 = response.header("etag").unwrap().trim_matches('"').parse().unwrap();
                    let body = response.json();
                    written.push((version, body["updated_at"].as_str().unwrap().to_owned(), body[*field].as_str().unwrap().to_owned()));
                }
            }
            assert_eq!(written.len(), WRITERS, "{path}: every write went through");
            written.sort();
            // Each write made its own version, and a later version is never stamped earlier.
            for pair in written.windows(2) {
                assert_eq!(pair[1].0, pair[0].0 + 1, "{path}: {pair:?}");
                let (earlier, later): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) =
                    (pair[0].1.parse().unwrap(), pair[1].1.parse().unwrap());
                assert!(earlier < later, "{path}: version {} at {earlier}, {} at {later}", pair[0].0, pair[1].0);
            }
            let stored = app.get(path).await;
            let last = written.last().unwrap();
            assert_eq!(stored.header("etag").unwrap(), format!("\"{}\"", last.0));
            assert_eq!(stored.json()[*field], last.2.as_str());
        }
    }
);
