//! Start-up through the real binary: a bad setting stops it with one line and exit status 2
//! before anything is created, and a taken port is reported without claiming to listen.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use convene::config::DatabaseUrl;
use diesel::dsl::sql;
use diesel::sql_types::BigInt;
use diesel::{Connection, PgConnection, RunQueryDsl};

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, JWT_SECRET, TestDatabase};

/// Runs a test once on SQLite and once on PostgreSQL (when `TEST_DATABASE_URL` is set).
macro_rules! both_databases {
    ($name:ident) => {
        mod $name {
            use crate::helpers::{Backend, postgres_admin_url};

            #[test]
            fn sqlite() {
                super::$name(Backend::Sqlite);
            }

            #[test]
            fn postgres() {
                if postgres_admin_url().is_none() {
                    eprintln!("note: TEST_DATABASE_URL is not set; skipping the PostgreSQL run");
                    return;
                }
                super::$name(Backend::Postgres);
            }
        }
    };
}

/// A folder to start `convene` in, and the database it is pointed at: a SQLite file inside
/// the folder, or a new, empty PostgreSQL database.
struct Start {
    dir: tempfile::TempDir,
    db: TestDatabase,
    url: String,
}

impl Start {
    fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = TestDatabase::create(backend);
        let url = match &db.url {
            DatabaseUrl::Sqlite(_) => {
                format!("sqlite://{}", dir.path().join("data/c.db").display())
            }
            DatabaseUrl::Postgres(url) => url.clone(),
        };
        Self { dir, db, url }
    }

    /// `convene serve` with `env` on top of a good configuration without `JWT_SECRET` (so a
    /// key file would be written), on a port of its choosing.
    fn command(&self, env: &[(&str, &str)]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_convene"));
        command
            .arg("serve")
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DATABASE_URL", &self.url)
            .env("BIND", "127.0.0.1:0")
            .env("CONVENE_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("CONVENE_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", "info");
        for (name, value) in env {
            command.env(name, value);
        }
        command
    }

    /// `command(env)`, stopped after `limit` if it is still running.
    fn serve(&self, env: &[(&str, &str)], limit: Duration) -> (Output, bool) {
        let mut child = self
            .command(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the convene binary runs");
        let deadline = Instant::now() + limit;
        let mut stopped = true;
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                child.kill().unwrap();
                stopped = false;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        (child.wait_with_output().unwrap(), stopped)
    }

    /// Names of what is in the folder, and the tables in the PostgreSQL database.
    fn created(&self) -> Vec<String> {
        let mut found: Vec<String> = walk(self.dir.path());
        if let DatabaseUrl::Postgres(url) = &self.db.url {
            let mut conn = PgConnection::establish(url).unwrap();
            let tables: i64 = diesel::select(sql::<BigInt>(
                "(SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public')",
            ))
            .get_result(&mut conn)
            .unwrap();
            if tables > 0 {
                found.push(format!("{tables} tables"));
            }
        }
        found
    }
}

fn walk(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flat_map(|entry| {
            let path = entry.unwrap().path();
            let mut names = vec![path.display().to_string()];
            if path.is_dir() {
                names.extend(walk(&path));
            }
            names
        })
        .collect()
}

fn bad_settings_stop_start_up_before_anything_is_created(backend: Backend) {
    let bad: &[(&str, &[(&str, &str)])] = &[
        (
            "CONVENE_ADMIN_EMAIL",
            &[("CONVENE_ADMIN_EMAIL", "notanemail")],
        ),
        (
            "CONVENE_ADMIN_PASSWORD",
            &[("CONVENE_ADMIN_PASSWORD", "short")],
        ),
        // Weak only in view of the email: the rule needs both.
        (
            "CONVENE_ADMIN_PASSWORD",
            &[("CONVENE_ADMIN_PASSWORD", "admin-of-everything-42")],
        ),
        (
            "CORS_ORIGINS",
            &[("CORS_ORIGINS", "https://admin example.org")],
        ),
        (
            "CORS_ORIGINS",
            &[("CORS_ORIGINS", "https://admin.example.org/app")],
        ),
        ("DATABASE_POOL_SIZE", &[("DATABASE_POOL_SIZE", "0")]),
    ];
    for (variable, env) in bad {
        let start = Start::new(backend);
        let (output, stopped) = start.serve(env, Duration::from_secs(20));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stopped,
            "{env:?} was accepted: the service started\n{stderr}"
        );
        assert_eq!(output.status.code(), Some(2), "{env:?}: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{env:?}: one line, got {stderr}");
        assert!(
            lines[0].starts_with(&format!("convene: configuration error: {variable} ")),
            "{env:?}: {stderr}"
        );
        for (_, value) in *env {
            if variable.contains("PASSWORD") {
                assert!(
                    !stderr.contains(value),
                    "the password was printed: {stderr}"
                );
            }
        }
        assert_eq!(
            start.created(),
            Vec::<String>::new(),
            "{env:?} created these"
        );
    }
}

both_databases!(bad_settings_stop_start_up_before_anything_is_created);

fn a_taken_port_is_reported_and_never_said_to_be_listened_on(backend: Backend) {
    let start = Start::new(backend);
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let (output, stopped) = start.serve(
        &[("BIND", address.as_str()), ("JWT_SECRET", JWT_SECRET)],
        Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stopped, "still running on a taken port\n{stderr}");
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("convene: cannot listen on {address}: ")),
        "{stderr}"
    );
    assert!(!stderr.contains("listening on"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    drop(taken);
}

both_databases!(a_taken_port_is_reported_and_never_said_to_be_listened_on);

/// `convene serve` running until dropped, and the address it said it listens on.
struct Running {
    child: std::process::Child,
    address: String,
    _start: Start,
}

impl Running {
    fn start(backend: Backend) -> Self {
        use std::io::BufRead;
        let start = Start::new(backend);
        let mut child = start
            .command(&[("JWT_SECRET", JWT_SECRET)])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the convene binary runs");
        let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let (found, said) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let address = rest.split(' ').next().unwrap_or_default().to_string();
                    let _ = found.send(address);
                }
            }
        });
        let address = said
            .recv_timeout(Duration::from_secs(60))
            .expect("the service says where it listens");
        Self {
            child,
            address,
            _start: start,
        }
    }

    /// Sends `requests` on one connection, closing it after the last, and returns every
    /// response read until the server closed it: (status, lowercased head, body).
    fn exchange(&self, requests: &[Vec<u8>]) -> Vec<(u16, String, String)> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&self.address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        for request in requests {
            stream.write_all(request).unwrap();
        }
        let mut received = Vec::new();
        let _ = stream.read_to_end(&mut received);
        let mut responses = Vec::new();
        let mut rest = received.as_slice();
        while let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&rest[..end]).to_lowercase();
            let status = head[9..12].parse().unwrap();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length: "))
                .map_or(0, |value| value.trim().parse().unwrap());
            let body = String::from_utf8_lossy(&rest[end + 4..end + 4 + length]).to_string();
            responses.push((status, head, body));
            rest = &rest[end + 4 + length..];
        }
        responses
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Past the HTTP parser's own 64 KiB, a target still gets the service's 414 problem (actix
/// alone answers a bare 400), and the connection goes on to the next request; a body is
/// never taken for a request line.
fn a_uri_too_long_for_the_parser_is_a_414_problem(backend: Backend) {
    let running = Running::start(backend);
    let long = |size: usize| {
        format!(
            "GET /api/v1/organisations?q={} HTTP/1.1\r\nHost: convene\r\n\r\n",
            "a".repeat(size)
        )
        .into_bytes()
    };
    let body = format!("GET /{} HTTP/1.1\r\n", "b".repeat(100 * 1024));
    let chunked_body = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: convene\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    let last = b"GET /health/live HTTP/1.1\r\nHost: convene\r\nConnection: close\r\n\r\n".to_vec();
    let responses = running.exchange(&[
        long(70 * 1024),
        long(1024 * 1024),
        chunked_body.into_bytes(),
        long(20 * 1024),
        last,
    ]);
    let statuses: Vec<u16> = responses.iter().map(|(status, ..)| *status).collect();
    assert_eq!(statuses, [414, 414, 400, 414, 200], "{responses:?}");
    for (_, head, body) in &responses[..2] {
        assert!(
            head.contains("content-type: application/problem+json"),
            "{head}"
        );
        assert!(head.contains("x-request-id: "), "{head}");
        assert!(head.contains("x-content-type-options: nosniff"), "{head}");
        let problem: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["type"], "/problems/uri-too-long", "{problem}");
        assert!(problem["request_id"].is_string(), "{problem}");
    }
}

both_databases!(a_uri_too_long_for_the_parser_is_a_414_problem);
