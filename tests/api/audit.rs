//! The audit trail and data protection: every mutating operation in the OpenAPI document
//! writes an audit event carrying its request id; a failed change writes none; request ids;
//! subject access exports; erasure that leaves no personal value anywhere in the database.

use std::collections::BTreeSet;

use actix_web::http::{Method, StatusCode};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{PASSWORD, TestApp, TestResponse};

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

/// The audit events the request that got `response` wrote.
async fn events_of(app: &TestApp, response: &TestResponse) -> Vec<Value> {
    let request_id = response
        .header("x-request-id")
        .expect("every response has a request id");
    let found = app
        .get(&format!("/api/v1/audit-events?request_id={request_id}"))
        .await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.text());
    found.json()["data"].as_array().unwrap().clone()
}

/// Calls operations one by one, checking each answers 2xx and wrote an audit event with its
/// request id, and remembers which operations it has walked.
struct Walk<'a> {
    app: &'a TestApp,
    walked: BTreeSet<String>,
}

impl Walk<'_> {
    async fn call(
        &mut self,
        operation: &str,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let caller = self.app.as_(Some(token));
        let response = match (&method, body) {
            (&Method::POST, Some(Value::String(csv))) => {
                let request = caller
                    .request(Method::POST, path)
                    .insert_header(("content-type", "text/csv"));
                caller.send(request, Some(csv.into_bytes())).await
            }
            (&Method::PATCH, Some(body)) => caller.patch_json(path, &body, None).await,
            (&Method::POST, Some(body)) => caller.post_json(path, &body).await,
            (&Method::DELETE, None) => caller.delete(path, None).await,
            (method, None) => {
                caller
                    .send(caller.request(method.clone(), path), None)
                    .await
            }
            (method, Some(_)) => panic!("no body for {method}"),
        };
        assert!(
            response.status.is_success(),
            "{operation}: {} {}",
            response.status,
            response.text()
        );
        let events = events_of(self.app, &response).await;
        assert!(!events.is_empty(), "{operation} wrote no audit event");
        // Secrets the response handed out (a key, tokens) and passwords sent never reach it.
        let answer: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        let mut secrets: Vec<String> = ["key", "secret", "access_token", "refresh_token"]
            .iter()
            .filter_map(|field| answer[field].as_str().map(str::to_owned))
            .collect();
        secrets.extend([
            PASSWORD.to_owned(),
            "password_hash".to_owned(),
            "$argon2".to_owned(),
        ]);
        for event in &events {
            assert!(
                event["occurred_at"].is_string() && event["action"].is_string(),
                "{event}"
            );
            let text = event.to_string();
            for secret in &secrets {
                assert!(
                    !text.contains(secret.as_str()),
                    "{operation} put {secret:?} in its event: {text}"
                );
            }
        }
        self.walked.insert(operation.to_owned());
        if response.body.is_empty() {
            Value::Null
        } else {
            response.json()
        }
    }
}

/// The operation ids of every POST, PATCH, PUT and DELETE in the served document.
async fn mutating_operations(app: &TestApp) -> BTreeSet<String> {
    let document = app.get("/api/v1/openapi.json").await.json();
    let mut found = BTreeSet::new();
    for (_, item) in document["paths"].as_object().unwrap() {
        for method in ["post", "patch", "put", "delete"] {
            if let Some(id) = item[method]["operationId"].as_str() {
                found.insert(id.to_owned());
            }
        }
    }
    found
}

db_test!(
    async fn every_mutating_operation_writes_an_audit_event_with_its_request_id(app) {
        let admin = app.admin_token.clone();
        let mut walk = Walk { app: &app, walked: BTreeSet::new() };
        let (post, patch, delete) = (Method::POST, Method::PATCH, Method::DELETE);

        let org = id(&walk.call("create_organisation", &admin, post.clone(), "/api/v1/organisations",
            Some(json!({"name": "Walked Org", "kind": "local_charity"}))).await);
        let org_path = format!("/api/v1/organisations/{org}");
        walk.call("update_organisation", &admin, patch.clone(), &org_path, Some(json!({"description": "Walked"}))).await;
        for (operation, action, body) in [
            ("apply_membership", "apply", json!({"tier": "full"})),
            ("approve_membership", "approve", json!({})),
            ("renew_membership", "renew", json!({})),
            ("withdraw_membership", "withdraw", json!({"reason": "walked away"})),
            ("reinstate_membership", "reinstate", json!({})),
        ] {
            walk.call(operation, &admin, post.clone(), &format!("{org_path}/membership/{action}"), Some(body)).await;
        }

        let contact = id(&walk.call("create_contact", &admin, post.clone(), "/api/v1/contacts",
            Some(json!({"given_name": "Walker", "family_name": "Testing"}))).await);
        let contact_path = format!("/api/v1/contacts/{contact}");
        walk.call("update_contact", &admin, patch.clone(), &contact_path, Some(json!({"job_title": "Walker"}))).await;
        let with_affiliation = walk.call("add_affiliation", &admin, post.clone(), &format!("{contact_path}/affiliations"),
            Some(json!({"organisation_id": org}))).await;
        let affiliation_path = format!("{contact_path}/affiliations/{}", id(&with_affiliation));
        walk.call("update_affiliation", &admin, patch.clone(), &affiliation_path, Some(json!({"role": "Lead"}))).await;
        walk.call("remove_affiliation", &admin, delete.clone(), &affiliation_path, None).await;
        walk.call("record_consent", &admin, post.clone(), &format!("{contact_path}/consents"),
            Some(json!({"purpose": "newsletter", "granted": true, "source": "walk form"}))).await;

        let group = id(&walk.call("create_expert_group", &admin, post.clone(), "/api/v1/expert-groups",
            Some(json!({"name": "Walked group", "kind": "expert_group", "status": "active"}))).await);
        let group_path = format!("/api/v1/expert-groups/{group}");
        walk.call("update_expert_group", &admin, patch.clone(), &group_path, Some(json!({"name": "Walked group 2"}))).await;
        let member = id(&walk.call("add_group_member", &admin, post.clone(), &format!("{group_path}/members"),
            Some(json!({"contact_id": contact, "role": "member"}))).await);
        walk.call("update_group_member", &admin, patch.clone(), &format!("{group_path}/members/{member}"),
            Some(json!({"role": "observer"}))).await;

        let consultation = id(&walk.call("create_consultation", &admin, post.clone(), "/api/v1/consultations",
            Some(json!({"title": "Walked consultation", "kind": "member_consultation", "status": "open"}))).await);
        let consultation_path = format!("/api/v1/consultations/{consultation}");
        walk.call("update_consultation", &admin, patch.clone(), &consultation_path, Some(json!({"summary": "Walked"}))).await;
        walk.call("invite_to_consultation", &admin, post.clone(), &format!("{consultation_path}/invitations"),
            Some(json!({"organisation_id": org}))).await;
        let response = id(&walk.call("create_response", &admin, post.clone(), &format!("{consultation_path}/responses"),
            Some(json!({"contact_id": contact, "summary": "Walked words"}))).await);
        walk.call("update_response", &admin, patch.clone(), &format!("{consultation_path}/responses/{response}"),
            Some(json!({"attended": true}))).await;

        walk.call("create_community", &admin, post.clone(), "/api/v1/taxonomies/communities",
            Some(json!({"code": "EXT090000", "title": "Walked community"}))).await;
        walk.call("update_community", &admin, patch.clone(), "/api/v1/taxonomies/communities/EXT090000",
            Some(json!({"title": "Walked community 2"}))).await;
        walk.call("create_expertise_area", &admin, post.clone(), "/api/v1/taxonomies/expertise-areas",
            Some(json!({"code": "walked_area", "title": "Walked area"}))).await;
        walk.call("update_expertise_area", &admin, patch.clone(), "/api/v1/taxonomies/expertise-areas/walked_area",
            Some(json!({"title": "Walked area 2"}))).await;

        let benchmark = id(&walk.call("create_benchmark", &admin, post.clone(), "/api/v1/benchmarks",
            Some(json!({"code": "walked_2026", "name": "Walked", "population": "p", "source": "s", "year": 2026,
                        "verified": false, "shares": {"DEI010100": 10.0}}))).await);
        walk.call("update_benchmark", &admin, patch.clone(), &format!("/api/v1/benchmarks/{benchmark}"),
            Some(json!({"name": "Walked 2"}))).await;
        walk.call("delete_benchmark", &admin, delete.clone(), &format!("/api/v1/benchmarks/{benchmark}"), None).await;
        let target = id(&walk.call("create_target", &admin, post.clone(), "/api/v1/targets",
            Some(json!({"dimension": "leadership", "code": "DEI010000", "minimum_count": 2}))).await);
        walk.call("update_target", &admin, patch.clone(), &format!("/api/v1/targets/{target}"),
            Some(json!({"note": "Walked"}))).await;
        walk.call("delete_target", &admin, delete.clone(), &format!("/api/v1/targets/{target}"), None).await;
        let snapshot = id(&walk.call("create_report_snapshot", &admin, post.clone(), "/api/v1/reports/snapshots",
            Some(json!({"name": "Walked", "report": "composition"}))).await);
        walk.call("delete_report_snapshot", &admin, delete.clone(), &format!("/api/v1/reports/snapshots/{snapshot}"), None).await;

        let user = id(&walk.call("create_user", &admin, post.clone(), "/api/v1/users",
            Some(json!({"email": "walker@example.org", "name": "Walker", "role": "staff", "password": PASSWORD}))).await);
        walk.call("update_user", &admin, patch.clone(), &format!("/api/v1/users/{user}"), Some(json!({"name": "Walker 2"}))).await;
        let key = id(&walk.call("create_api_key", &admin, post.clone(), "/api/v1/api-keys",
            Some(json!({"name": "Walked key", "scopes": ["organisations:read"]}))).await);
        walk.call("revoke_api_key", &admin, delete.clone(), &format!("/api/v1/api-keys/{key}"), None).await;
        let hook = id(&walk.call("create_webhook", &admin, post.clone(), "/api/v1/webhooks",
            Some(json!({"url": "http://127.0.0.1:9/hook", "event_types": ["organisation."]}))).await);
        let hook_path = format!("/api/v1/webhooks/{hook}");
        walk.call("update_webhook", &admin, Method::PATCH, &hook_path, Some(json!({"status": "paused"}))).await;
        walk.call("rotate_webhook_secret", &admin, post.clone(), &format!("{hook_path}/rotate-secret"), None).await;
        let test = id(&walk.call("test_webhook", &admin, post.clone(), &format!("{hook_path}/test"), None).await);
        walk.call("retry_webhook_delivery", &admin, post.clone(), &format!("{hook_path}/deliveries/{test}/retry"), None).await;
        walk.call("delete_webhook", &admin, delete.clone(), &hook_path, None).await;

        let tokens = walk.call("login", "", post.clone(), "/api/v1/auth/login",
            Some(json!({"email": "walker@example.org", "password": PASSWORD}))).await;
        let tokens = walk.call("refresh", "", post.clone(), "/api/v1/auth/refresh",
            Some(json!({"refresh_token": tokens["refresh_token"]}))).await;
        let walker = tokens["access_token"].as_str().unwrap().to_owned();
        walk.call("change_my_password", &walker, post.clone(), "/api/v1/me/password",
            Some(json!({"current_password": PASSWORD, "new_password": "a brand new walking password 7"}))).await;
        walk.call("logout", &walker, post.clone(), "/api/v1/auth/logout", None).await;

        let twin = app.create_organisation(&json!({"name": "Walked Org Ltd", "kind": "other"})).await;
        walk.call("dismiss_duplicate", &admin, post.clone(), "/api/v1/organisations/duplicates/dismissals",
            Some(json!({"organisation_ids": [org, twin["id"]]}))).await;
        walk.call("merge_organisations", &admin, post.clone(), &format!("{org_path}/merge"),
            Some(json!({"merge": [twin["id"]]}))).await;
        walk.call("import_organisations", &admin, post.clone(), "/api/v1/imports/organisations",
            Some(json!("name,kind\nImported Walk,other\n"))).await;
        walk.call("import_contacts", &admin, post.clone(), "/api/v1/imports/contacts",
            Some(json!("given_name,family_name\nImported,Walker\n"))).await;

        walk.call("erase_contact", &admin, post.clone(), &format!("{contact_path}/erasure"), None).await;
        let other = app.post_json("/api/v1/contacts", &json!({"given_name": "Other", "family_name": "Person"})).await.json();
        walk.call("delete_contact", &admin, delete.clone(), &format!("/api/v1/contacts/{}", id(&other)), None).await;
        walk.call("delete_consultation", &admin, delete.clone(), &consultation_path, None).await;
        walk.call("delete_expert_group", &admin, delete.clone(), &group_path, None).await;
        walk.call("delete_organisation", &admin, delete.clone(), &org_path, None).await;

        let documented = mutating_operations(&app).await;
        let missing: Vec<_> = documented.difference(&walk.walked).collect();
        assert!(missing.is_empty(), "operations this walk does not call (add them): {missing:?}");
    }
);

db_test!(
    async fn an_event_names_the_actor_the_record_and_each_changed_field(app) {
        let created = app.create_organisation(&json!({"name": "Before", "kind": "local_charity"})).await;
        let path = format!("/api/v1/organisations/{}", id(&created));
        let changed = app.patch_json(&path, &json!({"name": "After", "postcode": "M1 1AE"}), None).await;
        let events = events_of(&app, &changed).await;
        assert_eq!(events.len(), 1, "{events:?}");
        let event = &events[0];
        let me = app.get("/api/v1/me").await.json();
        assert_eq!(event["actor_type"], "user");
        assert_eq!(event["actor_id"], me["id"]);
        assert_eq!(event["action"], "update");
        assert_eq!(event["entity_type"], "organisation");
        assert_eq!(event["entity_id"], created["id"]);
        assert_eq!(event["request_id"], changed.header("x-request-id").unwrap().as_str());
        assert_eq!(event["changes"], json!({
            "name": {"before": "Before", "after": "After"},
            "postcode": {"before": null, "after": "M1 1AE"},
        }));

        let history = app.get(&format!("{path}/history")).await.json();
        let actions: Vec<_> = history["data"].as_array().unwrap().iter().map(|e| e["action"].clone()).collect();
        assert_eq!(actions, vec![json!("update"), json!("create")], "newest first");
        let filtered = app.get(&format!("/api/v1/audit-events?entity_type=organisation&entity_id={}&action=create", id(&created))).await.json();
        assert_eq!(filtered["data"].as_array().unwrap().len(), 1);
        let counted = app.get(&format!("/api/v1/audit-events?entity_id={}&include_total=true&limit=1", id(&created))).await;
        assert_eq!(counted.json()["total"], 2);
        assert!(counted.header("link").is_some(), "a second page");
        app.get("/api/v1/audit-events?entity_type=spaceship").await.problem(400);
        app.get("/api/v1/audit-events?since=yesterday").await.problem(400);
        app.get(&format!("/api/v1/organisations/{}/history", uuid::Uuid::now_v7())).await.problem(404);
    }
);

db_test!(
    async fn a_failed_change_writes_no_audit_event(app) {
        async fn count(app: &TestApp) -> usize {
            app.get("/api/v1/audit-events?limit=500").await.json()["data"].as_array().unwrap().len()
        }
        let before = count(&app).await;
        let created = app.create_organisation(&json!({"name": "Kept", "kind": "local_charity"})).await;
        let path = format!("/api/v1/organisations/{}", id(&created));
        let after_create = count(&app).await;
        assert_eq!(after_create, before + 1);
        for failed in [
            app.post_json("/api/v1/organisations", &json!({"name": "", "kind": "local_charity"})).await,
            app.patch_json(&path, &json!({"kind": "spaceship"}), None).await,
            app.patch_json(&path, &json!({"name": "Stale"}), Some("\"999\"")).await,
            app.post_json(&format!("{path}/membership/approve"), &json!({})).await,
            app.delete(&format!("/api/v1/contacts/{}", uuid::Uuid::now_v7()), None).await,
        ] {
            assert!(failed.status.is_client_error(), "{}", failed.text());
            assert!(events_of(&app, &failed).await.is_empty(), "{}", failed.text());
        }
        assert_eq!(count(&app).await, after_create, "no event for any failed change");
    }
);

db_test!(
    async fn sign_in_failures_are_recorded_without_the_password(app) {
        let refused = app.as_anonymous()
            .post_json("/api/v1/auth/login", &json!({"email": "admin@example.org", "password": "not the password at all"}))
            .await;
        refused.problem(401);
        let events = events_of(&app, &refused).await;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["action"], "sign_in_failed");
        assert_eq!(events[0]["actor_type"], "anonymous");
        assert_eq!(events[0]["changes"]["reason"]["after"], "wrong_password");
        assert!(!events[0].to_string().contains("not the password at all"));
        let unknown = app.as_anonymous()
            .post_json("/api/v1/auth/login", &json!({"email": "nobody@example.org", "password": "whatever it may be"}))
            .await;
        let events = events_of(&app, &unknown).await;
        assert_eq!(events[0]["changes"]["reason"]["after"], "unknown_account");
        assert!(events[0]["entity_id"].is_null());
        assert!(!events[0].to_string().contains("nobody@example.org"), "the attempted email is not kept");
    }
);

db_test!(
    async fn request_ids_are_echoed_when_sane_and_made_up_otherwise(app) {
        let sent = |value: &'static str| {
            let request = app.request(Method::GET, "/api/v1/organisations").insert_header(("x-request-id", value));
            app.send(request, None)
        };
        assert_eq!(sent("frontend-42.a").await.header("x-request-id").unwrap(), "frontend-42.a");
        for hostile in ["two words", "<script>", &"x".repeat(200)] {
            let request = app.request(Method::GET, "/api/v1/organisations").insert_header(("x-request-id", hostile));
            let answered = app.send(request, None).await.header("x-request-id").unwrap();
            assert_ne!(answered, hostile);
            assert!(uuid::Uuid::parse_str(&answered).is_ok(), "{answered}");
        }
        let problem = app.get("/api/v1/organisations?limit=0").await;
        assert_eq!(problem.problem(400)["request_id"], problem.header("x-request-id").unwrap().as_str());
        let anonymous = app.as_anonymous().get("/api/v1/organisations").await;
        assert!(anonymous.header("x-request-id").is_some(), "refusals carry one too");
    }
);

/// A contact with something in every place personal data lives.
async fn person(app: &TestApp) -> (String, Value) {
    let org = id(&app
        .create_organisation(&json!({"name": "Personal Data Org", "kind": "local_charity"}))
        .await);
    // Sent with an Idempotency-Key: the kept answer for replays holds the record too.
    let body = json!({
        "given_name": "Zebediah", "family_name": "Quennell-Ashworth", "email": "zeb.quennell@example.org",
        "phone": "07700 900461", "job_title": "Youth Voice Coordinator Extraordinaire", "pronouns": "he/him",
    });
    let contact = app
        .send(
            app.request(Method::POST, "/api/v1/contacts")
                .insert_header(("content-type", "application/json"))
                .insert_header(("idempotency-key", "zebediah-created-once")),
            Some(serde_json::to_vec(&body).unwrap()),
        )
        .await;
    assert_eq!(contact.status, StatusCode::CREATED, "{}", contact.text());
    let contact = id(&contact.json());
    let path = format!("/api/v1/contacts/{contact}");
    assert_eq!(
        app.post_json(
            &format!("{path}/affiliations"),
            &json!({"organisation_id": org, "role": "Trustee of Zebediah's club"})
        )
        .await
        .status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.post_json(
            &format!("{path}/consents"),
            &json!({"purpose": "newsletter", "granted": true, "source": "Zebediah's signup form"})
        )
        .await
        .status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.patch_json(&path, &json!({"job_title": "Chief Zebediah Officer"}), None)
            .await
            .status,
        StatusCode::OK
    );
    let group = id(&app
        .post_json(
            "/api/v1/expert-groups",
            &json!({"name": "Voice group", "kind": "expert_group", "status": "active"}),
        )
        .await
        .json());
    assert_eq!(
        app.post_json(
            &format!("/api/v1/expert-groups/{group}/members"),
            &json!({"contact_id": contact, "role": "member"})
        )
        .await
        .status,
        StatusCode::CREATED
    );
    let consultation = id(&app
        .post_json(
            "/api/v1/consultations",
            &json!({"title": "Voices", "kind": "member_consultation", "status": "open"}),
        )
        .await
        .json());
    let responses = format!("/api/v1/consultations/{consultation}/responses");
    assert_eq!(
        app.post_json(
            &responses,
            &json!({"contact_id": contact, "summary": "Zebediah says the waits are too long"})
        )
        .await
        .status,
        StatusCode::CREATED
    );
    assert_eq!(app.post_json(&responses, &json!({"organisation_id": org, "contact_id": contact, "summary": "The organisation's evidence"})).await.status, StatusCode::CREATED);
    let personal = json!({"consultation": consultation, "group": group, "org": org});
    (contact, personal)
}

const PERSONAL_VALUES: &[&str] = &[
    "Zebediah",
    "Quennell",
    "zeb.quennell",
    "07700 900461",
    "Extraordinaire",
    "he/him",
];

db_test!(
    async fn a_subject_access_export_holds_everything_about_the_person_and_is_audited(app) {
        let (contact, _) = person(&app).await;
        let exported = app.get(&format!("/api/v1/contacts/{contact}/export")).await;
        assert_eq!(exported.status, StatusCode::OK, "{}", exported.text());
        let export = exported.json();
        assert_eq!(export["contact"]["given_name"], "Zebediah");
        assert_eq!(export["contact"]["affiliations"].as_array().unwrap().len(), 1);
        assert_eq!(export["consent_history"].as_array().unwrap().len(), 1);
        assert_eq!(export["expert_group_memberships"].as_array().unwrap().len(), 1);
        assert_eq!(export["consultation_responses"].as_array().unwrap().len(), 2);
        let actions: Vec<&str> = export["audit_events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        for action in ["create", "affiliation.create", "consent.record", "update", "member.create", "response.create"] {
            assert!(actions.contains(&action), "{action} missing from {actions:?}");
        }
        let events = events_of(&app, &exported).await;
        assert_eq!(events.len(), 1);
        assert_eq!((events[0]["action"].as_str(), events[0]["contact_id"].as_str()), (Some("export"), Some(contact.as_str())));
        let history = app.get(&format!("/api/v1/contacts/{contact}/history")).await.json();
        assert!(history["data"].as_array().unwrap().len() >= 7, "the contact's history includes its group and response events");
        let viewer = app.token_for("viewer").await;
        app.as_(Some(&viewer)).get(&format!("/api/v1/contacts/{contact}/export")).await.problem(403);

        // A spreadsheet of people is an export too, recorded without the name searched for.
        let request = app.request(Method::GET, "/api/v1/contacts?q=Zebediah&consent=newsletter").insert_header(("accept", "text/csv"));
        let spreadsheet = app.send(request, None).await;
        assert_eq!(spreadsheet.status, StatusCode::OK);
        assert!(spreadsheet.text().contains("Zebediah"));
        let events = events_of(&app, &spreadsheet).await;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["action"], "export");
        assert_eq!(events[0]["entity_type"], "contact");
        let recorded = events[0]["changes"]["query"]["after"].as_str().unwrap();
        assert!(recorded.contains("consent=newsletter") && !recorded.contains("Zebediah"), "{recorded}");
    }
);

/// Every text value in every table of the test database.
pub(crate) fn every_text_value(app: &TestApp) -> Vec<(String, String)> {
    use convene::config::DatabaseUrl;
    #[derive(QueryableByName)]
    struct Text {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        value: Option<String>,
    }
    #[derive(QueryableByName)]
    struct Column {
        #[diesel(sql_type = diesel::sql_types::Text)]
        table_name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        column_name: String,
    }
    let mut found = Vec::new();
    match &app.db.url {
        DatabaseUrl::Sqlite(path) => {
            let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
            conn.batch_execute("PRAGMA busy_timeout = 10000;").unwrap();
            let columns: Vec<Column> = diesel::sql_query(
                "SELECT m.name AS table_name, p.name AS column_name FROM sqlite_master m \
                 JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
            )
            .load(&mut conn)
            .unwrap();
            for c in columns {
                let sql = format!(
                    "SELECT CAST(\"{}\" AS TEXT) AS value FROM \"{}\"",
                    c.column_name, c.table_name
                );
                for row in diesel::sql_query(sql).load::<Text>(&mut conn).unwrap() {
                    if let Some(value) = row.value {
                        found.push((format!("{}.{}", c.table_name, c.column_name), value));
                    }
                }
            }
        }
        DatabaseUrl::Postgres(url) => {
            let mut conn = PgConnection::establish(url).unwrap();
            let columns: Vec<Column> = diesel::sql_query(
                "SELECT table_name::text AS table_name, column_name::text AS column_name \
                 FROM information_schema.columns WHERE table_schema = 'public'",
            )
            .load(&mut conn)
            .unwrap();
            for c in columns {
                let sql = format!(
                    "SELECT CAST(\"{}\" AS TEXT) AS value FROM \"{}\"",
                    c.column_name, c.table_name
                );
                for row in diesel::sql_query(sql).load::<Text>(&mut conn).unwrap() {
                    if let Some(value) = row.value {
                        found.push((format!("{}.{}", c.table_name, c.column_name), value));
                    }
                }
            }
        }
    }
    found
}

fn personal_values_left(app: &TestApp) -> Vec<(String, String)> {
    every_text_value(app)
        .into_iter()
        .filter(|(_, value)| {
            PERSONAL_VALUES
                .iter()
                .any(|personal| value.contains(personal))
        })
        .collect()
}

db_test!(
    async fn erasure_leaves_no_personal_value_anywhere_in_the_database(app) {
        let (contact, ids) = person(&app).await;
        assert!(!personal_values_left(&app).is_empty(), "the search finds the values before erasure");

        let staff = app.token_for("staff").await;
        app.as_(Some(&staff)).post_json(&format!("/api/v1/contacts/{contact}/erasure"), &json!({})).await.problem(403);
        let erased = app.post_json(&format!("/api/v1/contacts/{contact}/erasure"), &json!({})).await;
        assert_eq!(erased.status, StatusCode::OK, "{}", erased.text());
        assert_eq!(erased.json()["affiliations_removed"], 1);
        assert_eq!(erased.json()["responses_unattributed"], 2);

        let left = personal_values_left(&app);
        assert!(left.is_empty(), "personal values left after erasure: {left:?}");

        // Counts stay true; the person is gone from reads and lists, a tombstone in sync.
        let consultation = ids["consultation"].as_str().unwrap();
        let participation = app.get(&format!("/api/v1/consultations/{consultation}/participation")).await.json();
        assert_eq!(participation["responded"]["total"], 2, "{participation}");
        let group = ids["group"].as_str().unwrap();
        let members = app.get(&format!("/api/v1/expert-groups/{group}/members")).await.json();
        assert_eq!(members["data"].as_array().unwrap().len(), 1);
        app.get(&format!("/api/v1/contacts/{contact}")).await.problem(404);
        app.get(&format!("/api/v1/contacts/{contact}/export")).await.problem(404);
        let listed = app.get("/api/v1/contacts?limit=500").await.json();
        assert!(listed["data"].as_array().unwrap().iter().all(|c| c["id"] != contact.as_str()));
        let synced = app.get("/api/v1/contacts?updated_since=1970-01-01T00:00:00Z&include_deleted=true&limit=500").await.json();
        let tombstone = synced["data"].as_array().unwrap().iter().find(|c| c["id"] == contact.as_str()).expect("a tombstone").clone();
        assert!(tombstone["deleted_at"].is_string() && tombstone.get("given_name").is_none(), "{tombstone}");
        // The erasure is audited without the erased data, and cannot be repeated.
        let events = events_of(&app, &erased).await;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["action"], "erase");
        app.post_json(&format!("/api/v1/contacts/{contact}/erasure"), &json!({})).await.problem(409);
    }
);

db_test!(
    async fn a_write_that_records_no_event_is_rolled_back(app) {
        // The guarantee lives in Database::write (audit::commit): check it directly.
        let context = convene::domain::audit::Context::system();
        let result = app
            .state
            .db
            .write(context, |conn, _log| {
                conn.batch_execute("DELETE FROM report_snapshots")?;
                conn.batch_execute("UPDATE users SET name = 'Unaccounted'")?;
                Ok(())
            })
            .await;
        assert!(result.is_err(), "a write without an event is refused");
        let me = app.get("/api/v1/me").await.json();
        assert_ne!(me["name"], "Unaccounted", "and rolled back");
    }
);
