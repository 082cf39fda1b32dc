//! Incremental sync as an integration runs it: pages in `(updated_at, id)` order, through
//! thousands of rows that share one `updated_at`, with changes made during the pull, and
//! deletions as tombstones. Nothing is lost and nothing is repeated except what changed.

use std::collections::HashMap;

use convene::demo::{DemoOptions, fill};
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::TestApp;

/// Pulls `collection` changed since `since`, page by page; after the first page, `during`
/// runs once (a change made mid-pull). Returns every entry in the order received.
async fn pull(app: &TestApp, collection: &str, since: &str, during: Option<&str>) -> Vec<Value> {
    let mut received = Vec::new();
    let mut cursor: Option<String> = None;
    let mut changed = false;
    loop {
        let mut path =
            format!("/api/v1/{collection}?updated_since={since}&include_deleted=true&limit=200");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page = app.get(&path).await.json();
        received.extend(page["data"].as_array().unwrap().iter().cloned());
        if let (Some(id), false) = (during, changed) {
            let response = app
                .patch_json(
                    &format!("/api/v1/{collection}/{id}"),
                    &json!({"phone": "020 7946 0000"}),
                    None,
                )
                .await;
            assert_eq!(response.status.as_u16(), 200, "{}", response.text());
            changed = true;
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return received,
        }
    }
}

fn counts(entries: &[Value]) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for entry in entries {
        *seen
            .entry(entry["id"].as_str().unwrap().to_owned())
            .or_insert(0) += 1;
    }
    seen
}

db_test!(
    async fn a_pull_through_rows_sharing_one_timestamp_misses_and_repeats_nothing(app) {
        // The batched demo writes every row of a batch with the same `updated_at`.
        let mut conn = app.state.db.connection().unwrap();
        fill(&mut conn, DemoOptions { seed: 3, organisations: 2_100, contacts: 1_100 }).unwrap();
        drop(conn);
        let since = "2000-01-01T00:00:00Z";
        for (collection, expected) in [("organisations", 2_100), ("contacts", 1_100)] {
            let first = app.get(&format!("/api/v1/{collection}?updated_since={since}&limit=1")).await.json();
            let early = first["data"][0]["id"].as_str().unwrap().to_owned();
            let received = pull(&app, collection, since, Some(&early)).await;
            let seen = counts(&received);
            assert_eq!(seen.len(), expected, "{collection}: every row arrives");
            // The row changed mid-pull comes again, with its change; nothing else repeats.
            assert_eq!(seen[&early], 2, "{collection}: the changed row arrives again");
            assert_eq!(received.len(), expected + 1, "{collection}: nothing else repeats");
            assert_eq!(received.last().unwrap()["id"], early.as_str());
            assert_eq!(received.last().unwrap()["phone"], "020 7946 0000");
            let order: Vec<(String, String)> = received[..received.len() - 1]
                .iter()
                .map(|e| (e["updated_at"].as_str().unwrap().to_owned(), e["id"].as_str().unwrap().to_owned()))
                .collect();
            let mut sorted = order.clone();
            sorted.sort();
            // Before the changed row's second arrival, pages come in (updated_at, id) order.
            assert_eq!(order, sorted, "{collection}: (updated_at, id) order");
        }
    }
);

db_test!(
    async fn the_next_pull_brings_only_changes_and_deletions(app) {
        let kept = app.create_organisation(&json!({"name": "Kept Trust", "kind": "other"})).await;
        let gone = app.create_organisation(&json!({"name": "Gone Trust", "kind": "other"})).await;
        let everything = pull(&app, "organisations", "2000-01-01T00:00:00Z", None).await;
        let since = everything
            .iter()
            .map(|e| e["updated_at"].as_str().unwrap().to_owned())
            .max()
            .unwrap();
        assert!(pull(&app, "organisations", &since, None).await.is_empty());

        let gone_id = gone["id"].as_str().unwrap();
        assert_eq!(app.delete(&format!("/api/v1/organisations/{gone_id}"), None).await.status.as_u16(), 204);
        let changes = pull(&app, "organisations", &since, None).await;
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0]["id"], gone_id);
        assert!(changes[0]["deleted_at"].is_string());
        assert!(changes[0].get("name").is_none(), "a tombstone carries no data");
        assert_ne!(changes[0]["id"], kept["id"]);
    }
);
