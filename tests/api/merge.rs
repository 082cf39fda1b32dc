//! Merging duplicate organisations: everything moves to the survivor, the merged ones become
//! tombstones naming it, clashes are refused until the request chooses, dry runs write
//! nothing.

use actix_web::http::StatusCode;
use serde_json::{Value, json};

use crate::audit::every_text_value;
use crate::db_test;
use crate::helpers::{TestApp, TestResponse};

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

async fn created(app: &TestApp, path: &str, body: Value) -> Value {
    let response = app.post_json(path, &body).await;
    assert!(
        response.status.is_success(),
        "{path}: {} {}",
        response.status,
        response.text()
    );
    response.json()
}

fn data(response: &TestResponse) -> Vec<Value> {
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.json()["data"].as_array().unwrap().clone()
}

async fn merge(app: &TestApp, survivor: &str, body: Value) -> TestResponse {
    app.post_json(&format!("/api/v1/organisations/{survivor}/merge"), &body)
        .await
}

async fn member_since_today(app: &TestApp, org: &str) {
    let path = format!("/api/v1/organisations/{org}/membership");
    created(app, &format!("{path}/apply"), json!({"tier": "full"})).await;
    created(app, &format!("{path}/approve"), json!({})).await;
}

db_test!(
    async fn a_merge_moves_everything_to_the_survivor_and_leaves_a_tombstone(app) {
        let survivor = id(&app.create_organisation(&json!({
            "name": "Northside Peer Voices", "kind": "grassroots_group",
            "website": "https://northside.example.org", "regions": ["london"],
        })).await);
        let twin = id(&app.create_organisation(&json!({
            "name": "Northside Peer-Voices Ltd", "kind": "other", "charity_number": "1161226",
            "postcode": "M1 1AE", "regions": ["north_west"], "expertise": ["custody_resettlement"],
            "website": "https://www.northside.example.org/about",
        })).await);
        // The twin is a member; the survivor never applied.
        member_since_today(&app, &twin).await;
        // An integration knows the twin by its own id.
        let imported = app
            .send(
                app.request(actix_web::http::Method::POST, "/api/v1/imports/organisations")
                    .insert_header(("content-type", "text/csv")),
                Some(b"external_id,name\nCRM-17,Northside Peer-Voices Ltd\n".to_vec()),
            )
            .await;
        assert_eq!(imported.status, StatusCode::OK, "{}", imported.text());

        let only_twin = id(&created(&app, "/api/v1/contacts", json!({"given_name": "Ada", "family_name": "Okafor"})).await);
        created(&app, &format!("/api/v1/contacts/{only_twin}/affiliations"), json!({"organisation_id": twin, "is_primary": true})).await;
        let both = id(&created(&app, "/api/v1/contacts", json!({"given_name": "Ben", "family_name": "Ives"})).await);
        created(&app, &format!("/api/v1/contacts/{both}/affiliations"), json!({"organisation_id": survivor})).await;
        created(&app, &format!("/api/v1/contacts/{both}/affiliations"), json!({"organisation_id": twin, "role": "Trustee", "is_primary": true})).await;

        let group = id(&created(&app, "/api/v1/expert-groups", json!({"name": "Custody", "kind": "expert_group", "status": "active"})).await);
        created(&app, &format!("/api/v1/expert-groups/{group}/members"), json!({"organisation_id": twin, "role": "member"})).await;
        let consultation = id(&created(&app, "/api/v1/consultations", json!({"title": "Remand", "kind": "member_consultation", "status": "open"})).await);
        let invitations = format!("/api/v1/consultations/{consultation}/invitations");
        created(&app, &invitations, json!({"organisation_id": survivor})).await;
        created(&app, &invitations, json!({"organisation_id": twin})).await;
        created(&app, &format!("/api/v1/consultations/{consultation}/responses"),
            json!({"organisation_id": twin, "contact_id": only_twin, "summary": "Remand is overused"})).await;
        assert_eq!(app.get("/api/v1/organisations/duplicates").await.json()["data"].as_array().unwrap().len(), 1);

        let merged = merge(&app, &survivor, json!({"merge": [twin]})).await;
        assert_eq!(merged.status, StatusCode::OK, "{}", merged.text());
        assert!(merged.header("etag").is_some());
        let result = merged.json();
        assert_eq!(result["dry_run"], false);
        let organisation = &result["organisation"];
        assert_eq!(organisation["id"], survivor);
        // The survivor's own values stay; where it had none, the twin's fill in.
        assert_eq!(organisation["name"], "Northside Peer Voices");
        assert_eq!(organisation["kind"], "grassroots_group");
        assert_eq!(organisation["website"], "https://northside.example.org");
        assert_eq!(organisation["regions"], json!(["london"]));
        assert_eq!(organisation["charity_number"], "1161226");
        assert_eq!(organisation["postcode"], "M1 1AE");
        assert_eq!(organisation["expertise"], json!(["custody_resettlement"]));
        assert_eq!(organisation["membership"]["tier"], "full");
        assert_eq!(organisation["membership"]["status"], "current");
        assert_eq!(result["fields_taken"], json!({"charity_number": twin, "expertise": twin, "postcode": twin}));
        assert_eq!(result["merged"], json!([{"id": twin, "name": "Northside Peer-Voices Ltd"}]));
        let moved = &result["moved"];
        assert_eq!((moved["affiliations"].as_u64(), moved["expert_group_seats"].as_u64(), moved["invitations"].as_u64(),
                    moved["responses"].as_u64(), moved["membership_periods"].as_u64(), moved["membership_actions"].as_u64(),
                    moved["external_ids"].as_u64()),
                   (Some(1), Some(1), Some(0), Some(1), Some(1), Some(2), Some(1)), "{moved}");
        let removed = &result["removed"];
        assert_eq!((removed["affiliations"].as_u64(), removed["invitations"].as_u64()), (Some(1), Some(1)), "{removed}");

        // The twin is gone from reads, and sync shows where it went.
        app.get(&format!("/api/v1/organisations/{twin}")).await.problem(404);
        let synced = app.list_all("include_deleted=true").await;
        let tombstone = synced.iter().find(|o| o["id"] == twin).expect("a tombstone");
        assert_eq!(tombstone["merged_into"], survivor);
        assert!(tombstone["deleted_at"].is_string());
        let csv = app
            .send(app.request(actix_web::http::Method::GET, "/api/v1/organisations?include_deleted=true").insert_header(("accept", "text/csv")), None)
            .await
            .text();
        assert!(csv.lines().next().unwrap().ends_with(",deleted_at,merged_into"), "{csv}");
        assert!(csv.lines().any(|line| line.starts_with(&twin) && line.ends_with(&survivor)), "{csv}");

        // Everything that pointed at the twin points at the survivor.
        let ada = app.get(&format!("/api/v1/contacts/{only_twin}")).await.json();
        assert_eq!(ada["affiliations"][0]["organisation_id"], survivor);
        let ben = app.get(&format!("/api/v1/contacts/{both}")).await.json();
        let affiliations = ben["affiliations"].as_array().unwrap();
        assert_eq!(affiliations.len(), 1, "{ben}");
        assert_eq!(affiliations[0]["organisation_id"], survivor);
        assert_eq!(affiliations[0]["role"], "Trustee");
        assert_eq!(affiliations[0]["is_primary"], true);
        let seats = data(&app.get(&format!("/api/v1/expert-groups/{group}/members")).await);
        assert_eq!(seats.len(), 1);
        assert_eq!(seats[0]["organisation_id"], survivor);
        let invited = data(&app.get(&invitations).await);
        assert_eq!(invited.len(), 1);
        assert_eq!(invited[0]["organisation_id"], survivor);
        let responses = data(&app.get(&format!("/api/v1/consultations/{consultation}/responses")).await);
        assert_eq!(responses[0]["organisation_id"], survivor);
        assert_eq!(responses[0]["summary"], "Remand is overused");
        let membership = app.get(&format!("/api/v1/organisations/{survivor}/membership")).await.json();
        assert_eq!(membership["history"].as_array().map(Vec::len), Some(2), "{membership}");
        // The survivor now answers to the integration's id.
        let again = app
            .send(
                app.request(actix_web::http::Method::POST, "/api/v1/imports/organisations?dry_run=true")
                    .insert_header(("content-type", "text/csv")),
                Some(b"external_id,name\nCRM-17,Northside Peer Voices\n".to_vec()),
            )
            .await
            .json();
        assert_eq!(again["results"][0]["matched_by"], "external_id", "{again}");
        assert_eq!(again["results"][0]["id"], survivor, "{again}");
        assert!(app.get("/api/v1/organisations/duplicates").await.json()["data"].as_array().unwrap().is_empty());

        // The merge is in the histories of both organisations and of each contact.
        let history = data(&app.get(&format!("/api/v1/organisations/{survivor}/history")).await);
        assert_eq!(history[0]["action"], "merge");
        assert_eq!(history[0]["changes"]["merged"]["after"], json!([twin]));
        assert_eq!(history[0]["changes"]["charity_number"]["after"], "1161226");
        let twin_history = data(&app.get(&format!("/api/v1/organisations/{twin}/history")).await);
        assert_eq!(twin_history[0]["changes"]["merged_into"]["after"], survivor);
        let ada_history = data(&app.get(&format!("/api/v1/contacts/{only_twin}/history")).await);
        assert_eq!(ada_history[0]["action"], "merge");
        assert_eq!(ada_history[0]["changes"]["organisation_id"]["before"], json!([twin]));

        // A tombstone cannot be merged again, nor merged into.
        let gone = merge(&app, &survivor, json!({"merge": [twin]})).await;
        assert_eq!(gone.problem(422)["errors"][0]["field"], "merge[0]");
        merge(&app, &twin, json!({"merge": [survivor]})).await.problem(404);
    }
);

db_test!(
    async fn a_dry_run_answers_the_merge_and_writes_nothing(app) {
        let survivor = id(&app.create_organisation(&json!({"name": "Dry A", "kind": "local_charity"})).await);
        let twin = id(&app.create_organisation(&json!({"name": "Dry B", "kind": "other", "email": "b@example.org"})).await);
        member_since_today(&app, &twin).await;
        let contact = id(&created(&app, "/api/v1/contacts", json!({"given_name": "Dry", "family_name": "Run"})).await);
        created(&app, &format!("/api/v1/contacts/{contact}/affiliations"), json!({"organisation_id": twin})).await;

        let before = every_text_value(&app);
        let etag = app.get(&format!("/api/v1/organisations/{survivor}")).await.header("etag").unwrap();
        let dry = app
            .post_json(&format!("/api/v1/organisations/{survivor}/merge?dry_run=true"), &json!({"merge": [twin]}))
            .await;
        assert_eq!(dry.status, StatusCode::OK, "{}", dry.text());
        let preview = dry.json();
        assert_eq!(preview["dry_run"], true);
        assert!(dry.header("etag").is_none());
        assert_eq!(preview["organisation"]["email"], "b@example.org");
        assert_eq!(preview["moved"]["affiliations"], 1);
        assert_eq!(every_text_value(&app), before, "a dry run changes nothing");
        assert_eq!(app.get(&format!("/api/v1/organisations/{survivor}")).await.header("etag").unwrap(), etag);
        app.get(&format!("/api/v1/organisations/{twin}")).await;

        // The real merge does what the dry run said, and honours If-Match.
        let stale = app
            .send(
                app.request(actix_web::http::Method::POST, &format!("/api/v1/organisations/{survivor}/merge"))
                    .insert_header(("if-match", "\"999\""))
                    .insert_header(("content-type", "application/json")),
                Some(serde_json::to_vec(&json!({"merge": [twin]})).unwrap()),
            )
            .await;
        stale.problem(412);
        assert_eq!(every_text_value(&app), before, "a stale merge changes nothing");
        let done = app
            .send(
                app.request(actix_web::http::Method::POST, &format!("/api/v1/organisations/{survivor}/merge"))
                    .insert_header(("if-match", etag.as_str()))
                    .insert_header(("content-type", "application/json")),
                Some(serde_json::to_vec(&json!({"merge": [twin]})).unwrap()),
            )
            .await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.text());
        let mut real = done.json();
        let mut previewed = preview;
        for value in [&mut real, &mut previewed] {
            value["dry_run"] = Value::Null;
            value["organisation"]["updated_at"] = Value::Null;
        }
        assert_eq!(real, previewed);
    }
);

db_test!(
    async fn clashes_are_refused_together_until_the_request_chooses(app) {
        let survivor = id(&app.create_organisation(&json!({"name": "Clash A", "kind": "local_charity"})).await);
        let twin = id(&app.create_organisation(&json!({"name": "Clash B", "kind": "local_charity"})).await);
        // Both members for the same year, both in one group, both responded.
        member_since_today(&app, &survivor).await;
        member_since_today(&app, &twin).await;
        let group = id(&created(&app, "/api/v1/expert-groups", json!({"name": "Both", "kind": "expert_group", "status": "active"})).await);
        for org in [&survivor, &twin] {
            created(&app, &format!("/api/v1/expert-groups/{group}/members"), json!({"organisation_id": org, "role": "member"})).await;
        }
        let consultation = id(&created(&app, "/api/v1/consultations", json!({"title": "Both", "kind": "member_consultation", "status": "open"})).await);
        for (org, words) in [(&survivor, "A's evidence"), (&twin, "B's evidence")] {
            created(&app, &format!("/api/v1/consultations/{consultation}/responses"), json!({"organisation_id": org, "summary": words})).await;
        }

        let before = every_text_value(&app);
        for query in ["", "?dry_run=true"] {
            let refused = app
                .post_json(&format!("/api/v1/organisations/{survivor}/merge{query}"), &json!({"merge": [twin]}))
                .await;
            let problem = refused.problem(409);
            assert_eq!(refused.error_fields(), vec![
                "membership".to_owned(),
                format!("expert_groups.{group}"),
                format!("consultations.{consultation}"),
            ], "{problem}");
            assert!(problem["errors"][0]["message"].as_str().unwrap().contains("Clash B"), "{problem}");
            assert_eq!(problem["errors"][0]["code"], "choice_required");
        }
        assert_eq!(every_text_value(&app), before, "a refused merge changes nothing");

        // Choices that resolve nothing, or name an organisation not in the merge, are refused.
        let stranger = id(&app.create_organisation(&json!({"name": "Stranger", "kind": "other"})).await);
        let other_group = id(&created(&app, "/api/v1/expert-groups", json!({"name": "Neither", "kind": "expert_group", "status": "active"})).await);
        let wrong = merge(&app, &survivor, json!({
            "merge": [twin], "membership": stranger, "fields": {"website": stranger},
        })).await;
        wrong.problem(422);
        assert_eq!(wrong.error_fields(), vec!["fields.website", "membership"]);
        let needless = merge(&app, &survivor, json!({
            "merge": [twin], "membership": twin, "expert_groups": {other_group.clone(): twin, group.clone(): twin},
            "consultations": {consultation.clone(): twin},
        })).await;
        needless.problem(422);
        assert_eq!(needless.error_fields(), vec![format!("expert_groups.{other_group}")]);

        let chosen = merge(&app, &survivor, json!({
            "merge": [twin], "membership": twin, "fields": {"name": twin},
            "expert_groups": {group.clone(): survivor}, "consultations": {consultation.clone(): twin},
        })).await;
        assert_eq!(chosen.status, StatusCode::OK, "{}", chosen.text());
        let result = chosen.json();
        assert_eq!(result["organisation"]["name"], "Clash B");
        assert_eq!(result["removed"]["expert_group_seats"], 1);
        assert_eq!(result["removed"]["responses"], 1);
        assert_eq!(result["removed"]["membership_periods"], 1);
        assert_eq!(result["moved"]["membership_periods"], 1);
        let responses = data(&app.get(&format!("/api/v1/consultations/{consultation}/responses")).await);
        assert_eq!(responses.len(), 1);
        assert_eq!((responses[0]["organisation_id"].as_str(), responses[0]["summary"].as_str()), (Some(survivor.as_str()), Some("B's evidence")));
        let seats = data(&app.get(&format!("/api/v1/expert-groups/{group}/members")).await);
        assert_eq!(seats.len(), 1);
        // What the choices removed lives on in the merge's audit events only: the records on
        // the survivor's event, a response's text on the consultation's.
        let history = data(&app.get(&format!("/api/v1/organisations/{survivor}/history")).await);
        let removed = &history[0]["changes"]["removed_records"]["before"];
        assert_eq!(removed["expert_group_seats"][0]["organisation_id"], twin, "{removed}");
        assert_eq!(removed["responses"][0]["organisation_id"], survivor);
        assert!(removed["responses"][0].get("summary").is_none(), "no text on an organisation's event");
        assert_eq!(removed["memberships"][0]["organisation_id"], survivor);
        assert_eq!(removed["memberships"][0]["periods"].as_array().map(Vec::len), Some(1));
        let consultation_history = data(&app.get(&format!("/api/v1/consultations/{consultation}/history")).await);
        let removal = consultation_history.iter().find(|e| e["action"] == "merge.remove_response").expect("an event");
        assert_eq!(removal["changes"]["response"]["before"]["summary"], "A's evidence");
    }
);

db_test!(
    async fn memberships_that_fit_together_are_combined(app) {
        let survivor = id(&app.create_organisation(&json!({"name": "Years A", "kind": "local_charity"})).await);
        let twin = id(&app.create_organisation(&json!({"name": "Years B", "kind": "local_charity"})).await);
        let path = |org: &str, action: &str| format!("/api/v1/organisations/{org}/membership/{action}");
        created(&app, &path(&twin, "apply"), json!({"tier": "associate", "applied_on": "2022-03-01"})).await;
        created(&app, &path(&twin, "approve"), json!({"start_on": "2022-04-01"})).await;
        created(&app, &path(&survivor, "apply"), json!({"tier": "full", "applied_on": "2023-03-01"})).await;
        created(&app, &path(&survivor, "approve"), json!({"start_on": "2023-04-01"})).await;
        let merged = merge(&app, &survivor, json!({"merge": [twin]})).await;
        assert_eq!(merged.status, StatusCode::OK, "{}", merged.text());
        let membership = app.get(&format!("/api/v1/organisations/{survivor}/membership")).await.json();
        assert_eq!(membership["tier"], "full", "{membership}");
        assert_eq!(membership["applied_on"], "2022-03-01");
        assert_eq!(membership["joined_on"], "2022-04-01");
        assert_eq!(membership["periods"].as_array().map(Vec::len), Some(2), "{membership}");
        assert_eq!(membership["history"].as_array().map(Vec::len), Some(4));
    }
);

db_test!(
    async fn bad_merges_get_clear_problems(app) {
        let survivor = id(&app.create_organisation(&json!({"name": "Bad A", "kind": "other"})).await);
        let twin = id(&app.create_organisation(&json!({"name": "Bad B", "kind": "other"})).await);
        let unknown = uuid::Uuid::now_v7().to_string();
        let viewer = app.token_for("viewer").await;
        let before = every_text_value(&app);
        assert_eq!(merge(&app, &survivor, json!({"merge": [survivor]})).await.error_fields(), vec!["merge[0]"]);
        assert_eq!(merge(&app, &survivor, json!({"merge": [twin, twin]})).await.error_fields(), vec!["merge[1]"]);
        assert_eq!(merge(&app, &survivor, json!({"merge": [unknown]})).await.problem(422)["errors"][0]["code"], "not_found");
        merge(&app, &survivor, json!({"merge": []})).await.problem(422);
        merge(&app, &survivor, json!({})).await.problem(422);
        merge(&app, &survivor, json!({"merge": [twin], "colour": "red"})).await.problem(422);
        merge(&app, &survivor, json!({"merge": [twin], "fields": {"colour": twin}})).await.problem(422);
        merge(&app, &survivor, json!({"merge": ["not-a-uuid"]})).await.problem(422);
        let many: Vec<String> = (0..21).map(|_| uuid::Uuid::now_v7().to_string()).collect();
        merge(&app, &survivor, json!({"merge": many})).await.problem(422);
        merge(&app, &unknown, json!({"merge": [twin]})).await.problem(404);
        app.post_json("/api/v1/organisations/nope/merge", &json!({"merge": [twin]})).await.problem(400);
        app.post_json(&format!("/api/v1/organisations/{survivor}/merge?dry_run=maybe"), &json!({"merge": [twin]})).await.problem(400);
        app.as_(Some(&viewer)).post_json(&format!("/api/v1/organisations/{survivor}/merge"), &json!({"merge": [twin]})).await.problem(403);
        assert_eq!(every_text_value(&app), before, "no bad merge changed anything");

        // A chain of merges points every tombstone at the organisation that is left.
        let third = id(&app.create_organisation(&json!({"name": "Bad C", "kind": "other"})).await);
        assert_eq!(merge(&app, &twin, json!({"merge": [third]})).await.status, StatusCode::OK);
        assert_eq!(merge(&app, &survivor, json!({"merge": [twin]})).await.status, StatusCode::OK);
        let synced = app.list_all("include_deleted=true").await;
        for gone in [&twin, &third] {
            let tombstone = synced.iter().find(|o| &o["id"] == gone).unwrap();
            assert_eq!(tombstone["merged_into"], survivor, "{tombstone}");
        }
    }
);

db_test!(
    async fn histories_dismissals_and_chains_come_through_a_merge(app) {
        let survivor = id(&app.create_organisation(&json!({"name": "History A", "kind": "local_charity"})).await);
        let twin = id(&app.create_organisation(&json!({"name": "History B", "kind": "local_charity"})).await);
        // A contact's own history with the survivor (two spells) is not collapsed.
        let contact = id(&created(&app, "/api/v1/contacts", json!({"given_name": "Two", "family_name": "Spells"})).await);
        let affiliations = format!("/api/v1/contacts/{contact}/affiliations");
        created(&app, &affiliations, json!({"organisation_id": survivor, "start_on": "2010-01-01", "end_on": "2012-12-31"})).await;
        created(&app, &affiliations, json!({"organisation_id": survivor, "role": "Trustee", "start_on": "2020-01-01"})).await;
        // One affiliation to each of two of them becomes one, with the earliest known start.
        let both = id(&created(&app, "/api/v1/contacts", json!({"given_name": "One", "family_name": "Each"})).await);
        created(&app, &format!("/api/v1/contacts/{both}/affiliations"), json!({"organisation_id": survivor})).await;
        created(&app, &format!("/api/v1/contacts/{both}/affiliations"), json!({"organisation_id": twin, "start_on": "2015-06-01"})).await;
        // "Not a duplicate" said of the twin and another carries over to the survivor.
        let lookalike = id(&app.create_organisation(&json!({"name": "History A Ltd", "kind": "other"})).await);
        created(&app, "/api/v1/organisations/duplicates/dismissals", json!({"organisation_ids": [twin, lookalike]})).await;
        // An earlier merge into the twin.
        let older = id(&app.create_organisation(&json!({"name": "History C", "kind": "other"})).await);
        assert_eq!(merge(&app, &twin, json!({"merge": [older]})).await.status, StatusCode::OK);
        let since = app.get(&format!("/api/v1/organisations/{survivor}")).await.json()["updated_at"].as_str().unwrap().to_owned();

        let merged = merge(&app, &survivor, json!({"merge": [twin]})).await;
        assert_eq!(merged.status, StatusCode::OK, "{}", merged.text());
        assert_eq!(merged.json()["moved"]["duplicate_dismissals"], 1);
        let spells = app.get(&format!("/api/v1/contacts/{contact}")).await.json();
        assert_eq!(spells["affiliations"].as_array().map(Vec::len), Some(2), "{spells}");
        let one = app.get(&format!("/api/v1/contacts/{both}")).await.json();
        assert_eq!(one["affiliations"].as_array().map(Vec::len), Some(1), "{one}");
        assert_eq!(one["affiliations"][0]["start_on"], "2015-06-01");
        let pairs = app.get("/api/v1/organisations/duplicates").await.json();
        assert!(pairs["data"].as_array().unwrap().iter().all(|p| !p.to_string().contains(&lookalike)), "{pairs}");
        // Incremental sync delivers the earlier tombstone again, now naming the survivor.
        let changed = app.list_all(&format!("updated_since={since}&include_deleted=true")).await;
        let chained = changed.iter().find(|o| o["id"] == older).expect("the earlier tombstone comes again");
        assert_eq!(chained["merged_into"], survivor);
        let older_history = data(&app.get(&format!("/api/v1/organisations/{older}/history")).await);
        assert_eq!(older_history[0]["changes"]["merged_into"]["after"], survivor);
    }
);
