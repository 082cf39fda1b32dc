//! When the database goes away or is locked, requests get a quick 503 with `Retry-After`,
//! readiness turns 503, and the service recovers by itself when the database is back.

use std::net::TcpListener as StdListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use convene::config::DatabaseUrl;
use convene::db::Database;
use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use serde_json::json;
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use crate::helpers::{Backend, TestApp, TestDatabase, TestResponse, postgres_admin_url};

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
    let database = Database::connect(&db.url_via_port(outage.port), 2).unwrap();
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
