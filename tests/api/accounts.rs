//! Staff accounts, API keys, first-start bootstrap and the operator commands.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use actix_web::http::{Method, StatusCode};
use convene::auth::bootstrap;
use convene::auth::passwords;
use convene::config::{Config, DatabaseUrl, Secret};
use convene::db::Database;
use convene::domain::users::store;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{
    ADMIN_EMAIL, ADMIN_PASSWORD, Backend, JWT_SECRET, PASSWORD, TestApp, TestDatabase,
    TestResponse, organisation,
};

const SCOPES: [&str; 5] = [
    "organisations:read",
    "contacts:read",
    "groups:read",
    "consultations:read",
    "reports:read",
];

fn new_user(email: &str, name: &str, role: &str) -> Value {
    json!({"email": email, "name": name, "role": role, "password": PASSWORD})
}

/// Creates an account as the first admin and returns it.
async fn create_user(app: &TestApp, email: &str, name: &str, role: &str) -> Value {
    let response = app
        .post_json("/api/v1/users", &new_user(email, name, role))
        .await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    response.json()
}

fn user_path(user: &Value) -> String {
    format!("/api/v1/users/{}", user["id"].as_str().unwrap())
}

fn emails(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["email"].as_str().unwrap().to_owned())
        .collect()
}

/// The emails of `GET /api/v1/users?{query}` (one page), failing the test unless it is 200.
async fn listed(app: &TestApp, query: &str) -> Vec<String> {
    let response = app.get(&format!("/api/v1/users?{query}")).await;
    assert_eq!(
        response.status,
        StatusCode::OK,
        "{query}: {}",
        response.text()
    );
    emails(&response.json())
}

#[track_caller]
fn assert_no_password(response: &TestResponse) {
    let text = response.text();
    assert!(!text.contains("$argon2"), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");
    assert!(!text.to_lowercase().contains("password"), "{text}");
}

#[track_caller]
fn assert_forbidden(response: &TestResponse) {
    assert_eq!(response.problem(403)["type"], "/problems/forbidden");
}

async fn attempt_login(app: &TestApp, email: &str, password: &str) -> TestResponse {
    let body = json!({"email": email, "password": password});
    app.as_anonymous()
        .post_json("/api/v1/auth/login", &body)
        .await
}

fn token(tokens: &Value) -> String {
    tokens["access_token"].as_str().unwrap().to_owned()
}

/// Creates an API key as the first admin and returns the answer, `key` included.
async fn create_key(app: &TestApp, body: &Value) -> Value {
    let response = app.post_json("/api/v1/api-keys", body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    response.json()
}

fn key_path(key: &Value) -> String {
    format!("/api/v1/api-keys/{}", key["id"].as_str().unwrap())
}

fn seconds_from_now(seconds: i64) -> String {
    (chrono::Utc::now() + chrono::TimeDelta::seconds(seconds))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

// ---------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------

db_test!(
    async fn creating_a_user_returns_it_with_location_etag_and_a_lower_cased_email(app) {
        let response = app
            .post_json("/api/v1/users", &new_user("Sam.Jones@Example.ORG", "Sam Jones", "staff"))
            .await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
        let body = response.json();
        let id = body["id"].as_str().unwrap();
        assert_eq!(response.header("location").unwrap(), format!("/api/v1/users/{id}"));
        assert_eq!(response.header("etag").unwrap(), "\"1\"");
        assert_eq!(body["email"], "sam.jones@example.org");
        assert_eq!(body["name"], "Sam Jones");
        assert_eq!(body["role"], "staff");
        assert_eq!(body["active"], true);
        assert_eq!(body["last_login_at"], json!(null));

        let fetched = app.get(&format!("/api/v1/users/{id}")).await;
        assert_eq!(fetched.status, StatusCode::OK);
        assert_eq!(fetched.json(), body, "what was returned is what was stored");
        app.sign_in("SAM.JONES@example.org", PASSWORD).await;
    }
);

db_test!(
    async fn an_email_belongs_to_one_account_whatever_its_case(app) {
        create_user(&app, "sam@example.org", "Sam", "staff").await;
        for taken in ["sam@example.org", "SAM@Example.org", &ADMIN_EMAIL.to_uppercase()] {
            let clash = app
                .post_json("/api/v1/users", &new_user(taken, "Someone Else", "viewer"))
                .await;
            assert_eq!(clash.problem(409)["errors"][0]["field"], "email", "{taken}");
        }
        assert_eq!(listed(&app, "").await, [ADMIN_EMAIL, "sam@example.org"]);
    }
);

db_test!(
    async fn weak_passwords_are_refused_and_create_nothing(app) {
        for weak in ["short pass", "password1234", "Password1234", "sam.jones is my passphrase"] {
            let mut body = new_user("sam.jones@example.org", "Sam Jones", "staff");
            body["password"] = json!(weak);
            let response = app.post_json("/api/v1/users", &body).await;
            let problem = response.problem(422);
            assert_eq!(problem["errors"].as_array().unwrap().len(), 1, "{weak}: {problem}");
            assert_eq!(problem["errors"][0]["field"], "password", "{weak}");
            assert_eq!(problem["errors"][0]["code"], "weak_password", "{weak}");
            assert!(!response.text().contains(weak), "the password is not echoed");
        }
        assert_eq!(listed(&app, "").await, [ADMIN_EMAIL]);
    }
);

db_test!(
    async fn a_user_without_fields_hears_about_every_missing_one(app) {
        let response = app.post_json("/api/v1/users", &json!({})).await;
        assert_eq!(response.problem(422)["type"], "/problems/validation");
        let mut fields = response.error_fields();
        fields.sort();
        assert_eq!(fields, ["email", "name", "password", "role"]);

        let response = app
            .post_json("/api/v1/users", &json!({"email": "nope", "role": "owner", "name": "Sam"}))
            .await;
        response.problem(422);
        let mut fields = response.error_fields();
        fields.sort();
        assert_eq!(fields, ["email", "password", "role"]);
        assert_eq!(listed(&app, "").await, [ADMIN_EMAIL]);
    }
);

db_test!(
    async fn no_answer_ever_carries_a_password_or_its_hash(app) {
        let response = app
            .post_json("/api/v1/users", &new_user("sam@example.org", "Sam", "staff"))
            .await;
        assert_eq!(response.status, StatusCode::CREATED);
        assert_no_password(&response);
        let path = user_path(&response.json());

        assert_no_password(&app.get(&path).await);
        assert_no_password(&app.get("/api/v1/users").await);
        assert_no_password(&app.get("/api/v1/me").await);
        let patched = app.patch_json(&path, &json!({"name": "Sam Jones"}), None).await;
        assert_eq!(patched.status, StatusCode::OK);
        assert_no_password(&patched);
    }
);

db_test!(
    async fn the_user_list_is_in_email_order_and_filters_by_role_active_and_text(app) {
        create_user(&app, "carol@example.org", "Carol Smithers", "staff").await;
        create_user(&app, "alice@example.org", "Alice Smith", "staff").await;
        let bob = create_user(&app, "bob@example.org", "Bob Jones", "viewer").await;
        let response = app.patch_json(&user_path(&bob), &json!({"active": false}), None).await;
        assert_eq!(response.status, StatusCode::OK);

        let everyone = [ADMIN_EMAIL, "alice@example.org", "bob@example.org", "carol@example.org"];
        assert_eq!(listed(&app, "").await, everyone);
        assert_eq!(listed(&app, "role=staff").await, ["alice@example.org", "carol@example.org"]);
        assert_eq!(
            listed(&app, "role=viewer&role=admin").await,
            [ADMIN_EMAIL, "bob@example.org"]
        );
        assert_eq!(listed(&app, "active=false").await, ["bob@example.org"]);
        assert_eq!(
            listed(&app, "active=true").await,
            [ADMIN_EMAIL, "alice@example.org", "carol@example.org"]
        );
        assert_eq!(listed(&app, "q=SMITH").await, ["alice@example.org", "carol@example.org"]);
        assert_eq!(listed(&app, "q=Bob%40EXAMPLE").await, ["bob@example.org"]);
        assert_eq!(listed(&app, "q=example.org").await, everyone);
        assert!(listed(&app, "q=%25").await.is_empty(), "% is matched literally");
        assert_eq!(listed(&app, "q=smith&role=staff&active=true").await.len(), 2);
    }
);

db_test!(
    async fn the_user_list_refuses_unknown_and_bad_parameters(app) {
        let unknown = app.get("/api/v1/users?sort=name").await;
        assert_eq!(unknown.problem(400)["errors"][0]["field"], "sort");
        let role = app.get("/api/v1/users?role=owner").await;
        assert_eq!(role.problem(400)["errors"][0]["field"], "role");
        let active = app.get("/api/v1/users?active=yes").await;
        assert_eq!(active.problem(400)["errors"][0]["field"], "active");
        let limit = app.get("/api/v1/users?limit=0").await;
        assert_eq!(limit.problem(400)["errors"][0]["field"], "limit");
        let cursor = app.get("/api/v1/users?cursor=not-a-cursor").await;
        assert_eq!(cursor.problem(400)["errors"][0]["field"], "cursor");
    }
);

db_test!(
    async fn the_user_list_pages_with_a_cursor_and_a_link_header(app) {
        for name in ["dan", "erin", "finn", "gail"] {
            create_user(&app, &format!("{name}@example.org"), name, "staff").await;
        }
        let mut seen = Vec::new();
        let mut path = "/api/v1/users?role=staff&limit=3".to_owned();
        let mut pages = 0;
        loop {
            let response = app.get(&path).await;
            assert_eq!(response.status, StatusCode::OK, "{}", response.text());
            let page = response.json();
            seen.extend(emails(&page));
            pages += 1;
            match page["next_cursor"].as_str() {
                Some(cursor) => {
                    let link = response.header("link").expect("a Link header with a next page");
                    assert!(link.ends_with("; rel=\"next\""), "{link}");
                    assert!(link.contains("role=staff") && link.contains("limit=3"), "{link}");
                    assert!(link.contains(&format!("cursor={cursor}")), "{link}");
                    // The Link target is the next page, filters kept.
                    path = link[1..link.find('>').unwrap()].to_owned();
                }
                None => {
                    assert_eq!(response.header("link"), None);
                    break;
                }
            }
        }
        assert_eq!(pages, 2);
        assert_eq!(
            seen,
            ["dan@example.org", "erin@example.org", "finn@example.org", "gail@example.org"]
        );
    }
);

db_test!(
    async fn get_user_has_an_etag_and_honours_if_none_match(app) {
        let user = create_user(&app, "sam@example.org", "Sam", "viewer").await;
        let path = user_path(&user);
        let response = app.get(&path).await;
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(response.header("etag").unwrap(), "\"1\"");

        let request = app.request(Method::GET, &path).insert_header(("if-none-match", "\"1\""));
        let response = app.send(request, None).await;
        assert_eq!(response.status, StatusCode::NOT_MODIFIED);
        assert_eq!(response.header("etag").unwrap(), "\"1\"");
        assert!(response.body.is_empty());
        let request = app.request(Method::GET, &path).insert_header(("if-none-match", "\"2\""));
        assert_eq!(app.send(request, None).await.status, StatusCode::OK);

        app.get(&format!("/api/v1/users/{}", uuid::Uuid::now_v7())).await.problem(404);
        assert_eq!(app.get("/api/v1/users/nobody").await.problem(400)["errors"][0]["field"], "id");
    }
);

db_test!(
    async fn patch_changes_name_role_and_active_and_bumps_the_etag(app) {
        let user = create_user(&app, "sam@example.org", "Sam", "staff").await;
        let path = user_path(&user);

        let response = app
            .patch_json(&path, &json!({"name": "Sam Jones", "role": "viewer"}), Some("\"1\""))
            .await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        assert_eq!(response.header("etag").unwrap(), "\"2\"");
        let patched = response.json();
        assert_eq!(patched["name"], "Sam Jones");
        assert_eq!(patched["role"], "viewer");
        assert_eq!(patched["active"], true);
        assert_eq!(patched["email"], "sam@example.org");
        assert_eq!(patched["created_at"], user["created_at"]);

        let response = app.patch_json(&path, &json!({"active": false}), Some("\"2\"")).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        assert_eq!(response.header("etag").unwrap(), "\"3\"");
        assert_eq!(response.json()["active"], false);
        assert_eq!(response.json()["role"], "viewer", "fields left out are kept");

        let fetched = app.get(&path).await;
        assert_eq!(fetched.header("etag").unwrap(), "\"3\"");
        assert_eq!(fetched.json(), response.json());
    }
);

db_test!(
    async fn a_stale_if_match_on_a_user_is_refused_and_changes_nothing(app) {
        let user = create_user(&app, "sam@example.org", "Sam", "staff").await;
        let path = user_path(&user);
        let first = app.patch_json(&path, &json!({"name": "First"}), Some("\"1\"")).await;
        assert_eq!(first.status, StatusCode::OK);

        let stale = app
            .patch_json(&path, &json!({"name": "Second", "role": "admin"}), Some("\"1\""))
            .await;
        assert_eq!(stale.problem(412)["type"], "/problems/precondition-failed");
        let after = app.get(&path).await.json();
        assert_eq!(after["name"], "First");
        assert_eq!(after["role"], "staff");
    }
);

db_test!(
    async fn a_bad_user_patch_is_refused_and_changes_nothing(app) {
        let user = create_user(&app, "sam@example.org", "Sam", "staff").await;
        let path = user_path(&user);
        for (body, field) in [
            (json!({"active": null}), "active"),
            (json!({"role": null}), "role"),
            (json!({"name": null}), "name"),
            (json!({"active": "no"}), "active"),
            (json!({"role": "owner"}), "role"),
            (json!({"name": " padded"}), "name"),
            (json!({"email": "new@example.org"}), "email"),
            (json!({"password": "a brand new passphrase"}), "password"),
        ] {
            let response = app.patch_json(&path, &body, None).await;
            assert_eq!(response.problem(422)["errors"][0]["field"], field, "{body}");
        }
        let after = app.get(&path).await;
        assert_eq!(after.header("etag").unwrap(), "\"1\"");
        assert_eq!(after.json(), user);
        app.sign_in("sam@example.org", PASSWORD).await;
    }
);

db_test!(
    async fn an_admin_cannot_demote_or_deactivate_themselves(app) {
        // A second active admin, so only the rule about oneself can refuse.
        create_user(&app, "second@example.org", "Second Admin", "admin").await;
        let me = app.get("/api/v1/me").await.json();
        let path = user_path(&me);

        let demote = app.patch_json(&path, &json!({"role": "staff"}), None).await;
        assert_eq!(demote.problem(409)["errors"][0]["field"], "role");
        let deactivate = app.patch_json(&path, &json!({"active": false}), None).await;
        assert_eq!(deactivate.problem(409)["errors"][0]["field"], "active");
        let both = app
            .patch_json(&path, &json!({"role": "viewer", "active": false}), None)
            .await;
        both.problem(409);

        let after = app.get(&path).await.json();
        assert_eq!((after["role"].clone(), after["active"].clone()), (json!("admin"), json!(true)));
        // Renaming oneself is fine.
        let rename = app.patch_json(&path, &json!({"name": "First Admin"}), None).await;
        assert_eq!(rename.status, StatusCode::OK, "{}", rename.text());
    }
);

db_test!(
    async fn an_admin_can_demote_and_deactivate_another_admin(app) {
        let second = create_user(&app, "second@example.org", "Second Admin", "admin").await;
        let third = create_user(&app, "third@example.org", "Third Admin", "admin").await;
        let demoted = app.patch_json(&user_path(&second), &json!({"role": "staff"}), None).await;
        assert_eq!(demoted.status, StatusCode::OK, "{}", demoted.text());
        let deactivated = app.patch_json(&user_path(&third), &json!({"active": false}), None).await;
        assert_eq!(deactivated.status, StatusCode::OK, "{}", deactivated.text());
        assert_eq!(listed(&app, "role=admin&active=true").await, [ADMIN_EMAIL]);
    }
);

db_test!(
    async fn the_only_admin_cannot_be_demoted_or_deactivated(app) {
        let me = app.get("/api/v1/me").await.json();
        let path = user_path(&me);
        app.patch_json(&path, &json!({"role": "staff"}), None).await.problem(409);
        app.patch_json(&path, &json!({"active": false}), None).await.problem(409);
        assert_eq!(listed(&app, "role=admin&active=true").await, [ADMIN_EMAIL]);
    }
);

db_test!(
    /// Sequentially the last-admin rule is shadowed by the rule about oneself (whoever asks is
    /// an active admin too), so it matters when two admins demote each other at once: one of
    /// them must stay an admin.
    async fn two_admins_demoting_each_other_at_once_leave_an_active_admin(app) {
        let x = create_user(&app, "x@example.org", "Admin X", "admin").await;
        let y = create_user(&app, "y@example.org", "Admin Y", "admin").await;
        let x_token = token(&app.sign_in("x@example.org", PASSWORD).await);
        let y_token = token(&app.sign_in("y@example.org", PASSWORD).await);
        let (as_x, as_y) = (app.as_(Some(&x_token)), app.as_(Some(&y_token)));
        let me = app.get("/api/v1/me").await.json();
        let step_down = as_x.patch_json(&user_path(&me), &json!({"role": "staff"}), None).await;
        assert_eq!(step_down.status, StatusCode::OK, "{}", step_down.text());

        let (x_path, y_path, demote) = (user_path(&x), user_path(&y), json!({"role": "staff"}));
        for round in 0..20 {
            let (x_demotes_y, y_demotes_x) = tokio::join!(
                as_x.patch_json(&y_path, &demote, None),
                as_y.patch_json(&x_path, &demote, None),
            );
            let statuses = (x_demotes_y.status.as_u16(), y_demotes_x.status.as_u16());
            let x_list = as_x.get("/api/v1/users?role=admin&active=true").await;
            let y_list = as_y.get("/api/v1/users?role=admin&active=true").await;
            let admins = [x_list, y_list]
                .iter()
                .find(|response| response.status == StatusCode::OK)
                .map(|response| emails(&response.json()))
                .unwrap_or_default();
            assert!(!admins.is_empty(), "round {round}: {statuses:?} left no active admin");
            if admins.len() == 2 {
                continue;
            }
            // Whoever is still admin makes the other one admin again for the next round.
            let (restorer, other) =
                if admins[0] == "x@example.org" { (&as_x, &y_path) } else { (&as_y, &x_path) };
            let restore = restorer.patch_json(other, &json!({"role": "admin"}), None).await;
            assert_eq!(restore.status, StatusCode::OK, "{}", restore.text());
        }
    }
);

db_test!(
    async fn a_deactivated_user_cannot_sign_in_and_their_tokens_stop_at_once(app) {
        let user = create_user(&app, "sam@example.org", "Sam", "staff").await;
        let tokens = app.sign_in("sam@example.org", PASSWORD).await;
        let staff = app.as_(Some(tokens["access_token"].as_str().unwrap()));
        assert_eq!(staff.get("/api/v1/me").await.status, StatusCode::OK);

        let response = app.patch_json(&user_path(&user), &json!({"active": false}), None).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        staff.get("/api/v1/me").await.problem(401);
        staff.get("/api/v1/organisations").await.problem(401);
        let refresh = app
            .as_anonymous()
            .post_json("/api/v1/auth/refresh", &json!({"refresh_token": tokens["refresh_token"]}))
            .await;
        refresh.problem(401);

        let inactive = attempt_login(&app, "sam@example.org", PASSWORD).await.problem(401);
        let wrong = attempt_login(&app, ADMIN_EMAIL, "not the right password").await.problem(401);
        let without_request_id = |mut problem: Value| {
            problem.as_object_mut().unwrap().remove("request_id");
            problem
        };
        assert_eq!(
            without_request_id(inactive),
            without_request_id(wrong),
            "an inactive account reads like a wrong password"
        );

        // Reactivating lets them sign in again; the old session stays ended.
        let response = app.patch_json(&user_path(&user), &json!({"active": true}), None).await;
        assert_eq!(response.status, StatusCode::OK);
        app.sign_in("sam@example.org", PASSWORD).await;
        staff.get("/api/v1/me").await.problem(401);
    }
);

// ---------------------------------------------------------------------------------------
// API keys
// ---------------------------------------------------------------------------------------

db_test!(
    async fn creating_a_key_shows_it_once_with_its_prefix(app) {
        let response = app
            .post_json(
                "/api/v1/api-keys",
                &json!({"name": "Website directory", "scopes": ["organisations:read", "contacts:read"]}),
            )
            .await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
        let created = response.json();
        let id = created["id"].as_str().unwrap();
        assert_eq!(response.header("location").unwrap(), format!("/api/v1/api-keys/{id}"));
        let key = created["key"].as_str().unwrap();
        let prefix = created["prefix"].as_str().unwrap();
        assert!(key.starts_with("cvk_"), "{key}");
        assert!(key.starts_with(&format!("{prefix}_")), "{key} / {prefix}");
        assert!(key.len() > prefix.len() + 30, "a key has a long secret part: {key}");
        assert_eq!(created["name"], "Website directory");
        assert_eq!(created["status"], "active");
        let mut scopes: Vec<&str> =
            created["scopes"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
        scopes.sort_unstable();
        assert_eq!(scopes, ["contacts:read", "organisations:read"]);
        let me = app.get("/api/v1/me").await.json();
        assert_eq!(created["created_by"], me["id"]);
        for unset in ["expires_at", "revoked_at", "last_used_at"] {
            assert_eq!(created[unset], json!(null), "{unset}");
        }

        let fetched = app.get(&format!("/api/v1/api-keys/{id}")).await;
        assert_eq!(fetched.status, StatusCode::OK);
        let secret = &key[prefix.len() + 1..];
        assert!(!fetched.text().contains(secret));
        let mut expected = created.clone();
        expected.as_object_mut().unwrap().remove("key");
        assert_eq!(fetched.json(), expected, "the record is the answer without the key");

        let list = app.get("/api/v1/api-keys").await;
        assert_eq!(list.status, StatusCode::OK);
        assert!(!list.text().contains(secret));
        assert_eq!(list.json()["data"], json!([expected]));
    }
);

db_test!(
    async fn a_key_needs_a_name_known_distinct_scopes_and_a_future_expiry(app) {
        let cases = [
            (json!({"name": "K", "scopes": []}), "scopes"),
            (json!({"name": "K", "scopes": ["reports:read", "reports:read"]}), "scopes"),
            (json!({"name": "K", "scopes": ["organisations:read", "organisations:write"]}), "scopes[1]"),
            (json!({"name": "K"}), "scopes"),
            (json!({"scopes": ["reports:read"]}), "name"),
            (json!({"name": "K", "scopes": ["reports:read"], "expires_at": seconds_from_now(-60)}), "expires_at"),
            (json!({"name": "K", "scopes": ["reports:read"], "expires_at": "tomorrow"}), "expires_at"),
        ];
        for (body, field) in cases {
            let response = app.post_json("/api/v1/api-keys", &body).await;
            assert_eq!(response.problem(422)["errors"][0]["field"], field, "{body}");
        }
        let list = app.get("/api/v1/api-keys").await.json();
        assert_eq!(list["data"], json!([]), "no refused key was stored");
        let every_scope = create_key(&app, &json!({"name": "All", "scopes": SCOPES})).await;
        assert_eq!(every_scope["scopes"].as_array().unwrap().len(), SCOPES.len());
    }
);

db_test!(
    async fn a_key_reads_within_its_scopes_and_its_use_is_recorded(app) {
        let stored = app.create_organisation(&organisation("Northside")).await;
        let org_path = format!("/api/v1/organisations/{}", stored["id"].as_str().unwrap());
        let reader = create_key(&app, &json!({"name": "Reader", "scopes": ["organisations:read"]})).await;
        let as_reader = app.as_(reader["key"].as_str());

        let list = as_reader.get("/api/v1/organisations").await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text());
        assert_eq!(list.json()["data"][0]["id"], stored["id"]);
        assert_eq!(as_reader.get(&org_path).await.json(), stored);
        let record = app.get(&key_path(&reader)).await.json();
        assert!(record["last_used_at"].is_string(), "{record}");
        assert_eq!(record["status"], "active");

        let other = app.api_key(&["contacts:read", "reports:read"]).await;
        let refused = app.as_(Some(&other)).get("/api/v1/organisations").await;
        assert_forbidden(&refused);
        assert_forbidden(&app.as_(Some(&other)).get(&org_path).await);
    }
);

db_test!(
    async fn keys_never_write_nor_reach_accounts_or_keys(app) {
        let stored = app.create_organisation(&organisation("Northside")).await;
        let org_path = format!("/api/v1/organisations/{}", stored["id"].as_str().unwrap());
        let key = create_key(&app, &json!({"name": "Everything", "scopes": SCOPES})).await;
        let as_key = app.as_(key["key"].as_str());

        assert_forbidden(&as_key.post_json("/api/v1/organisations", &organisation("Other")).await);
        assert_forbidden(&as_key.patch_json(&org_path, &json!({"name": "Renamed"}), None).await);
        assert_forbidden(&as_key.delete(&org_path, None).await);
        assert_forbidden(&as_key.get("/api/v1/me").await);
        assert_forbidden(
            &as_key
                .post_json("/api/v1/me/password", &json!({"current_password": "x", "new_password": "y"}))
                .await,
        );
        assert_forbidden(&as_key.post_json("/api/v1/auth/logout", &json!({})).await);
        assert_forbidden(&as_key.get("/api/v1/users").await);
        assert_forbidden(
            &as_key.post_json("/api/v1/users", &new_user("k@example.org", "K", "admin")).await,
        );
        assert_forbidden(&as_key.get("/api/v1/api-keys").await);
        assert_forbidden(&as_key.get(&key_path(&key)).await);
        assert_forbidden(
            &as_key.post_json("/api/v1/api-keys", &json!({"name": "Mine", "scopes": SCOPES})).await,
        );
        assert_forbidden(&as_key.delete(&key_path(&key), None).await);

        assert_eq!(app.get(&org_path).await.json(), stored);
        assert_eq!(app.list_all("").await.len(), 1);
        assert_eq!(listed(&app, "").await, [ADMIN_EMAIL]);
        assert_eq!(app.get("/api/v1/api-keys").await.json()["data"].as_array().unwrap().len(), 1);
        assert_eq!(app.get(&key_path(&key)).await.json()["status"], "active");
    }
);

db_test!(
    async fn a_revoked_key_is_refused_at_once_and_revoking_again_is_harmless(app) {
        let key = create_key(&app, &json!({"name": "Old", "scopes": ["organisations:read"]})).await;
        let as_key = app.as_(key["key"].as_str());
        assert_eq!(as_key.get("/api/v1/organisations").await.status, StatusCode::OK);

        let path = key_path(&key);
        let revoked = app.delete(&path, None).await;
        assert_eq!(revoked.status, StatusCode::NO_CONTENT);
        assert!(revoked.body.is_empty());
        let refused = as_key.get("/api/v1/organisations").await;
        refused.problem(401);
        assert_eq!(refused.header("www-authenticate").as_deref(), Some(r#"Bearer realm="convene""#));

        let record = app.get(&path).await.json();
        assert_eq!(record["status"], "revoked");
        assert!(record["revoked_at"].is_string());
        assert_eq!(app.delete(&path, None).await.status, StatusCode::NO_CONTENT);
        let again = app.get(&path).await.json();
        assert_eq!(again["revoked_at"], record["revoked_at"], "the first revocation stands");
        assert_eq!(app.get("/api/v1/api-keys").await.json()["data"][0]["status"], "revoked");

        app.delete(&format!("/api/v1/api-keys/{}", uuid::Uuid::now_v7()), None).await.problem(404);
        app.get(&format!("/api/v1/api-keys/{}", uuid::Uuid::now_v7())).await.problem(404);
        app.delete("/api/v1/api-keys/not-a-uuid", None).await.problem(400);
    }
);

db_test!(
    async fn a_key_stops_working_when_it_expires(app) {
        let body = json!({"name": "Short-lived", "scopes": ["organisations:read"], "expires_at": seconds_from_now(2)});
        let key = create_key(&app, &body).await;
        assert_eq!(key["status"], "active");
        assert!(key["expires_at"].is_string());
        let as_key = app.as_(key["key"].as_str());
        let before = as_key.get("/api/v1/organisations").await;
        assert_eq!(before.status, StatusCode::OK, "{}", before.text());

        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        as_key.get("/api/v1/organisations").await.problem(401);
        assert_eq!(app.get(&key_path(&key)).await.json()["status"], "expired");
        assert_eq!(app.get("/api/v1/api-keys").await.json()["data"][0]["status"], "expired");
    }
);

db_test!(
    async fn a_tampered_key_is_refused(app) {
        let key = app.api_key(&["organisations:read"]).await;
        let flip = |c: char| if c == 'A' { 'B' } else { 'A' };
        let mut last = key.clone();
        let end = last.pop().unwrap();
        last.push(flip(end));
        let mut in_prefix: Vec<char> = key.chars().collect();
        in_prefix[5] = if in_prefix[5] == '0' { '1' } else { '0' };
        let in_prefix: String = in_prefix.into_iter().collect();
        let mut in_secret: Vec<char> = key.chars().collect();
        let middle = key.len() - 20;
        in_secret[middle] = flip(in_secret[middle]);
        let in_secret: String = in_secret.into_iter().collect();

        for tampered in [last, in_prefix, in_secret, format!("{key}x"), key[..key.len() - 1].to_owned()] {
            assert_ne!(tampered, key);
            let response = app.as_(Some(&tampered)).get("/api/v1/organisations").await;
            assert_eq!(response.problem(401)["type"], "/problems/unauthorized", "{tampered}");
        }
        let genuine = app.as_(Some(&key)).get("/api/v1/organisations").await;
        assert_eq!(genuine.status, StatusCode::OK, "the untouched key still works");
    }
);

// ---------------------------------------------------------------------------------------
// Roles on organisations, accounts and keys
// ---------------------------------------------------------------------------------------

db_test!(
    async fn a_viewer_reads_organisations_but_cannot_change_them(app) {
        let stored = app.create_organisation(&organisation("Northside")).await;
        let path = format!("/api/v1/organisations/{}", stored["id"].as_str().unwrap());
        let viewer_token = app.token_for("viewer").await;
        let viewer = app.as_(Some(&viewer_token));

        let list = viewer.get("/api/v1/organisations").await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text());
        assert_eq!(list.json()["data"].as_array().unwrap().len(), 1);
        assert_eq!(viewer.get(&path).await.json(), stored);

        assert_forbidden(&viewer.post_json("/api/v1/organisations", &organisation("Mine")).await);
        assert_forbidden(&viewer.patch_json(&path, &json!({"name": "Renamed"}), None).await);
        assert_forbidden(&viewer.delete(&path, None).await);
        assert_eq!(app.get(&path).await.json(), stored);
        assert_eq!(app.list_all("").await.len(), 1);
    }
);

db_test!(
    async fn staff_change_organisations(app) {
        let staff_token = app.token_for("staff").await;
        let staff = app.as_(Some(&staff_token));
        let created = staff.post_json("/api/v1/organisations", &organisation("Northside")).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
        let path = format!("/api/v1/organisations/{}", created.json()["id"].as_str().unwrap());
        let patched = staff.patch_json(&path, &json!({"name": "Northside Voices"}), None).await;
        assert_eq!(patched.status, StatusCode::OK, "{}", patched.text());
        assert_eq!(staff.delete(&path, None).await.status, StatusCode::NO_CONTENT);
    }
);

db_test!(
    async fn only_admins_manage_accounts_and_keys(app) {
        let someone = create_user(&app, "sam@example.org", "Sam", "viewer").await;
        let key = create_key(&app, &json!({"name": "K", "scopes": ["reports:read"]})).await;
        for role in ["staff", "viewer"] {
            let role_token = app.token_for(role).await;
            let caller = app.as_(Some(&role_token));
            assert_forbidden(&caller.get("/api/v1/users").await);
            assert_forbidden(&caller.get(&user_path(&someone)).await);
            assert_forbidden(
                &caller.post_json("/api/v1/users", &new_user("new@example.org", "New", "admin")).await,
            );
            assert_forbidden(
                &caller.patch_json(&user_path(&someone), &json!({"role": "admin"}), None).await,
            );
            assert_forbidden(&caller.get("/api/v1/api-keys").await);
            assert_forbidden(&caller.get(&key_path(&key)).await);
            assert_forbidden(
                &caller.post_json("/api/v1/api-keys", &json!({"name": "Mine", "scopes": SCOPES})).await,
            );
            assert_forbidden(&caller.delete(&key_path(&key), None).await);
            // Their own account is theirs to read.
            assert_eq!(caller.get("/api/v1/me").await.json()["role"], role);
        }
        assert_eq!(app.get(&user_path(&someone)).await.json()["role"], "viewer");
        assert_eq!(app.get(&key_path(&key)).await.json()["status"], "active");
        assert_eq!(app.get("/api/v1/api-keys").await.json()["data"].as_array().unwrap().len(), 1);
    }
);

// ---------------------------------------------------------------------------------------
// First start, through the library
// ---------------------------------------------------------------------------------------

/// Runs the function `$name(backend)` on SQLite, and on PostgreSQL when configured, over a database
/// with no accounts (which the `TestApp` of `db_test!` never is).
macro_rules! fresh_database_test {
    ($name:ident) => {
        mod $name {
            use crate::helpers::{Backend, postgres_admin_url};

            #[actix_web::test]
            async fn sqlite() {
                super::$name(Backend::Sqlite).await;
            }

            #[actix_web::test]
            async fn postgres() {
                if postgres_admin_url().is_none() {
                    eprintln!("note: TEST_DATABASE_URL is not set; skipping the PostgreSQL run");
                    return;
                }
                super::$name(Backend::Postgres).await;
            }
        }
    };
}

/// A configuration read only from `pairs`.
fn config(pairs: &[(&str, &str)]) -> Config {
    Config::from_lookup(|name| {
        pairs
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    })
    .expect("a valid configuration")
}

fn fresh_database(backend: Backend) -> (TestDatabase, Database) {
    let db = TestDatabase::create(backend);
    let database = convene::startup::open_database(&db.url, 2).expect("the test database opens");
    (db, database)
}

async fn first_start_creates_an_admin_with_a_one_time_password(backend: Backend) {
    let (_db, database) = fresh_database(backend);
    let config = config(&[]);
    let first = {
        let mut conn = database.connection().unwrap();
        convene::startup::ensure_admin(&mut conn, &config.auth).unwrap()
    }
    .expect("a first admin on an empty database");
    assert_eq!(first.email, "admin@convene.local");
    let password = first.generated_password.expect("a generated password");
    assert!(password.len() >= 32, "{password}");
    assert_eq!(
        convene::accounts::password_weakness(&password, &first.email),
        None
    );
    {
        let mut conn = database.connection().unwrap();
        let again = convene::startup::ensure_admin(&mut conn, &config.auth).unwrap();
        assert!(again.is_none(), "the second start creates nobody");
        assert_eq!(store::count(&mut conn).unwrap(), 1);
    }

    // The one-time password signs in, as an admin.
    let state = actix_web::web::Data::new(convene::state::AppState::new(
        database,
        &config,
        &Secret::new(JWT_SECRET),
    ));
    let server_state = state.clone();
    let server = actix_test::start(move || convene::app::build_app(server_state.clone()));
    let mut response = server
        .post("/api/v1/auth/login")
        .send_json(&json!({"email": "admin@convene.local", "password": password}))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let tokens: Value = response.json().await.unwrap();
    let mut me = server
        .get("/api/v1/me")
        .insert_header(("authorization", format!("Bearer {}", token(&tokens))))
        .send()
        .await
        .unwrap();
    let me: Value = me.json().await.unwrap();
    assert_eq!(
        (me["role"].clone(), me["active"].clone()),
        (json!("admin"), json!(true))
    );
}

fresh_database_test!(first_start_creates_an_admin_with_a_one_time_password);

async fn first_start_uses_the_configured_admin(backend: Backend) {
    let (_db, database) = fresh_database(backend);
    let config = config(&[
        ("CONVENE_ADMIN_EMAIL", "chair@alliance.example.org"),
        ("CONVENE_ADMIN_PASSWORD", ADMIN_PASSWORD),
    ]);
    let mut conn = database.connection().unwrap();
    let first = convene::startup::ensure_admin(&mut conn, &config.auth)
        .unwrap()
        .unwrap();
    assert_eq!(first.email, "chair@alliance.example.org");
    assert_eq!(
        first.generated_password, None,
        "a chosen password is not shown"
    );
    let (user, hash) = store::credentials(&mut conn, "chair@alliance.example.org")
        .unwrap()
        .unwrap();
    assert_eq!(user.role.as_str(), "admin");
    assert!(passwords::verify(ADMIN_PASSWORD, &hash));
}

fresh_database_test!(first_start_uses_the_configured_admin);

/// Refused as a setting, before any database exists (see `startup.rs` for the binary).
#[test]
fn a_weak_admin_password_stops_the_first_start() {
    let weak = "password1234";
    let error = Config::from_lookup(|name| match name {
        "CONVENE_ADMIN_EMAIL" => Some("chair@alliance.example.org".to_owned()),
        "CONVENE_ADMIN_PASSWORD" => Some(weak.to_owned()),
        _ => None,
    })
    .unwrap_err();
    let message = error.to_string();
    assert!(message.starts_with("CONVENE_ADMIN_PASSWORD "), "{message}");
    assert!(
        !message.contains(weak),
        "the password is not printed: {message}"
    );
}

#[test]
fn the_jwt_key_is_generated_once_beside_the_sqlite_database_for_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("c.db");
    let url = format!("sqlite://{}", database.display());
    let config = config(&[("DATABASE_URL", url.as_str())]);

    let (secret, path) = bootstrap::jwt_secret(&config).unwrap();
    let path = path.expect("the key file is named when it is used");
    assert_eq!(path, dir.path().join("c.db.jwt-secret"));
    assert!(secret.expose().len() >= 32);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap().trim(),
        secret.expose()
    );

    let (again, again_path) = bootstrap::jwt_secret(&config).unwrap();
    assert_eq!(again, secret, "the key survives restarts");
    assert_eq!(again_path, Some(path));
}

#[test]
fn a_configured_jwt_secret_is_used_and_no_key_file_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("c.db").display());
    let config = config(&[("DATABASE_URL", url.as_str()), ("JWT_SECRET", JWT_SECRET)]);
    let (secret, path) = bootstrap::jwt_secret(&config).unwrap();
    assert_eq!(secret.expose(), JWT_SECRET);
    assert_eq!(path, None);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no file was written"
    );
}

// ---------------------------------------------------------------------------------------
// Operator commands, through the real binary (SQLite)
// ---------------------------------------------------------------------------------------

/// A SQLite database in a folder of its own, for `convene admin …`.
struct Operator {
    dir: tempfile::TempDir,
}

impl Operator {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn database(&self) -> PathBuf {
        self.dir.path().join("c.db")
    }

    /// Runs `convene` with `args`, writing `stdin` (when given) to its standard input.
    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_convene"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env(
                "DATABASE_URL",
                format!("sqlite://{}", self.database().display()),
            )
            .env("RUST_BACKTRACE", "1")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the convene binary runs");
        if let Some(input) = stdin {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        child.wait_with_output().unwrap()
    }

    /// Runs a command that must succeed and returns its standard output.
    #[track_caller]
    fn succeed(&self, args: &[&str], stdin: Option<&str>) -> String {
        let output = self.run(args, stdin);
        let (stdout, stderr) = texts(&output);
        assert!(output.status.success(), "{args:?}: {stdout}\n{stderr}");
        stdout
    }

    /// The stored password hash of `email`, read with the library.
    fn stored_hash(&self, email: &str) -> Option<String> {
        stored_hash(&self.database(), email)
    }
}

fn stored_hash(database: &Path, email: &str) -> Option<String> {
    let database = Database::connect(&DatabaseUrl::Sqlite(database.to_owned()), 1).unwrap();
    let mut conn = database.connection().unwrap();
    store::credentials(&mut conn, email)
        .unwrap()
        .map(|(_, hash)| hash)
}

fn texts(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The password a command printed after "password (shown once): ".
#[track_caller]
fn printed_password(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("password (shown once): "))
        .unwrap_or_else(|| panic!("no password in {stdout:?}"))
        .trim()
        .to_owned()
}

/// Asserts a refused command: a non-zero exit, and a first line on stderr that says what
/// is wrong, without a panic. Returns that line.
#[track_caller]
fn refusal(output: &Output) -> String {
    let (stdout, stderr) = texts(output);
    assert!(!output.status.success(), "succeeded: {stdout}\n{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    let first = stderr.lines().next().unwrap_or_default().to_owned();
    assert!(first.starts_with("convene: "), "{stderr}");
    first
}

#[test]
fn admin_create_user_takes_a_password_from_stdin() {
    let operator = Operator::new();
    let stdout = operator.succeed(
        &[
            "admin",
            "create-user",
            "--email",
            "Sam@Alliance.example.org",
            "--name",
            "Sam Jones",
            "--role",
            "staff",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(
        !stdout.contains(PASSWORD),
        "a supplied password is not printed: {stdout}"
    );
    let hash = operator
        .stored_hash("sam@alliance.example.org")
        .expect("the account, with its email lower-cased");
    assert!(passwords::verify(PASSWORD, &hash));
    assert!(
        !passwords::verify(&format!("{PASSWORD}\n"), &hash),
        "the newline is not kept"
    );

    let database = Database::connect(&DatabaseUrl::Sqlite(operator.database()), 1).unwrap();
    let mut conn = database.connection().unwrap();
    let (user, _) = store::credentials(&mut conn, "sam@alliance.example.org")
        .unwrap()
        .unwrap();
    assert_eq!(
        (user.name.as_str(), user.role.as_str(), user.active),
        ("Sam Jones", "staff", true)
    );
}

#[test]
fn admin_create_user_without_a_password_prints_a_generated_one() {
    let operator = Operator::new();
    let stdout = operator.succeed(
        &[
            "admin",
            "create-user",
            "--email",
            "vi@example.org",
            "--name",
            "Vi",
            "--role",
            "viewer",
        ],
        None,
    );
    let password = printed_password(&stdout);
    assert_eq!(
        convene::accounts::password_weakness(&password, "vi@example.org"),
        None
    );
    let hash = operator.stored_hash("vi@example.org").unwrap();
    assert!(passwords::verify(&password, &hash));
}

#[test]
fn admin_reset_password_prints_a_new_one_and_the_old_one_stops_working() {
    let operator = Operator::new();
    operator.succeed(
        &[
            "admin",
            "create-user",
            "--email",
            "sam@example.org",
            "--name",
            "Sam",
            "--role",
            "admin",
            "--password-stdin",
        ],
        Some(PASSWORD),
    );
    let stdout = operator.succeed(
        &["admin", "reset-password", "--email", "sam@example.org"],
        None,
    );
    let new_password = printed_password(&stdout);
    assert_ne!(new_password, PASSWORD);
    let hash = operator.stored_hash("sam@example.org").unwrap();
    assert!(passwords::verify(&new_password, &hash));
    assert!(!passwords::verify(PASSWORD, &hash));

    // A chosen one on stdin works too.
    operator.succeed(
        &[
            "admin",
            "reset-password",
            "--email",
            "SAM@example.org",
            "--password-stdin",
        ],
        Some("a fresh chosen passphrase\n"),
    );
    let hash = operator.stored_hash("sam@example.org").unwrap();
    assert!(passwords::verify("a fresh chosen passphrase", &hash));
    assert!(!passwords::verify(&new_password, &hash));

    let unknown = operator.run(
        &["admin", "reset-password", "--email", "nobody@example.org"],
        None,
    );
    assert!(refusal(&unknown).contains("nobody@example.org"));
}

#[test]
fn admin_commands_refuse_bad_usage_in_one_line() {
    let operator = Operator::new();
    let create = |extra: &[&str]| {
        let mut args = vec!["admin", "create-user"];
        args.extend_from_slice(extra);
        operator.run(&args, None)
    };
    let role = create(&["--email", "a@example.org", "--name", "A", "--role", "owner"]);
    assert!(refusal(&role).contains("--role"));
    let no_email = create(&["--name", "A", "--role", "staff"]);
    assert!(refusal(&no_email).contains("--email"));
    let no_name = create(&["--email", "a@example.org", "--role", "staff"]);
    assert!(refusal(&no_name).contains("--name"));
    let no_role = create(&["--email", "a@example.org", "--name", "A"]);
    assert!(refusal(&no_role).contains("--role"));
    let not_an_email = create(&["--email", "someone", "--name", "A", "--role", "staff"]);
    assert!(refusal(&not_an_email).contains("--email"));
    let option = create(&[
        "--email",
        "a@example.org",
        "--name",
        "A",
        "--role",
        "staff",
        "--force",
    ]);
    assert!(refusal(&option).contains("--force"));
    let dangling = create(&["--email"]);
    assert!(refusal(&dangling).contains("--email"));
    let command = operator.run(&["admin", "delete-user", "--email", "a@example.org"], None);
    assert!(refusal(&command).contains("delete-user"));

    assert_eq!(
        operator.stored_hash("a@example.org"),
        None,
        "nothing was created"
    );
}

/// A mistyped command is reported as such, before the options are judged or the database
/// is opened (and created).
#[test]
fn an_unknown_admin_command_is_refused_before_anything_else() {
    let operator = Operator::new();
    let bare = operator.run(&["admin", "list-users"], None);
    assert!(refusal(&bare).contains("list-users"), "{}", texts(&bare).1);
    let with_options = operator.run(&["admin", "delete-user", "--email", "a@example.org"], None);
    assert!(refusal(&with_options).contains("delete-user"));
    assert!(!operator.database().exists(), "no database was created");
}

#[test]
fn admin_create_user_refuses_a_weak_password_or_a_taken_email() {
    let operator = Operator::new();
    let args = [
        "admin",
        "create-user",
        "--email",
        "sam.jones@example.org",
        "--name",
        "Sam",
        "--role",
        "staff",
        "--password-stdin",
    ];
    for weak in ["short\n", "password1234\n", "sam.jones-2026-x\n"] {
        let output = operator.run(&args, Some(weak));
        let line = refusal(&output);
        assert!(line.contains("password"), "{line}");
        assert!(
            !texts(&output).1.contains(weak.trim()),
            "the password is not echoed"
        );
    }
    assert_eq!(operator.stored_hash("sam.jones@example.org"), None);

    operator.succeed(&args, Some(PASSWORD));
    let again = operator.run(&args, Some("another good passphrase"));
    refusal(&again);
    let hash = operator.stored_hash("sam.jones@example.org").unwrap();
    assert!(
        passwords::verify(PASSWORD, &hash),
        "the first account is untouched"
    );
}
