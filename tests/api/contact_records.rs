//! Contacts: unique live emails, affiliations kept as history, consent grants and
//! withdrawals with history, the mailing-list filters, CSV, and who may see them.

use actix_web::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{TestApp, TestResponse};

async fn contact(app: &TestApp, given: &str, family: &str, email: Option<&str>) -> Value {
    let response = app
        .post_json(
            "/api/v1/contacts",
            &json!({"given_name": given, "family_name": family, "email": email}),
        )
        .await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    response.json()
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

async fn consent(app: &TestApp, contact: &str, purpose: &str, granted: bool) -> TestResponse {
    let body = json!({"purpose": purpose, "granted": granted, "source": "Asked at the roundtable"});
    app.post_json(&format!("/api/v1/contacts/{contact}/consents"), &body)
        .await
}

async fn names(app: &TestApp, query: &str) -> Vec<String> {
    let page = app.get(&format!("/api/v1/contacts?{query}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    page.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c["given_name"].as_str().unwrap(),
                c["family_name"].as_str().unwrap()
            )
        })
        .collect()
}

db_test!(
    async fn contacts_are_created_changed_and_deleted_with_every_error_listed(app) {
        let empty = app.post_json("/api/v1/contacts", &json!({"email": "nope", "phone": "call me"})).await;
        empty.problem(422);
        assert_eq!(empty.error_fields(), ["email", "family_name", "given_name", "phone"]);

        let amara = contact(&app, "Amara", "Okafor", Some("Amara@Northside.example.org")).await;
        let path = format!("/api/v1/contacts/{}", id(&amara));
        let read = app.get(&path).await;
        let tag = read.header("etag").unwrap();
        let patched = app.patch_json(&path, &json!({"job_title": "Director", "email": null}), Some(&tag)).await;
        assert_eq!(patched.status, StatusCode::OK, "{}", patched.text());
        assert!(patched.json()["email"].is_null());
        app.patch_json(&path, &json!({"job_title": "Chair"}), Some(&tag)).await.problem(412);
        app.patch_json(&path, &json!({"given_name": null}), None).await.problem(422);
        assert_eq!(app.get(&path).await.json()["job_title"], "Director");

        assert_eq!(app.delete(&path, None).await.status, StatusCode::NO_CONTENT);
        app.get(&path).await.problem(404);
    }
);

db_test!(
    async fn an_email_belongs_to_one_live_contact(app) {
        let first = contact(&app, "Priya", "Sharma", Some("priya@eastgate.example.org")).await;
        let clash = app
            .post_json("/api/v1/contacts", &json!({"given_name": "P", "family_name": "S", "email": "PRIYA@eastgate.example.org"}))
            .await;
        assert_eq!(clash.problem(409)["errors"][0]["field"], "email");
        let other = contact(&app, "Kwame", "Mensah", None).await;
        let path = format!("/api/v1/contacts/{}", id(&other));
        app.patch_json(&path, &json!({"email": "priya@eastgate.example.org"}), None).await.problem(409);
        // Once the first is deleted, the address is free again.
        app.delete(&format!("/api/v1/contacts/{}", id(&first)), None).await;
        let reused = app.patch_json(&path, &json!({"email": "priya@eastgate.example.org"}), None).await;
        assert_eq!(reused.status, StatusCode::OK, "{}", reused.text());
    }
);

db_test!(
    async fn affiliations_keep_their_history_and_drive_the_organisation_filter(app) {
        let old = app.create_organisation(&json!({"name": "Old Employer", "kind": "other"})).await;
        let new = app.create_organisation(&json!({"name": "New Employer", "kind": "other"})).await;
        let person = contact(&app, "Siobhan", "Byrne", None).await;
        let base = format!("/api/v1/contacts/{}/affiliations", id(&person));
        let first = app.post_json(&base, &json!({"organisation_id": id(&old), "role": "Youth worker", "is_primary": true})).await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
        let affiliation = first.json()["id"].as_str().unwrap().to_owned();
        assert_eq!(first.header("location").as_deref(), Some(format!("{base}/{affiliation}").as_str()));
        let fetched = app.get(&format!("{base}/{affiliation}")).await;
        assert_eq!(fetched.json()["role"], "Youth worker");
        assert_eq!(fetched.json()["current"], true);
        let second = app.post_json(&base, &json!({"organisation_id": id(&new), "role": "Director", "is_primary": true})).await;
        assert_eq!(second.json()["is_primary"], true);
        let both = app.get(&format!("/api/v1/contacts/{}", id(&person))).await.json()["affiliations"].clone();
        assert_eq!(both[0]["is_primary"], false, "one primary at a time");
        assert_eq!(both[1]["is_primary"], true);

        let yesterday = (chrono::Utc::now().date_naive() - chrono::Days::new(1)).to_string();
        let ended = app.patch_json(&format!("{base}/{affiliation}"), &json!({"end_on": yesterday}), None).await;
        assert_eq!(ended.status, StatusCode::OK, "{}", ended.text());
        assert_eq!(ended.json()["current"], false, "history stays");
        assert_eq!(ended.json()["end_on"], yesterday);
        assert!(names(&app, &format!("organisation={}", id(&old))).await.is_empty());
        assert_eq!(names(&app, &format!("organisation={}", id(&new))).await, ["Siobhan Byrne"]);

        let missing = uuid::Uuid::now_v7();
        let unknown = app.post_json(&base, &json!({"organisation_id": missing})).await;
        assert_eq!(unknown.problem(422)["errors"][0]["field"], "organisation_id");
        let backwards = app.post_json(&base, &json!({"organisation_id": id(&new), "start_on": "2026-05-01", "end_on": "2026-04-01"})).await;
        backwards.problem(422);
        app.delete(&format!("{base}/{missing}"), None).await.problem(404);
        app.get(&format!("{base}/{missing}")).await.problem(404);
        assert_eq!(app.delete(&format!("{base}/{affiliation}"), None).await.status, StatusCode::NO_CONTENT);
        assert_eq!(app.get(&format!("/api/v1/contacts/{}", id(&person))).await.json()["affiliations"].as_array().unwrap().len(), 1);
    }
);

db_test!(
    async fn consent_is_granted_and_withdrawn_with_history_and_filters_mailing_lists(app) {
        let stays = contact(&app, "Olu", "Adeyemi", None).await;
        let leaves = contact(&app, "Bethan", "Price", None).await;
        let returns = contact(&app, "Marek", "Kowalski", None).await;
        assert_eq!(consent(&app, &id(&stays), "newsletter", true).await.status, StatusCode::CREATED);
        consent(&app, &id(&stays), "events", true).await;
        consent(&app, &id(&leaves), "newsletter", true).await;
        consent(&app, &id(&leaves), "newsletter", false).await;
        consent(&app, &id(&returns), "newsletter", false).await;
        let now = consent(&app, &id(&returns), "newsletter", true).await.json();
        assert_eq!(now["consents"][0]["granted"], true);

        assert_eq!(names(&app, "consent=newsletter").await, ["Olu Adeyemi", "Marek Kowalski"]);
        assert_eq!(names(&app, "consent=newsletter&consent=events").await, ["Olu Adeyemi"]);

        let history = app.get(&format!("/api/v1/contacts/{}/consents", id(&leaves))).await.json();
        let steps: Vec<bool> = history["data"].as_array().unwrap().iter().map(|c| c["granted"].as_bool().unwrap()).collect();
        assert_eq!(steps, [true, false]);
        assert!(history["data"][1]["recorded_by"].is_string());

        let bad = app.post_json(&format!("/api/v1/contacts/{}/consents", id(&stays)), &json!({"purpose": "telepathy", "granted": true})).await;
        bad.problem(422);
        assert_eq!(bad.error_fields(), ["purpose", "source"]);
    }
);

db_test!(
    async fn lists_sort_search_page_and_export(app) {
        for (given, family) in [("Zainab", "Ali"), ("callum", "campbell"), ("Rhys", "Evans"), ("=cmd", "Hughes")] {
            contact(&app, given, family, Some(&format!("{}@people.example.org", given.trim_start_matches('=')))).await;
        }
        assert_eq!(names(&app, "").await, ["Zainab Ali", "callum campbell", "Rhys Evans", "=cmd Hughes"]);
        assert_eq!(names(&app, "q=CAMP").await, ["callum campbell"]);
        assert_eq!(names(&app, "q=rhys@people").await, ["Rhys Evans"]);

        let first = app.get("/api/v1/contacts?limit=3").await;
        assert!(first.header("link").unwrap().contains("rel=\"next\""));
        let cursor = first.json()["next_cursor"].as_str().unwrap().to_owned();
        assert_eq!(names(&app, &format!("limit=3&cursor={cursor}")).await, ["=cmd Hughes"]);

        app.get("/api/v1/contacts?colour=red").await.problem(400);
        app.get("/api/v1/contacts?organisation=not-a-uuid").await.problem(400);

        let csv = app.send(app.request(Method::GET, "/api/v1/contacts").insert_header(("accept", "text/csv")), None).await;
        let text = csv.text();
        let mut lines = text.lines();
        assert_eq!(lines.next().unwrap(), "id,given_name,family_name,email,phone,job_title,pronouns,current_organisations,consents_granted,created_at,updated_at,deleted_at");
        assert_eq!(lines.clone().count(), 4);
        assert!(text.contains(",'=cmd,Hughes,"), "{text}");
    }
);

db_test!(
    async fn only_contact_readers_see_people(app) {
        let person = contact(&app, "Grace", "Taylor", Some("grace@people.example.org")).await;
        let organisations_key = app.api_key(&["organisations:read"]).await;
        let contacts_key = app.api_key(&["contacts:read"]).await;
        app.as_(Some(&organisations_key)).get("/api/v1/contacts").await.problem(403);
        let path = format!("/api/v1/contacts/{}", id(&person));
        app.as_(Some(&organisations_key)).get(&path).await.problem(403);
        assert_eq!(app.as_(Some(&contacts_key)).get(&path).await.status, StatusCode::OK);
        let viewer = app.token_for("viewer").await;
        let caller = app.as_(Some(&viewer));
        assert_eq!(caller.get("/api/v1/contacts").await.status, StatusCode::OK);
        caller.post_json("/api/v1/contacts", &json!({"given_name": "A", "family_name": "B"})).await.problem(403);
    }
);
