//! Community codes and expertise areas: seeded, listed, added, renamed and retired by admins,
//! with retired codes kept on old records but refused on new ones.

use actix_web::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{TestApp, TestResponse};

async fn patch(app: &TestApp, path: &str, body: Value) -> TestResponse {
    app.patch_json(path, &body, None).await
}

fn codes(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap().to_owned())
        .collect()
}

db_test!(
    async fn the_defaults_are_seeded_with_their_hierarchy(app) {
        let communities = app.get("/api/v1/taxonomies/communities").await.json();
        let all = communities["data"].as_array().unwrap();
        let african = all.iter().find(|c| c["code"] == "DEI010110").unwrap();
        assert_eq!(african["parent_code"], "DEI010100");
        assert_eq!(african["source"], "DEI Data Standard");
        for code in ["DEI010000", "EXT010000", "EXT020000"] {
            assert!(codes(&communities).contains(&code.to_owned()), "{code}");
        }
        let areas = app.get("/api/v1/taxonomies/expertise-areas").await.json();
        assert!(codes(&areas).contains(&"racial_justice".to_owned()));
        app.get("/api/v1/taxonomies/communities?include_retired=maybe").await.problem(400);
    }
);

db_test!(
    async fn an_added_code_can_be_assigned_and_found_through_its_parent(app) {
        let body = json!({"code": "EXT010100", "parent_code": "EXT010000", "title": "Care leavers", "source": "Alliance"});
        let added = app.post_json("/api/v1/taxonomies/communities", &body).await;
        assert_eq!(added.status, StatusCode::CREATED, "{}", added.text());
        assert_eq!(added.json()["parent_code"], "EXT010000");
        let area = json!({"code": "school_exclusion_appeals", "title": "School exclusion appeals"});
        assert_eq!(app.post_json("/api/v1/taxonomies/expertise-areas", &area).await.status, StatusCode::CREATED);

        let organisation = json!({
            "name": "Leaving Care Voices",
            "kind": "grassroots_group",
            "expertise": ["school_exclusion_appeals"],
            "leadership": {"reply_status": "answered", "communities": ["EXT010100"]},
        });
        app.create_organisation(&organisation).await;
        let found = app.list_all("leadership=EXT010000").await;
        assert_eq!(found.len(), 1);
        assert_eq!(app.list_all("expertise=school_exclusion_appeals").await.len(), 1);

        app.post_json("/api/v1/taxonomies/communities", &body).await.problem(409);
        let orphan = json!({"code": "EXT090100", "parent_code": "EXT090000", "title": "Orphan"});
        let response = app.post_json("/api/v1/taxonomies/communities", &orphan).await;
        response.problem(422);
        assert_eq!(response.error_fields(), ["parent_code"]);
        let bad = app.post_json("/api/v1/taxonomies/communities", &json!({"code": "ext1", "title": " x"})).await;
        bad.problem(422);
        assert_eq!(bad.error_fields(), ["code", "title"]);
    }
);

db_test!(
    async fn a_retired_code_stays_on_old_records_but_cannot_be_newly_assigned(app) {
        let coded = json!({
            "name": "Old Coding Trust",
            "kind": "local_charity",
            "expertise": ["mental_health"],
            "leadership": {"reply_status": "answered", "communities": ["DEI010110"]},
        });
        let organisation = app.create_organisation(&coded).await;
        let path = format!("/api/v1/organisations/{}", organisation["id"].as_str().unwrap());

        let retired = patch(&app, "/api/v1/taxonomies/communities/DEI010110", json!({"retired": true, "title": "African (retired)"})).await;
        assert_eq!(retired.status, StatusCode::OK, "{}", retired.text());
        assert!(retired.json()["retired_at"].is_string());
        assert_eq!(retired.json()["title"], "African (retired)");
        let area = patch(&app, "/api/v1/taxonomies/expertise-areas/mental_health", json!({"retired": true})).await;
        assert_eq!(area.status, StatusCode::OK, "{}", area.text());

        let listed = app.get("/api/v1/taxonomies/communities").await.json();
        assert!(!codes(&listed).contains(&"DEI010110".to_owned()));
        let everything = app.get("/api/v1/taxonomies/communities?include_retired=true").await.json();
        assert!(codes(&everything).contains(&"DEI010110".to_owned()));

        // The old record keeps its codes, and lists still find it by them.
        let kept = app.get(&path).await.json();
        assert_eq!(kept["leadership"]["communities"], json!(["DEI010110"]));
        assert_eq!(app.list_all("leadership=DEI010110").await.len(), 1);
        assert_eq!(app.list_all("expertise=mental_health").await.len(), 1);
        // Unrelated edits keep working; assigning the retired code anew does not.
        let renamed = app.patch_json(&path, &json!({"name": "Old Coding Trust CIC"}), None).await;
        assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.text());
        let mut new = coded.clone();
        new["name"] = json!("New Coding Trust");
        let refused = app.post_json("/api/v1/organisations", &new).await;
        refused.problem(422);
        assert_eq!(refused.error_fields(), ["expertise[0]", "leadership.communities[0]"]);

        let back = patch(&app, "/api/v1/taxonomies/communities/DEI010110", json!({"retired": false})).await;
        assert!(back.json()["retired_at"].is_null());
    }
);

db_test!(
    async fn code_changes_need_a_known_well_formed_code(app) {
        patch(&app, "/api/v1/taxonomies/communities/EXT990000", json!({"title": "Nothing"})).await.problem(404);
        patch(&app, "/api/v1/taxonomies/communities/not-a-code", json!({"title": "Nothing"})).await.problem(400);
        patch(&app, "/api/v1/taxonomies/expertise-areas/racial_justice", json!({"retired": null})).await.problem(422);
        let staff = app.token_for("staff").await;
        let caller = app.as_(Some(&staff));
        let request = caller.request(Method::POST, "/api/v1/taxonomies/expertise-areas").insert_header(("content-type", "application/json"));
        let body = json!({"code": "staff_area", "title": "Staff area"}).to_string().into_bytes();
        caller.send(request, Some(body)).await.problem(403);
        assert_eq!(caller.get("/api/v1/taxonomies/expertise-areas").await.status, StatusCode::OK);
    }
);
