//! The real `convene` binary, for tests that start, stop, kill and restart it: a folder and
//! database to start it on, the process while it runs, and a small blocking HTTP client.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use convene::config::DatabaseUrl;
use diesel::dsl::sql;
use diesel::sql_types::BigInt;
use diesel::{Connection, PgConnection, RunQueryDsl};
use serde_json::Value;

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, JWT_SECRET, TestDatabase};

/// Runs a test once on SQLite and once on PostgreSQL (when `TEST_DATABASE_URL` is set).
#[macro_export]
macro_rules! both_databases {
    ($name:ident) => {
        mod $name {
            use $crate::helpers::{Backend, postgres_admin_url};

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
pub struct Start {
    dir: tempfile::TempDir,
    db: TestDatabase,
    url: String,
}

impl Start {
    pub fn new(backend: Backend) -> Self {
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
    pub fn command(&self, env: &[(&str, &str)]) -> Command {
        self.command_at(None, env)
    }

    /// `command(env)`, with its clock moved by `clock` (e.g. "+40d") when one is given.
    pub fn command_at(&self, clock: Option<&str>, env: &[(&str, &str)]) -> Command {
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
        if let Some(clock) = clock {
            // libfaketime loaded into the binary itself (the `faketime` program would run it
            // as its child, out of reach of a kill). Only the wall clock moves: timers and
            // timeouts keep real time.
            command
                .env("LD_PRELOAD", libfaketime())
                .env("FAKETIME", clock)
                .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
        }
        for (name, value) in env {
            command.env(name, value);
        }
        command
    }

    /// `command(env)`, stopped after `limit` if it is still running.
    pub fn serve(&self, env: &[(&str, &str)], limit: Duration) -> (Output, bool) {
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
    pub fn created(&self) -> Vec<String> {
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

/// Where Debian's `faketime` package puts the library that moves a program's clock.
fn libfaketime() -> std::path::PathBuf {
    let folders = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .chain([std::path::PathBuf::from("/usr/local/lib")]);
    folders
        .map(|folder| folder.join("faketime/libfaketime.so.1"))
        .find(|library| library.is_file())
        .expect("these tests move the clock with libfaketime (Debian: apt-get install faketime)")
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

/// `convene serve` running until dropped or killed, the address it said it listens on, and
/// what it has written to standard error.
pub struct Running {
    child: std::process::Child,
    pub address: String,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Running {
    /// Starts `convene serve` on `start`'s folder and database, with the tests' `JWT_SECRET`
    /// and `env`; with a `clock` such as "+40d", as if started that much later.
    pub fn start(start: &Start, env: &[(&str, &str)], clock: Option<&str>) -> Self {
        use std::io::BufRead;
        let mut env = env.to_vec();
        env.push(("JWT_SECRET", JWT_SECRET));
        let mut child = start
            .command_at(clock, &env)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the convene binary runs");
        let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (found, said) = std::sync::mpsc::channel();
        let written = log.clone();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let address = rest.split(' ').next().unwrap_or_default().to_string();
                    let _ = found.send(address);
                }
                let mut log = written.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let Ok(address) = said.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            panic!(
                "the service did not say where it listens:\n{}",
                log.lock().unwrap()
            );
        };
        Self {
            child,
            address,
            log,
        }
    }

    /// What the service has written to standard error so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Kills the process with SIGKILL, as an out-of-memory killer or a pulled plug would: no
    /// clean-up of any kind runs.
    pub fn kill(&mut self) {
        use std::os::unix::process::ExitStatusExt;
        self.child.kill().expect("the service is still running");
        let status = self.child.wait().unwrap();
        assert_eq!(status.signal(), Some(9), "{status:?}");
    }

    /// `method path` (under /api/v1) with a bearer `token` and a JSON `body`: the status and
    /// the answer's JSON (null when it has none).
    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut request = ureq::request(method, &format!("http://{}/api/v1{path}", self.address))
            .timeout(Duration::from_secs(30));
        if let Some(token) = token {
            request = request.set("authorization", &format!("Bearer {token}"));
        }
        let answer = match body {
            Some(body) => request
                .set("content-type", "application/json")
                .send_string(&body.to_string()),
            None => request.call(),
        };
        let response = match answer {
            Ok(response) | Err(ureq::Error::Status(_, response)) => response,
            Err(error) => panic!("{method} {path}: {error}\n{}", self.log()),
        };
        let status = response.status();
        let text = response.into_string().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Signs in as the first admin and returns an access token.
    pub fn sign_in(&self) -> String {
        let credentials = serde_json::json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD});
        let (status, answer) = self.call("POST", "/auth/login", None, Some(&credentials));
        assert_eq!(status, 200, "{answer}");
        answer["access_token"].as_str().unwrap().to_owned()
    }

    /// Sends `requests` on one connection, closing it after the last, and returns every
    /// response read until the server closed it: (status, lowercased head, body).
    pub fn exchange(&self, requests: &[Vec<u8>]) -> Vec<(u16, String, String)> {
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
