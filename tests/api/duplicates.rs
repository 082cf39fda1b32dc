//! Likely duplicate organisations: the reasons, the score, the order, and "not a duplicate".

use actix_web::http::StatusCode;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::TestApp;

async fn org(app: &TestApp, body: Value) -> String {
    app.create_organisation(&body).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn pairs(list: &Value) -> Vec<(Vec<String>, Vec<String>, f64)> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| {
            let mut names: Vec<String> = pair["organisations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["name"].as_str().unwrap().to_owned())
                .collect();
            names.sort();
            let reasons = pair["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_owned())
                .collect();
            (names, reasons, pair["score"].as_f64().unwrap())
        })
        .collect()
}

db_test!(
    async fn pairs_come_with_their_reasons_highest_score_first(app) {
        org(&app, json!({"name": "Northside Peer Voices", "kind": "grassroots_group", "website": "https://www.northside.example.org"})).await;
        org(&app, json!({"name": "The Northside Peer-Voices Ltd", "kind": "grassroots_group", "website": "https://northside.example.org/about"})).await;
        org(&app, json!({"name": "Southside Trust", "kind": "local_charity", "charity_number": "1161226"})).await;
        org(&app, json!({"name": "Southside Trading", "kind": "social_enterprise", "charity_number": "1161226-1"})).await;
        org(&app, json!({"name": "Unrelated", "kind": "other"})).await;
        let list = app.get("/api/v1/organisations/duplicates").await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text());
        let found = pairs(&list.json());
        assert_eq!(found.len(), 2, "{found:?}");
        // A shared main charity number (0.9) before a shared domain and name (1 - 0.3 x 0.4).
        assert_eq!(found[0].0, vec!["Southside Trading", "Southside Trust"]);
        assert_eq!(found[0].1, vec!["charity_number"]);
        assert!((found[0].2 - 0.9).abs() < 1e-9, "{}", found[0].2);
        assert_eq!(found[1].0, vec!["Northside Peer Voices", "The Northside Peer-Voices Ltd"]);
        assert_eq!(found[1].1, vec!["website_domain", "name"]);
        assert!((found[1].2 - 0.88).abs() < 1e-9, "{}", found[1].2);
        let only_names = pairs(&app.get("/api/v1/organisations/duplicates?reason=charity_number").await.json());
        assert_eq!(only_names.len(), 1);
        // Pages follow the order.
        let first = app.get("/api/v1/organisations/duplicates?limit=1").await.json();
        let cursor = first["next_cursor"].as_str().expect("a second page").to_owned();
        let second = app.get(&format!("/api/v1/organisations/duplicates?limit=1&cursor={cursor}")).await.json();
        assert_eq!(pairs(&second)[0].0, found[1].0);
        assert!(second["next_cursor"].is_null());
        app.get("/api/v1/organisations/duplicates?reason=colour").await.problem(400);
        let viewer = app.token_for("viewer").await;
        app.as_(Some(&viewer)).get("/api/v1/organisations/duplicates").await.problem(403);
    }
);

db_test!(
    async fn a_pair_marked_not_a_duplicate_stops_appearing(app) {
        let a = org(&app, json!({"name": "Youth & Justice", "kind": "other"})).await;
        let b = org(&app, json!({"name": "Youth and Justice", "kind": "other"})).await;
        assert_eq!(pairs(&app.get("/api/v1/organisations/duplicates").await.json()).len(), 1);
        let marked = app.post_json("/api/v1/organisations/duplicates/dismissals", &json!({"organisation_ids": [b, a]})).await;
        assert_eq!(marked.status, StatusCode::CREATED, "{}", marked.text());
        let mut expected = vec![a.clone(), b.clone()];
        expected.sort();
        assert_eq!(marked.json()["organisation_ids"], json!(expected));
        assert!(pairs(&app.get("/api/v1/organisations/duplicates").await.json()).is_empty());
        let again = app.post_json("/api/v1/organisations/duplicates/dismissals", &json!({"organisation_ids": [a, b]})).await;
        assert_eq!(again.status, StatusCode::CREATED, "saying it again is harmless");
        let history = app.get(&format!("/api/v1/organisations/{a}/history")).await.json();
        assert_eq!(history["data"][0]["action"], "duplicate.dismiss");

        app.post_json("/api/v1/organisations/duplicates/dismissals", &json!({"organisation_ids": [a, a]})).await.problem(422);
        app.post_json("/api/v1/organisations/duplicates/dismissals", &json!({"organisation_ids": [a]})).await.problem(422);
        app.post_json("/api/v1/organisations/duplicates/dismissals", &json!({"organisation_ids": [a, uuid::Uuid::now_v7()]})).await.problem(404);
    }
);
