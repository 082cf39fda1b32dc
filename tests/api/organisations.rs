//! Creating, reading, updating and deleting organisations, with their rules.

use actix_web::http::{Method, StatusCode};
use serde_json::json;

use crate::db_test;
use crate::helpers::organisation;

db_test!(
    async fn create_returns_the_stored_organisation_with_location_and_etag(app) {
        let response = app.post_json("/api/v1/organisations", &organisation("Northside Peer Voices")).await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
        let body = response.json();
        let id = body["id"].as_str().unwrap();
        assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 7);
        assert_eq!(response.header("location").unwrap(), format!("/api/v1/organisations/{id}"));
        assert_eq!(response.header("etag").unwrap(), "\"1\"");
        assert_eq!(body["name"], "Northside Peer Voices");
        assert_eq!(body["postcode"], "M1 1AE", "postcodes are normalised");
        assert_eq!(body["regions"], json!(["north_west"]));
        assert_eq!(body["expertise"], json!(["participation_voice", "racial_justice"]));
        assert_eq!(
            body["leadership"],
            json!({"reply_status": "answered", "communities": ["DEI010110", "EXT020000"]})
        );
        assert_eq!(body["lived_experience_led"], true);
        assert_eq!(body["deleted_at"], json!(null));
        assert!(body["created_at"].as_str().unwrap().ends_with('Z'));

        let fetched = app.get(&format!("/api/v1/organisations/{id}")).await;
        assert_eq!(fetched.status, StatusCode::OK);
        assert_eq!(fetched.json(), body, "what was returned is what was stored");
    }
);

db_test!(
    async fn only_name_and_kind_are_required_and_replies_default_to_not_asked(app) {
        let body = app
            .create_organisation(&json!({"name": "Abianda", "kind": "local_charity"}))
            .await;
        assert_eq!(body["leadership"], json!({"reply_status": "not_asked", "communities": []}));
        assert_eq!(body["mission"]["reply_status"], "not_asked");
        assert_eq!(body["regions"], json!([]));
        assert_eq!(body["lived_experience_led"], json!(null));
    }
);

db_test!(
    async fn get_honours_if_none_match_and_rejects_bad_ids(app) {
        let body = app.create_organisation(&organisation("Article39")).await;
        let path = format!("/api/v1/organisations/{}", body["id"].as_str().unwrap());
        let request = app.request(Method::GET, &path).insert_header(("if-none-match", "\"1\""));
        let response = app.send(request, None).await;
        assert_eq!(response.status, StatusCode::NOT_MODIFIED);
        assert_eq!(response.header("etag").unwrap(), "\"1\"");
        let request = app.request(Method::GET, &path).insert_header(("if-none-match", "\"7\""));
        assert_eq!(app.send(request, None).await.status, StatusCode::OK);

        let missing = app.get(&format!("/api/v1/organisations/{}", uuid::Uuid::now_v7())).await;
        missing.problem(404);
        let bad = app.get("/api/v1/organisations/not-a-uuid").await;
        assert_eq!(bad.problem(400)["errors"][0]["field"], "id");
    }
);

db_test!(
    async fn validation_reports_every_failing_field_and_writes_nothing(app) {
        let response = app
            .post_json(
                "/api/v1/organisations",
                &json!({
                    "name": " padded",
                    "kind": "other",
                    "charity_number": "12",
                    "company_number": "1234",
                    "website": "ftp://example.org",
                    "email": "not-an-email",
                    "phone": "call me",
                    "postcode": "nowhere",
                    "regions": ["london", "london"],
                    "leadership": {"reply_status": "not_asked", "communities": ["DEI010100"]},
                }),
            )
            .await;
        let problem = response.problem(422);
        assert_eq!(problem["type"], "/problems/validation");
        let mut fields = response.error_fields();
        fields.dedup();
        assert_eq!(
            fields,
            [
                "charity_number",
                "company_number",
                "email",
                "leadership.communities",
                "name",
                "phone",
                "postcode",
                "regions",
                "website",
            ]
        );
        assert!(app.list_all("").await.is_empty(), "a failed create writes nothing");
    }
);

db_test!(
    async fn wrong_types_unknown_fields_and_unknown_codes_are_named(app) {
        let wrong_type = app
            .post_json("/api/v1/organisations", &json!({"name": 5, "kind": "other"}))
            .await;
        assert_eq!(wrong_type.problem(422)["errors"][0]["field"], "name");

        let unknown_enum = app
            .post_json("/api/v1/organisations", &json!({"name": "A", "kind": "club"}))
            .await;
        assert_eq!(unknown_enum.problem(422)["errors"][0]["field"], "kind");

        let typo = app
            .post_json("/api/v1/organisations", &json!({"name": "A", "kind": "other", "regoins": []}))
            .await;
        assert!(typo.problem(422)["errors"][0]["message"].as_str().unwrap().contains("regoins"));

        let nested_typo = app
            .post_json(
                "/api/v1/organisations",
                &json!({"name": "A", "kind": "other", "leadership": {"reply_status": "answered", "codes": []}}),
            )
            .await;
        assert_eq!(nested_typo.problem(422)["errors"][0]["field"], "leadership.codes");

        let unknown_codes = app
            .post_json(
                "/api/v1/organisations",
                &json!({
                    "name": "A",
                    "kind": "other",
                    "expertise": ["racial_justice", "astrology"],
                    "mission": {"reply_status": "answered", "communities": ["DEI999999"]},
                }),
            )
            .await;
        unknown_codes.problem(422);
        assert_eq!(unknown_codes.error_fields(), ["expertise[1]", "mission.communities[0]"]);
        assert!(app.list_all("").await.is_empty());
    }
);

db_test!(
    async fn a_registration_number_belongs_to_one_live_organisation(app) {
        let mut first = organisation("Northside");
        first["charity_number"] = json!("1161226");
        first["company_number"] = json!("SC123456");
        let stored = app.create_organisation(&first).await;

        let mut second = organisation("Northside again");
        second["charity_number"] = json!("1161226");
        let clash = app.post_json("/api/v1/organisations", &second).await;
        assert_eq!(clash.problem(409)["errors"][0]["field"], "charity_number");
        assert_eq!(app.list_all("").await.len(), 1, "the clash wrote nothing");

        // Deleting the holder frees the number.
        let path = format!("/api/v1/organisations/{}", stored["id"].as_str().unwrap());
        assert_eq!(app.delete(&path, None).await.status, StatusCode::NO_CONTENT);
        app.create_organisation(&second).await;
    }
);

db_test!(
    async fn patch_merges_clears_with_null_and_bumps_the_etag(app) {
        let stored = app.create_organisation(&organisation("Northside")).await;
        let path = format!("/api/v1/organisations/{}", stored["id"].as_str().unwrap());

        let response = app
            .patch_json(
                &path,
                &json!({"name": "Northside Voices", "website": null, "regions": ["london", "wales"]}),
                Some("\"1\""),
            )
            .await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        assert_eq!(response.header("etag").unwrap(), "\"2\"");
        let patched = response.json();
        assert_eq!(patched["name"], "Northside Voices");
        assert_eq!(patched["website"], json!(null));
        assert_eq!(patched["regions"], json!(["london", "wales"]));
        assert_eq!(patched["email"], stored["email"], "fields left out are kept");
        assert_eq!(patched["leadership"], stored["leadership"]);
        assert_eq!(patched["created_at"], stored["created_at"]);
        assert_ne!(patched["updated_at"], stored["updated_at"]);
        assert_eq!(app.get(&path).await.json(), patched);

        // A reply that stops being answered loses its codes; staying answered keeps them.
        let response = app
            .patch_json(&path, &json!({"mission": {"reply_status": "prefer_not_to_say"}}), None)
            .await;
        assert_eq!(response.json()["mission"], json!({"reply_status": "prefer_not_to_say", "communities": []}));
        let response = app
            .patch_json(&path, &json!({"leadership": {"reply_status": "answered"}}), None)
            .await;
        assert_eq!(response.json()["leadership"], stored["leadership"]);

        // A patch that changes nothing keeps the version.
        let response = app.patch_json(&path, &json!({"name": "Northside Voices"}), None).await;
        assert_eq!(response.header("etag").unwrap(), "\"3\"");
    }
);

db_test!(
    async fn a_bad_patch_changes_nothing(app) {
        let stored = app.create_organisation(&organisation("Northside")).await;
        let path = format!("/api/v1/organisations/{}", stored["id"].as_str().unwrap());

        let null_name = app.patch_json(&path, &json!({"name": null, "phone": "x"}), None).await;
        assert_eq!(null_name.problem(422)["errors"][0]["field"], "name");
        let invalid = app
            .patch_json(&path, &json!({"phone": "x", "email": "nope", "expertise": ["astrology"]}), None)
            .await;
        invalid.problem(422);
        assert_eq!(invalid.error_fields(), ["email", "phone"]);
        let unknown = app.patch_json(&path, &json!({"expertise": ["astrology"]}), None).await;
        assert_eq!(unknown.problem(422)["errors"][0]["field"], "expertise[0]");

        let after = app.get(&path).await;
        assert_eq!(after.header("etag").unwrap(), "\"1\"");
        assert_eq!(after.json(), stored);
    }
);

db_test!(
    async fn a_stale_if_match_is_refused_and_changes_nothing(app) {
        let stored = app.create_organisation(&organisation("Northside")).await;
        let path = format!("/api/v1/organisations/{}", stored["id"].as_str().unwrap());
        let first = app.patch_json(&path, &json!({"name": "First admin"}), Some("\"1\"")).await;
        assert_eq!(first.status, StatusCode::OK);

        let second = app.patch_json(&path, &json!({"name": "Second admin"}), Some("\"1\"")).await;
        assert_eq!(second.problem(412)["type"], "/problems/precondition-failed");
        let weak = app.patch_json(&path, &json!({"name": "Weak"}), Some("W/\"2\"")).await;
        weak.problem(412);
        assert_eq!(app.get(&path).await.json()["name"], "First admin");

        let stale_delete = app.delete(&path, Some("\"1\"")).await;
        stale_delete.problem(412);
        assert_eq!(app.get(&path).await.status, StatusCode::OK);
        assert_eq!(app.delete(&path, Some("\"2\"")).await.status, StatusCode::NO_CONTENT);
    }
);

db_test!(
    async fn delete_is_soft_and_leaves_a_tombstone_for_sync(app) {
        let kept = app.create_organisation(&organisation("Kept")).await;
        let gone = app.create_organisation(&organisation("Gone")).await;
        let gone_id = gone["id"].as_str().unwrap();
        let path = format!("/api/v1/organisations/{gone_id}");
        let before_delete = gone["updated_at"].as_str().unwrap().to_owned();

        assert_eq!(app.delete(&path, None).await.status, StatusCode::NO_CONTENT);
        app.get(&path).await.problem(404);
        app.delete(&path, None).await.problem(404);
        app.patch_json(&path, &json!({"name": "Back"}), None).await.problem(404);

        let live = app.list_all("").await;
        assert_eq!(live.len(), 1);
        assert_eq!(live[0]["id"], kept["id"]);

        let since = urlencode(&before_delete);
        let sync = app
            .list_all(&format!("updated_since={since}&include_deleted=true"))
            .await;
        assert_eq!(sync.len(), 1, "only the change after the timestamp: {sync:?}");
        assert_eq!(sync[0]["id"], gone_id);
        assert!(sync[0]["deleted_at"].is_string());
        assert_eq!(sync[0].as_object().unwrap().len(), 2, "a tombstone is id and deleted_at");
    }
);

pub fn urlencode(text: &str) -> String {
    text.replace(':', "%3A").replace('+', "%2B")
}
