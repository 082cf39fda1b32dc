//! Every error leaves as an RFC 9457 problem, whatever produced it.

use actix_web::http::Method;
use serde_json::{Value, json};

use crate::db_test;

db_test!(
    async fn unknown_routes_and_wrong_methods(app) {
        let unknown = app.get("/api/v1/nothing-here").await;
        assert_eq!(unknown.problem(404)["instance"], "/api/v1/nothing-here");

        let response = app
            .send(app.request(Method::PUT, "/api/v1/organisations"), None)
            .await;
        response.problem(405);
        assert_eq!(response.header("allow").unwrap(), "GET, POST");
        let id = uuid::Uuid::now_v7();
        let response = app
            .send(app.request(Method::POST, &format!("/api/v1/organisations/{id}")), None)
            .await;
        response.problem(405);
        assert_eq!(response.header("allow").unwrap(), "GET, PATCH, DELETE");
    }
);

db_test!(
    async fn bodies_must_be_json_well_formed_and_small(app) {
        let path = "/api/v1/organisations";
        let no_type = app.send(app.request(Method::POST, path), Some(b"{}".to_vec())).await;
        no_type.problem(415);
        let xml = app
            .request(Method::POST, path)
            .insert_header(("content-type", "application/xml"));
        app.send(xml, Some(b"<organisation/>".to_vec())).await.problem(415);

        let malformed = app
            .request(Method::POST, path)
            .insert_header(("content-type", "application/json"));
        let problem = app.send(malformed, Some(b"{\"name\": ".to_vec())).await.problem(400);
        assert_eq!(problem["type"], "/problems/bad-request");

        let empty = app
            .request(Method::POST, path)
            .insert_header(("content-type", "application/json"));
        app.send(empty, Some(Vec::new())).await.problem(400);

        let array = app.post_json(path, &json!([1, 2])).await;
        array.problem(422);

        let huge = json!({"name": "A", "kind": "other", "description": "x".repeat(1_100_000)});
        let too_large = app.post_json(path, &huge).await;
        assert_eq!(too_large.problem(413)["type"], "/problems/payload-too-large");
        assert!(app.list_all("").await.is_empty(), "no failed request wrote anything");
    }
);

db_test!(
    async fn problems_never_leak_internals(app) {
        let response = app
            .post_json("/api/v1/organisations", &json!({"name": "A", "kind": "other", "expertise": ["x'; DROP TABLE organisations; --"]}))
            .await;
        let text = response.text().to_lowercase();
        response.problem(422);
        for leak in ["sql", "diesel", "sqlite", "postgres", "panicked", "constraint"] {
            assert!(!text.contains(leak), "{leak} in {text}");
        }
    }
);

db_test!(
    async fn validation_lists_every_failing_field_at_once(app) {
        let path = "/api/v1/organisations";
        let body = json!({
            "name": " padded",
            "kind": "spaceship",
            "regions": ["mars"],
            "email": "not-an-address",
            "colour": "red",
            "leadership": {"communities": []},
        });
        let response = app.post_json(path, &body).await;
        response.problem(422);
        assert_eq!(
            response.error_fields(),
            ["colour", "email", "kind", "leadership.reply_status", "name", "regions[0]"]
        );
        let codes: Vec<Value> = response.json()["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|error| error["code"].clone())
            .collect();
        assert_eq!(
            codes,
            ["unknown_field", "email", "invalid", "required", "regex", "invalid"]
        );

        let empty = app.post_json(path, &json!({})).await;
        empty.problem(422);
        assert_eq!(empty.error_fields(), ["kind", "name"]);

        let patch = app.create_organisation(&json!({"name": "A", "kind": "other"})).await;
        let id = patch["id"].as_str().unwrap();
        let response = app
            .patch_json(
                &format!("{path}/{id}"),
                &json!({"kind": 7, "size_band": "huge", "name": null}),
                None,
            )
            .await;
        response.problem(422);
        assert_eq!(response.error_fields(), ["kind", "name", "size_band"]);
        assert_eq!(app.list_all("").await.len(), 1, "no failed request wrote anything");
    }
);

db_test!(
    async fn values_a_database_cannot_store_are_refused_not_failed_on(app) {
        // PostgreSQL cannot store NUL characters: a 422 naming the field, never a 500.
        let nul = app
            .as_anonymous()
            .post_json("/api/v1/auth/login", &json!({"email": "a\u{0}@example.org", "password": "x"}))
            .await;
        assert_eq!(nul.problem(422)["errors"][0]["field"], "email");
        let made_up = base64_cursor(r#"{"s":"name","k":"a\u0000","i":"b"}"#);
        app.get(&format!("/api/v1/organisations?cursor={made_up}")).await.problem(400);

        // Dates outside the years 0001-9999, in bodies and in queries.
        let organisation = app.create_organisation(&crate::helpers::organisation("Far Future")).await;
        let apply = format!("/api/v1/organisations/{}/membership/apply", organisation["id"].as_str().unwrap());
        let ancient = app.post_json(&apply, &json!({"tier": "full", "applied_on": "-5000-01-01"})).await;
        assert_eq!(ancient.problem(422)["errors"][0]["field"], "applied_on");
        let far = app.post_json(&apply, &json!({"tier": "full", "applied_on": "+10000-01-01"})).await;
        far.problem(422);
        app.get("/api/v1/organisations?membership_status=current&as_of=-5000-01-01").await.problem(400);
        app.get("/api/v1/organisations?updated_since=-5000-01-01T00:00:00Z").await.problem(400);
        let membership = app.get(&format!("/api/v1/organisations/{}/membership", organisation["id"].as_str().unwrap())).await;
        assert_eq!(membership.status, actix_web::http::StatusCode::NOT_FOUND, "nothing was written");
    }
);

db_test!(
    async fn bodies_up_to_the_documented_limit_are_read(app) {
        // Half a megabyte of description is over the field's limit (422), not over the body's.
        let big = json!({"name": "Big Description", "kind": "other", "description": "x".repeat(500_000)});
        let response = app.post_json("/api/v1/organisations", &big).await;
        assert_eq!(response.problem(422)["errors"][0]["field"], "description");
    }
);

fn base64_cursor(json: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

db_test!(
    async fn an_offset_cannot_carry_a_time_past_the_year_9999(app) {
        app.get("/api/v1/organisations?updated_since=9999-12-31T23:00:00-05:00").await.problem(400);
        let key = app.post_json("/api/v1/api-keys", &json!({"name": "Far future", "scopes": ["organisations:read"], "expires_at": "9999-12-31T23:00:00-05:00"})).await;
        assert_eq!(key.problem(422)["errors"][0]["field"], "expires_at");
    }
);
