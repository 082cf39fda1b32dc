//! Two instances of the service on one database, as behind a load balancer, behave as one
//! service: sign-in limits count across both, sessions and idempotency keys are shared, the
//! calendar's status moves are announced once, and each webhook delivery is sent by one.

use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, web};
use chrono::{Days, Duration, Utc};
use convene::api::webhooks::sender::send_due;
use convene::domain::membership::GraceWindow;
use convene::domain::now;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{ADMIN_EMAIL, Instance, PASSWORD};

async fn status_of(
    request: awc::ClientRequest,
    body: Option<&Value>,
) -> (StatusCode, Value, awc::http::header::HeaderMap) {
    let mut response = match body {
        Some(body) => request.send_json(body).await,
        None => request.send().await,
    }
    .expect("the request reaches the server");
    let headers = response.headers().clone();
    let bytes = response.body().await.expect("a body");
    (
        response.status(),
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        headers,
    )
}

fn login(
    server: &actix_test::TestServer,
    email: &str,
    password: &str,
) -> (awc::ClientRequest, Value) {
    (
        server.post("/api/v1/auth/login"),
        json!({"email": email, "password": password}),
    )
}

db_test!(
    async fn two_instances_on_one_database_behave_as_one_service(app) {
        let other: Instance = app.second_instance();

        // Sign-in limits: five attempts on an account, whichever instance they reach.
        let (email, _) = app.account("staff").await; // the first attempt
        for server in [&app.server, &other.server, &app.server, &other.server] {
            let (request, body) = login(server, &email, "a wrong guess, surely 1");
            assert_eq!(status_of(request, Some(&body)).await.0, StatusCode::UNAUTHORIZED);
        }
        let (request, body) = login(&other.server, &email, PASSWORD);
        assert_eq!(status_of(request, Some(&body)).await.0, StatusCode::TOO_MANY_REQUESTS, "not twice the limit");

        // A session made on one instance works on the other, and ends on both.
        let (request, body) = login(&app.server, ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD);
        let (status, tokens, _) = status_of(request, Some(&body)).await;
        assert_eq!(status, StatusCode::OK);
        let bearer = format!("Bearer {}", tokens["access_token"].as_str().unwrap());
        let me = || other.server.get("/api/v1/me").insert_header(("authorization", bearer.clone()));
        assert_eq!(status_of(me(), None).await.0, StatusCode::OK);
        let out = other.server.post("/api/v1/auth/logout").insert_header(("authorization", bearer.clone()));
        assert_eq!(status_of(out, None).await.0, StatusCode::NO_CONTENT);
        let mine = app.server.get("/api/v1/me").insert_header(("authorization", bearer.clone()));
        assert_eq!(status_of(mine, None).await.0, StatusCode::UNAUTHORIZED);

        // An idempotency key used on one instance replays on the other.
        let admin = format!("Bearer {}", app.admin_token);
        let create = |server: &actix_test::TestServer| {
            server
                .post("/api/v1/organisations")
                .insert_header(("authorization", admin.clone()))
                .insert_header(("idempotency-key", "one-organisation-please"))
        };
        let body = json!({"name": "Northside Peer Voices", "kind": "local_charity"});
        let (first, created, _) = status_of(create(&app.server), Some(&body)).await;
        let (second, replayed, headers) = status_of(create(&other.server), Some(&body)).await;
        assert_eq!((first, second), (StatusCode::CREATED, StatusCode::CREATED));
        assert_eq!(created["id"], replayed["id"]);
        assert_eq!(headers.get("idempotent-replayed").unwrap(), "true");

        // The calendar: both instances sweep the same days at once; each move is told once.
        let grace = GraceWindow(30);
        let today = Utc::now().date_naive();
        convene::startup::keep_feed(&app.state.db, today, grace, 90).unwrap();
        let id = created["id"].as_str().unwrap();
        for (action, body) in [
            ("apply", json!({"tier": "full", "applied_on": today.checked_sub_days(Days::new(400)).unwrap()})),
            ("approve", json!({"start_on": today.checked_sub_days(Days::new(365)).unwrap(), "end_on": today})),
        ] {
            let response = app.post_json(&format!("/api/v1/organisations/{id}/membership/{action}"), &body).await;
            assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        }
        let later = today.checked_add_days(Days::new(3)).unwrap();
        let sweeps: Vec<_> = [app.state.db.clone(), other.state.db.clone()]
            .into_iter()
            .map(|db| std::thread::spawn(move || convene::startup::keep_feed(&db, later, grace, 90).unwrap()))
            .collect();
        let moves: usize = sweeps.into_iter().map(|s| s.join().unwrap()).sum();
        assert_eq!(moves, 1, "to grace on the day after the period ended, once");
        let events = app.get("/api/v1/changes?types=membership.status_changed&limit=500").await.json();
        let calendar: Vec<&Value> = events["data"].as_array().unwrap().iter().filter(|e| e["detail"]["cause"] == "calendar").collect();
        assert_eq!(calendar.len(), 1, "{events}");

        // Webhooks: both instances send at once; each delivery reaches the receiver once.
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let inbox = web::Data::from(seen.clone());
        let receiver = actix_test::start(move || {
            App::new().app_data(inbox.clone()).route(
                "/hook",
                web::post().to(|req: actix_web::HttpRequest, seen: web::Data<Mutex<Vec<String>>>| async move {
                    let id = req.headers().get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
                    seen.lock().unwrap().push(id.to_owned());
                    HttpResponse::NoContent().finish()
                }),
            )
        });
        let hook = app.post_json("/api/v1/webhooks", &json!({"url": receiver.url("/hook"), "event_types": ["organisation.created"]})).await;
        assert_eq!(hook.status, StatusCode::CREATED, "{}", hook.text());
        for n in 0..8 {
            app.create_organisation(&json!({"name": format!("Organisation {n}"), "kind": "local_charity"})).await;
        }
        // Each instance sends round after round until all eight are in (or ten seconds pass).
        let senders: Vec<_> = [app.state.clone(), other.state.clone()]
            .into_iter()
            .map(|state| {
                let seen = seen.clone();
                std::thread::spawn(move || {
                    let (mut sent, started) = (0, std::time::Instant::now());
                    while seen.lock().unwrap().len() < 8 && started.elapsed().as_secs() < 10 {
                        match send_due(&state, now() + Duration::seconds(1)) {
                            Ok(0) | Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
                            Ok(n) => sent += n,
                        }
                    }
                    sent
                })
            })
            .collect();
        let sent: usize = senders.into_iter().map(|s| s.join().unwrap()).sum();
        let seen = seen.lock().unwrap().clone();
        assert_eq!(sent, 8);
        assert_eq!(seen.len(), 8, "{seen:?}");
        let unique: std::collections::BTreeSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), 8, "each delivery once");
    }
);

db_test!(
    async fn reports_read_from_the_replica_named_by_database_read_url(app) {
        // The URL itself: its Display hides the credentials.
        let url = match &app.db.url {
            convene::config::DatabaseUrl::Postgres(raw) => raw.clone(),
            convene::config::DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
        };
        let config = convene::config::Config::from_lookup(|name| match name {
            "JWT_SECRET" => Some(crate::helpers::JWT_SECRET.to_owned()),
            "DATABASE_URL" | "DATABASE_READ_URL" => Some(url.clone()),
            _ => None,
        });
        if !app.db.url.is_postgres() {
            // A replica is PostgreSQL's: with SQLite the setting is refused at start-up.
            let error = config.expect_err("refused with SQLite");
            assert!(error.to_string().contains("DATABASE_READ_URL"), "{error}");
            return;
        }
        let config = config.expect("a replica URL is accepted with PostgreSQL");
        let secret = convene::config::Secret::new(crate::helpers::JWT_SECRET);
        let state = web::Data::new(convene::state::AppState::new(app.state.db.clone(), &config, &secret));
        // The replica's pool is read-only: a write there is refused by the database.
        let refused = state.reports.run(|conn| {
            use diesel::connection::SimpleConnection;
            conn.batch_execute("CREATE TABLE replica_write_test (id INTEGER)")
                .map_err(convene::db::DbError::from)
        });
        let error = refused.await.expect_err("a read-only transaction");
        assert!(error.to_string().contains("read-only"), "{error}");
        // Reports answer from it as they do from the primary.
        app.create_organisation(&json!({"name": "Northside Peer Voices", "kind": "local_charity"})).await;
        let server_state = state.clone();
        let server = actix_test::start(move || convene::app::build_app(server_state.clone()));
        let path = "/api/v1/reports/composition?disclosure=internal";
        let bearer = format!("Bearer {}", app.admin_token);
        let (status, from_replica, _) = status_of(server.get(path).insert_header(("authorization", bearer)), None).await;
        assert_eq!(status, StatusCode::OK, "{from_replica}");
        assert_eq!(from_replica, app.get(path).await.json());
    }
);
