//! When the database goes away or is locked, requests get a quick 503 with `Retry-After`,
//! readiness turns 503, and the service recovers by itself when the database is back.

use std::net::TcpListener as StdListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use actix_web::http::{Method, StatusCode};
use convene::config::{DatabaseUrl, MIN_DEFAULT_POOL_SIZE};
use convene::db::Database;
use convene::demo::DemoOptions;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, SqliteConnection};
use serde_json::json;
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use crate::db_test;
use crate::helpers::{Backend, PASSWORD, TestApp, TestDatabase, TestResponse, postgres_admin_url};

/// The longest a request may take to be told the database is unavailable.
const FAIL_FAST: Duration = Duration::from_secs(2);

#[track_caller]
fn assert_unavailable(response: &TestResponse, took: Duration) {
    let problem = response.problem(503);
    assert_eq!(problem["type"], "/problems/service-unavailable");
    assert!(
        response.header("retry-after").is_some(),
        "503 carries Retry-After"
    );
    assert!(
        took < FAIL_FAST + Duration::from_millis(500),
        "took {took:?}"
    );
}

/// The pool asks a connection whether it is still there only a second after its last
/// answer. Connections the database ended (a restart, a failover) are found out that way:
/// meanwhile a request on one is a 503, never a 500, and then requests are answered again.
#[actix_web::test]
async fn connections_the_database_ended_are_replaced_within_a_second() {
    let Some(app) = TestApp::spawn_if_configured(Backend::Postgres).await else {
        return;
    };
    for _ in 0..4 {
        assert_eq!(
            app.get("/api/v1/organisations").await.status,
            StatusCode::OK
        );
    }
    app.db.terminate_connections();
    let ended = Instant::now();
    let mut seen = Vec::new();
    loop {
        let started = Instant::now();
        let response = app.get("/api/v1/organisations").await;
        seen.push(response.status.as_u16());
        if response.status == StatusCode::OK {
            break;
        }
        assert_unavailable(&response, started.elapsed());
        assert!(
            ended.elapsed() < Duration::from_secs(3),
            "answers since: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for _ in 0..8 {
        assert_eq!(
            app.get("/api/v1/organisations").await.status,
            StatusCode::OK,
            "{seen:?}"
        );
    }
}

#[actix_web::test]
async fn a_database_that_is_not_there_gives_503_quickly() {
    let port = StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = DatabaseUrl::Postgres(format!("postgres://postgres@127.0.0.1:{port}/nothing"));
    let app = TestApp::serve(
        Database::connect_lazily(&dead, 2),
        TestDatabase::create(Backend::Sqlite),
    )
    .await;

    for path in ["/api/v1/organisations", "/health/ready"] {
        let started = Instant::now();
        let response = app.get(path).await;
        assert_unavailable(&response, started.elapsed());
    }
    let started = Instant::now();
    let response = app
        .post_json(
            "/api/v1/organisations",
            &json!({"name": "A", "kind": "other"}),
        )
        .await;
    assert_unavailable(&response, started.elapsed());
    assert_eq!(
        app.get("/health/live").await.status,
        StatusCode::OK,
        "the process is still up"
    );
}

#[actix_web::test]
async fn a_locked_sqlite_database_gives_503_then_recovers() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let DatabaseUrl::Sqlite(path) = &app.db.url else {
        unreachable!()
    };
    let mut writer = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    // The app may still be settling its own connections: wait for them, then hold the lock.
    writer
        .batch_execute("PRAGMA busy_timeout = 10000; BEGIN EXCLUSIVE;")
        .unwrap();

    let started = Instant::now();
    let response = app
        .post_json(
            "/api/v1/organisations",
            &json!({"name": "Blocked", "kind": "other"}),
        )
        .await;
    assert_unavailable(&response, started.elapsed());

    writer.batch_execute("ROLLBACK;").unwrap();
    app.create_organisation(&json!({"name": "After", "kind": "other"}))
        .await;
    let names: Vec<_> = app
        .list_all("")
        .await
        .iter()
        .map(|o| o["name"].clone())
        .collect();
    assert_eq!(
        names,
        [json!("After")],
        "the refused write left nothing behind"
    );
}

/// A TCP proxy in front of PostgreSQL that can cut every connection and refuse new ones,
/// standing in for a database server that stops and starts again.
struct Outage {
    port: u16,
    up: Arc<AtomicBool>,
    cut: Arc<Notify>,
}

impl Outage {
    fn start(target: u16) -> Self {
        let listener = StdListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let cut = Arc::new(Notify::new());
        let (thread_up, thread_cut) = (up.clone(), cut.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).unwrap();
                loop {
                    let Ok((mut client, _)) = listener.accept().await else {
                        continue;
                    };
                    if !thread_up.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    let cut = thread_cut.clone();
                    tokio::spawn(async move {
                        let Ok(mut server) = TcpStream::connect(("127.0.0.1", target)).await else {
                            return;
                        };
                        tokio::select! {
                            _ = copy_bidirectional(&mut client, &mut server) => {}
                            _ = cut.notified() => {}
                        }
                    });
                }
            });
        });
        Self { port, up, cut }
    }

    fn stop(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.notify_waiters();
    }

    fn resume(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[actix_web::test]
async fn postgres_going_away_gives_503_and_the_service_recovers_by_itself() {
    let Some(admin) = postgres_admin_url() else {
        eprintln!("note: TEST_DATABASE_URL is not set; skipping the PostgreSQL outage drill");
        return;
    };
    let target = admin
        .rsplit_once('@')
        .and_then(|(_, host)| host.split(['/', '?']).next())
        .and_then(|host| host.rsplit_once(':'))
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or(5432);
    let db = TestDatabase::create(Backend::Postgres);
    let outage = Outage::start(target);
    let database = convene::startup::open_database(&db.url_via_port(outage.port), 2).unwrap();
    let app = TestApp::serve(database, db).await;
    app.create_organisation(&json!({"name": "Before", "kind": "other"}))
        .await;

    outage.stop();
    for _ in 0..3 {
        let started = Instant::now();
        let response = app.get("/api/v1/organisations").await;
        assert_unavailable(&response, started.elapsed());
    }
    let started = Instant::now();
    assert_unavailable(&app.get("/health/ready").await, started.elapsed());

    outage.resume();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let response = app.get("/health/ready").await;
        if response.status == StatusCode::OK {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no recovery: {}",
            response.text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.create_organisation(&json!({"name": "After", "kind": "other"}))
        .await;
    assert_eq!(app.list_all("").await.len(), 2);
}

/// Four 12-date trends at once, on the smallest pool start-up picks by itself, while staff
/// sign in and read: the reports share half the pool among themselves, so sign-ins and reads
/// always find a connection, and a report that finds none is told to retry.
async fn reports_leave_connections_for_sign_ins_and_reads(backend: Backend) {
    let app = TestApp::spawn_with_pool(backend, MIN_DEFAULT_POOL_SIZE).await;
    {
        let mut conn = app.state.db.connection().unwrap();
        let options = DemoOptions {
            seed: 16,
            organisations: 3000,
            contacts: 3000,
        };
        convene::demo::fill(&mut conn, options).expect("a membership to report on");
    }
    let mut staff = Vec::new();
    for n in 0..4 {
        let email = format!("reader{n}@example.org");
        let body =
            json!({"email": email, "name": "Reader", "role": "viewer", "password": PASSWORD});
        assert_eq!(
            app.post_json("/api/v1/users", &body).await.status,
            StatusCode::CREATED
        );
        staff.push(email);
    }
    let trend = format!(
        "/api/v1/reports/composition/trend?{}",
        (2015..2027)
            .map(|year| format!("at={year}-03-31"))
            .collect::<Vec<_>>()
            .join("&")
    );
    let running = Arc::new(AtomicBool::new(true));
    let reports = futures_util::future::join_all((0..4).map(|_| app.get(&trend)));
    let reports = async {
        let answers = reports.await;
        running.store(false, Ordering::SeqCst);
        answers
    };
    // Each reader signs in and reads, again and again while the reports run (sign-ins are
    // limited to five a minute per account: four rounds at most).
    let readers = futures_util::future::join_all(staff.iter().map(|email| {
        let (app, running) = (&app, running.clone());
        async move {
            let mut answers = Vec::new();
            for _ in 0..4 {
                let started = Instant::now();
                let response = app
                    .as_anonymous()
                    .post_json(
                        "/api/v1/auth/login",
                        &json!({"email": email, "password": PASSWORD}),
                    )
                    .await;
                answers.push((
                    "sign-in",
                    response.status,
                    started.elapsed(),
                    response.text(),
                ));
                if response.status != StatusCode::OK {
                    continue;
                }
                let token = response.json()["access_token"].as_str().unwrap().to_owned();
                for path in ["/api/v1/organisations?limit=20", "/api/v1/expert-groups"] {
                    let started = Instant::now();
                    let response = app.as_(Some(&token)).get(path).await;
                    answers.push(("read", response.status, started.elapsed(), response.text()));
                }
                if !running.load(Ordering::SeqCst) {
                    break;
                }
            }
            answers
        }
    }));
    let (reports, readers) = futures_util::future::join(reports, readers).await;
    let interactive: Vec<_> = readers.into_iter().flatten().collect();
    for (what, status, took, body) in &interactive {
        assert_eq!(
            *status,
            StatusCode::OK,
            "a {what} failed after {took:?}: {body}"
        );
    }
    let mut done = 0;
    for report in &reports {
        if report.status == StatusCode::OK {
            assert_eq!(report.json()["compositions"].as_array().unwrap().len(), 12);
            done += 1;
        } else {
            let problem = report.problem(503);
            assert_eq!(problem["type"], "/problems/service-unavailable");
            assert!(
                report.header("retry-after").is_some(),
                "503 carries Retry-After"
            );
        }
    }
    // Half the pool is four connections: one for each report, none has to wait.
    assert_eq!(
        done, 4,
        "every report fits in the reports' half of the pool"
    );

    // With the reports' half taken, a fifth report is told to retry and staff are not.
    let mut taken = Vec::new();
    for _ in 0..MIN_DEFAULT_POOL_SIZE / 2 {
        taken.push(
            app.state
                .db
                .report_slot()
                .await
                .expect("a free report slot"),
        );
    }
    let started = Instant::now();
    let refused = app.get(&trend).await;
    assert_unavailable(&refused, started.elapsed());
    let signed_in = app
        .as_anonymous()
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": staff[0], "password": PASSWORD}),
        )
        .await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.text());
    assert_eq!(
        app.get("/api/v1/organisations?limit=20").await.status,
        StatusCode::OK
    );
    drop(taken);
    assert_eq!(app.get(&trend).await.status, StatusCode::OK);
}

mod reports_leave_connections_for_sign_ins_and_reads {
    use crate::helpers::{Backend, postgres_admin_url};

    #[actix_web::test]
    async fn sqlite() {
        super::reports_leave_connections_for_sign_ins_and_reads(Backend::Sqlite).await;
    }

    #[actix_web::test]
    async fn postgres() {
        if postgres_admin_url().is_none() {
            eprintln!("note: TEST_DATABASE_URL is not set; skipping the PostgreSQL run");
            return;
        }
        super::reports_leave_connections_for_sign_ins_and_reads(Backend::Postgres).await;
    }
}

/// Another connection holding what writers need: on SQLite the write lock (`BEGIN
/// IMMEDIATE`); on PostgreSQL the tables a read writes on the side, locked against writes
/// but not reads. Released on drop.
enum WriteLock {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

impl WriteLock {
    fn hold(url: &DatabaseUrl) -> Self {
        match url {
            DatabaseUrl::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
                conn.batch_execute("PRAGMA busy_timeout = 10000; BEGIN IMMEDIATE;")
                    .unwrap();
                Self::Sqlite(conn)
            }
            DatabaseUrl::Postgres(url) => {
                let mut conn = PgConnection::establish(url).unwrap();
                conn.batch_execute("BEGIN; LOCK TABLE api_keys, audit_events IN EXCLUSIVE MODE;")
                    .unwrap();
                Self::Postgres(conn)
            }
        }
    }

    fn release(self) {
        match self {
            Self::Sqlite(mut conn) => conn.batch_execute("ROLLBACK;").unwrap(),
            Self::Postgres(mut conn) => conn.batch_execute("ROLLBACK;").unwrap(),
        }
    }
}

db_test!(
    async fn a_webhook_sender_with_nothing_due_never_waits_for_the_writer(app) {
        // Once a second the sender looks for work: finding none must not take (or wait for)
        // the write lock that a long import holds.
        let lock = WriteLock::hold(&app.db.url);
        let started = Instant::now();
        let sent = convene::api::webhooks::sender::send_due(&app.state, convene::domain::now());
        assert_eq!(sent.unwrap(), 0);
        assert!(started.elapsed() < Duration::from_millis(800), "waited {:?}", started.elapsed());
        lock.release();
    }
);

db_test!(
    async fn reads_go_on_while_another_writer_holds_the_database(app) {
        let body = json!({"given_name": "Zebediah", "family_name": "Locke"});
        let created = app.post_json("/api/v1/contacts", &body).await;
        assert_eq!(created.status, StatusCode::CREATED);
        let contact_id = created.json()["id"].as_str().unwrap().to_owned();
        let key = app.api_key(&["contacts:read", "organisations:read"]).await;

        let lock = WriteLock::hold(&app.db.url);
        let held_at = chrono::Utc::now();
        // A key that has never been used has its last use to write: it is skipped, not
        // waited for.
        for _ in 0..2 {
            for path in ["/api/v1/contacts", "/api/v1/organisations"] {
                let started = Instant::now();
                let response = app.as_(Some(&key)).get(path).await;
                assert_eq!(response.status, StatusCode::OK, "{path}: {}", response.text());
                assert!(started.elapsed() < Duration::from_millis(800), "{path} waited {:?}", started.elapsed());
            }
        }
        // A contact list taken as CSV goes out at once, by a key and by staff.
        let mut exports = Vec::new();
        for caller in [app.as_(Some(&key)), app.as_admin()] {
            let request = caller.request(Method::GET, "/api/v1/contacts").insert_header(("accept", "text/csv"));
            let started = Instant::now();
            let csv = caller.send(request, None).await;
            assert_eq!(csv.status, StatusCode::OK, "{}", csv.text());
            assert!(csv.text().contains("Zebediah"), "{}", csv.text());
            assert!(started.elapsed() < Duration::from_millis(800), "the export waited {:?}", started.elapsed());
            exports.push(csv.header("x-request-id").unwrap());
        }
        // So does a subject access export.
        let started = Instant::now();
        let export = app.get(&format!("/api/v1/contacts/{contact_id}/export")).await;
        assert_eq!(export.status, StatusCode::OK, "{}", export.text());
        assert!(started.elapsed() < Duration::from_millis(800), "the export waited {:?}", started.elapsed());
        exports.push(export.header("x-request-id").unwrap());
        tokio::time::sleep(Duration::from_millis(300)).await;
        lock.release();

        // Each export is recorded once the database is free, with the time it was taken.
        let deadline = Instant::now() + Duration::from_secs(10);
        for request_id in &exports {
            let events = loop {
                let events = app.get(&format!("/api/v1/audit-events?request_id={request_id}")).await.json()["data"].clone();
                if events.as_array().is_some_and(|events| !events.is_empty()) || Instant::now() > deadline {
                    break events;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            let events = events.as_array().unwrap();
            assert_eq!(events.len(), 1, "{events:?}");
            assert_eq!((events[0]["action"].as_str(), events[0]["entity_type"].as_str()), (Some("export"), Some("contact")));
            let occurred: chrono::DateTime<chrono::Utc> = events[0]["occurred_at"].as_str().unwrap().parse().unwrap();
            assert!(occurred >= held_at - chrono::TimeDelta::seconds(1) && occurred < held_at + chrono::TimeDelta::seconds(2), "{occurred} vs {held_at}");
        }
        // With the lock gone, the key's next use is noted.
        assert_eq!(app.as_(Some(&key)).get("/api/v1/organisations").await.status, StatusCode::OK);
        let keys = app.get("/api/v1/api-keys").await.json();
        assert!(keys["data"][0]["last_used_at"].is_string(), "{keys}");
    }
);
