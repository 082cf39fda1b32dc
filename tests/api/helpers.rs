//! `TestApp`: a real server on a random port over a database of its own, on SQLite or on
//! PostgreSQL (when `TEST_DATABASE_URL` is set). Each test's database is dropped at the end.

use std::path::PathBuf;

use actix_web::http::{Method, StatusCode, header::HeaderMap};
use actix_web::web;
use convene::app::build_app;
use convene::auth::Role;
use convene::config::{Config, DatabaseUrl, Secret};
use convene::db::Database;
use convene::startup;
use convene::state::AppState;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use serde_json::Value;

pub const TEST_DATABASE_URL: &str = "TEST_DATABASE_URL";
/// The signing key of every test server, so tests can forge tokens for the attack set.
pub const JWT_SECRET: &str = "test-signing-key-of-at-least-32-bytes-0123456789";
pub const ADMIN_EMAIL: &str = "admin@example.org";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";
/// A password every test account may use: long and not a common one.
pub const PASSWORD: &str = "copper kettle moorland 42";

/// The configuration of every test server.
pub fn test_config() -> Config {
    Config::from_lookup(|name| {
        match name {
            "JWT_SECRET" => Some(JWT_SECRET),
            "CONVENE_ADMIN_EMAIL" => Some(ADMIN_EMAIL),
            "CONVENE_ADMIN_PASSWORD" => Some(ADMIN_PASSWORD),
            "CORS_ORIGINS" => Some("https://admin.example.org"),
            // Small, so the import limit can be tested without a huge body.
            "IMPORT_BODY_LIMIT_MIB" => Some("2"),
            // The tests' webhook receivers listen on loopback.
            "WEBHOOK_ALLOW_PRIVATE_TARGETS" => Some("true"),
            _ => None,
        }
        .map(str::to_owned)
    })
    .expect("the test configuration is valid")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body once on SQLite and once on PostgreSQL (skipped, with a note, when
/// `TEST_DATABASE_URL` is not set; CI always sets it).
#[macro_export]
macro_rules! db_test {
    ($(#[$meta:meta])* async fn $name:ident($app:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[actix_web::test]
            async fn sqlite() {
                let $app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite).await;
                $body
            }

            #[actix_web::test]
            async fn postgres() {
                let Some($app) =
                    $crate::helpers::TestApp::spawn_if_configured($crate::helpers::Backend::Postgres).await
                else {
                    return;
                };
                $body
            }
        }
    };
}

/// A database made for one test and removed after it.
pub struct TestDatabase {
    pub url: DatabaseUrl,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    pub fn create(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary folder");
                let path: PathBuf = dir.path().join("data").join("convene.db");
                Self {
                    url: DatabaseUrl::Sqlite(path),
                    _dir: Some(dir),
                    postgres: None,
                }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url().expect("TEST_DATABASE_URL is set");
                let name = format!("convene_test_{}", uuid::Uuid::now_v7().simple());
                let mut conn = PgConnection::establish(&admin).unwrap_or_else(|error| {
                    panic!("TEST_DATABASE_URL is set but PostgreSQL cannot be reached: {error}")
                });
                conn.batch_execute(&format!("CREATE DATABASE \"{name}\""))
                    .expect("create the test database");
                Self {
                    url: DatabaseUrl::Postgres(with_database(&admin, &name)),
                    _dir: None,
                    postgres: Some((admin, name)),
                }
            }
        }
    }

    /// Ends every connection to this PostgreSQL database, as a restart or failover would.
    pub fn terminate_connections(&self) {
        let (admin, name) = self.postgres.as_ref().expect("a PostgreSQL test database");
        let mut conn = PgConnection::establish(admin).expect("the admin connection");
        conn.batch_execute(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        ))
        .expect("the connections end");
    }

    /// The same database reached through another address (e.g. a proxy on `port`).
    pub fn url_via_port(&self, port: u16) -> DatabaseUrl {
        let (_, name) = self.postgres.as_ref().expect("a PostgreSQL test database");
        DatabaseUrl::Postgres(format!("postgres://postgres@127.0.0.1:{port}/{name}"))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.postgres
            && let Ok(mut conn) = PgConnection::establish(admin)
        {
            let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            let _ = conn.batch_execute(&drop);
        }
    }
}

/// The PostgreSQL server tests make their databases on, when configured. CI sets
/// CONVENE_REQUIRE_POSTGRES so that a lost URL fails every test that would skip PostgreSQL.
pub fn postgres_admin_url() -> Option<String> {
    let url = std::env::var(TEST_DATABASE_URL)
        .ok()
        .filter(|url| !url.trim().is_empty());
    assert!(
        url.is_some() || std::env::var_os("CONVENE_REQUIRE_POSTGRES").is_none(),
        "CONVENE_REQUIRE_POSTGRES is set but {TEST_DATABASE_URL} is not"
    );
    url
}

/// `postgres://u@h:p/db?x` with its database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let root = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    format!("{root}/{name}{query}")
}

pub struct TestApp {
    pub server: actix_test::TestServer,
    pub db: TestDatabase,
    pub state: web::Data<AppState>,
    /// The first admin's access token: what `get`, `post_json` and friends send.
    pub admin_token: String,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with_pool(backend, 4).await
    }

    /// A server whose pool holds `pool_size` connections.
    pub async fn spawn_with_pool(backend: Backend, pool_size: u32) -> Self {
        let db = TestDatabase::create(backend);
        let database = startup::open_database(&db.url, pool_size).expect("the test database opens");
        Self::serve(database, db).await
    }

    pub async fn spawn_if_configured(backend: Backend) -> Option<Self> {
        if backend == Backend::Postgres && postgres_admin_url().is_none() {
            eprintln!("note: {TEST_DATABASE_URL} is not set; skipping the PostgreSQL run");
            return None;
        }
        Some(Self::spawn(backend).await)
    }

    /// A server over an already-built pool (e.g. one pointing at a dead database). When the
    /// database is there, the first admin is created and signed in; when it is not, the
    /// admin token is a well-signed token for a session nobody can look up.
    pub async fn serve(database: Database, db: TestDatabase) -> Self {
        let config = test_config();
        let reachable = match database.connection() {
            Ok(mut conn) => {
                startup::ensure_admin(&mut conn, &config.auth).expect("the first admin");
                true
            }
            Err(_) => false,
        };
        let state = web::Data::new(AppState::new(database, &config, &Secret::new(JWT_SECRET)));
        let server_state = state.clone();
        let server = actix_test::start(move || build_app(server_state.clone()));
        let mut app = Self {
            server,
            db,
            admin_token: String::new(),
            state,
        };
        app.admin_token = if reachable {
            app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await["access_token"]
                .as_str()
                .expect("an access token")
                .to_owned()
        } else {
            let tokens = &app.state.auth.tokens;
            tokens
                .access("nobody", Role::Admin, "no-session")
                .unwrap()
                .token
        };
        app
    }

    /// Another instance of the service on the same database, as behind a load balancer: its
    /// own pool, state (limiter, caches) and server.
    pub fn second_instance(&self) -> Instance {
        let database = Database::connect(&self.db.url, 4).expect("a second pool");
        let state = web::Data::new(AppState::new(
            database,
            &test_config(),
            &Secret::new(JWT_SECRET),
        ));
        let server_state = state.clone();
        let server = actix_test::start(move || build_app(server_state.clone()));
        Instance { server, state }
    }

    /// Signs in and returns the token response, failing the test otherwise.
    pub async fn sign_in(&self, email: &str, password: &str) -> Value {
        let response = self
            .as_anonymous()
            .post_json(
                "/api/v1/auth/login",
                &serde_json::json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        response.json()
    }

    /// Creates an account with `role` (and `PASSWORD`) as the admin; returns its email and
    /// a signed-in access token.
    pub async fn account(&self, role: &str) -> (String, String) {
        let email = format!("{role}-{}@example.org", uuid::Uuid::now_v7().simple());
        let body = serde_json::json!({"email": email, "name": "Test User", "role": role, "password": PASSWORD});
        let response = self.post_json("/api/v1/users", &body).await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
        let token = self.sign_in(&email, PASSWORD).await["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned();
        (email, token)
    }

    /// An access token of a new account with `role`.
    pub async fn token_for(&self, role: &str) -> String {
        self.account(role).await.1
    }

    /// Creates an API key with `scopes` as the admin and returns the key.
    pub async fn api_key(&self, scopes: &[&str]) -> String {
        let body = serde_json::json!({"name": "Test integration", "scopes": scopes});
        let response = self.post_json("/api/v1/api-keys", &body).await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
        response.json()["key"].as_str().expect("a key").to_owned()
    }

    /// Requests made with `credential` (`None`: no Authorization header).
    pub fn as_(&self, credential: Option<&str>) -> Caller<'_> {
        Caller {
            app: self,
            credential: credential.map(str::to_owned),
        }
    }

    pub fn as_anonymous(&self) -> Caller<'_> {
        self.as_(None)
    }

    /// Requests as the first admin: what the shortcuts below send.
    pub fn as_admin(&self) -> Caller<'_> {
        self.as_(Some(&self.admin_token))
    }

    pub fn request(&self, method: Method, path: &str) -> awc::ClientRequest {
        self.as_admin().request(method, path)
    }

    pub async fn send(&self, request: awc::ClientRequest, body: Option<Vec<u8>>) -> TestResponse {
        self.as_admin().send(request, body).await
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.as_admin().get(path).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> TestResponse {
        self.as_admin().post_json(path, body).await
    }

    pub async fn patch_json(
        &self,
        path: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> TestResponse {
        self.as_admin().patch_json(path, body, if_match).await
    }

    pub async fn delete(&self, path: &str, if_match: Option<&str>) -> TestResponse {
        self.as_admin().delete(path, if_match).await
    }

    /// Creates an organisation from `body` and returns it, failing the test otherwise.
    pub async fn create_organisation(&self, body: &Value) -> Value {
        let response = self.post_json("/api/v1/organisations", body).await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
        response.json()
    }

    /// Every organisation the list returns for `query`, following `next_cursor` to the end.
    pub async fn list_all(&self, query: &str) -> Vec<Value> {
        let mut found = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/api/v1/organisations?{query}");
            if let Some(cursor) = &cursor {
                path.push_str(&format!("&cursor={cursor}"));
            }
            let response = self.get(&path).await;
            assert_eq!(response.status, StatusCode::OK, "{}", response.text());
            let page = response.json();
            found.extend(page["data"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return found,
            }
        }
    }
}

/// A second instance of a `TestApp`'s service (`TestApp::second_instance`).
pub struct Instance {
    pub server: actix_test::TestServer,
    pub state: web::Data<AppState>,
}

/// Requests to a `TestApp` with one credential.
pub struct Caller<'a> {
    app: &'a TestApp,
    credential: Option<String>,
}

impl Caller<'_> {
    pub fn request(&self, method: Method, path: &str) -> awc::ClientRequest {
        let request = self
            .app
            .server
            .request(method, self.app.server.url(path))
            .timeout(std::time::Duration::from_secs(30));
        match &self.credential {
            Some(credential) => {
                request.insert_header(("authorization", format!("Bearer {credential}")))
            }
            None => request,
        }
    }

    pub async fn send(&self, request: awc::ClientRequest, body: Option<Vec<u8>>) -> TestResponse {
        let mut response = match body {
            Some(body) => request.send_body(body).await,
            None => request.send().await,
        }
        .expect("the request reaches the server");
        let body = response
            .body()
            .limit(64 * 1024 * 1024)
            .await
            .expect("the body can be read");
        TestResponse {
            status: response.status(),
            headers: response.headers().clone(),
            body: body.to_vec(),
        }
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(self.request(Method::GET, path), None).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> TestResponse {
        let request = self
            .request(Method::POST, path)
            .insert_header(("content-type", "application/json"));
        self.send(request, Some(body.to_string().into_bytes()))
            .await
    }

    pub async fn patch_json(
        &self,
        path: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> TestResponse {
        let mut request = self
            .request(Method::PATCH, path)
            .insert_header(("content-type", "application/merge-patch+json"));
        if let Some(tag) = if_match {
            request = request.insert_header(("if-match", tag));
        }
        self.send(request, Some(body.to_string().into_bytes()))
            .await
    }

    pub async fn delete(&self, path: &str, if_match: Option<&str>) -> TestResponse {
        let mut request = self.request(Method::DELETE, path);
        if let Some(tag) = if_match {
            request = request.insert_header(("if-match", tag));
        }
        self.send(request, None).await
    }
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl TestResponse {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("a JSON body, got {:?}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    }

    /// Asserts an RFC 9457 problem with this status and returns it.
    #[track_caller]
    pub fn problem(&self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.text());
        assert_eq!(
            self.header("content-type").as_deref(),
            Some("application/problem+json"),
            "{}",
            self.text()
        );
        let problem = self.json();
        assert_eq!(problem["status"], status);
        assert!(
            problem["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("/problems/"))
        );
        assert!(problem["title"].is_string() && problem["detail"].is_string());
        assert!(problem["instance"].is_string());
        problem
    }

    /// The `field`s of a problem's `errors`.
    pub fn error_fields(&self) -> Vec<String> {
        self.json()["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|e| e["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A realistic organisation, with `name` replaced.
pub fn organisation(name: &str) -> Value {
    serde_json::json!({
        "name": name,
        "kind": "grassroots_group",
        "size_band": "small",
        "website": "https://northside.example.org",
        "email": "hello@northside.example.org",
        "postcode": "m1 1ae",
        "description": "Young people with lived experience speaking to decision-makers.",
        "geography_scope": "regional",
        "regions": ["north_west"],
        "expertise": ["participation_voice", "racial_justice"],
        "leadership": {"reply_status": "answered", "communities": ["DEI010110", "EXT020000"]},
        "mission": {"reply_status": "answered", "communities": ["DEI070200"]},
        "lived_experience_led": true
    })
}
