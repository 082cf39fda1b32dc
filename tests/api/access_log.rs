//! What the service logs: the access log names query parameters but never holds their values,
//! so a search for a person does not outlive that person's erasure.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use serde_json::json;

use crate::db_test;
use crate::helpers::TestApp;

/// Every log line of the test binary, from the moment a test installs the capture.
struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            let line = format!("{} {}: {}", record.level(), record.target(), record.args());
            self.0.lock().unwrap().push(line);
        }
    }

    fn flush(&self) {}
}

static CAPTURE: OnceLock<&'static Capture> = OnceLock::new();

fn capture() -> &'static Capture {
    CAPTURE.get_or_init(|| {
        let capture: &'static Capture = Box::leak(Box::new(Capture(Mutex::new(Vec::new()))));
        log::set_logger(capture).expect("no other logger in the test binary");
        log::set_max_level(log::LevelFilter::Info);
        capture
    })
}

/// The lines logged so far that mention `needle`.
fn lines_with(needle: &str) -> Vec<String> {
    let needle = needle.to_lowercase();
    capture()
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|line| line.to_lowercase().contains(&needle))
        .cloned()
        .collect()
}

/// The access line of the request with `id`, once the logger has written it (it does when
/// the answer's body is done, which can be just after the client has read it).
async fn access_line(id: &str) -> String {
    for _ in 0..100 {
        let found: Vec<String> = lines_with(&format!("request_id={id}"))
            .into_iter()
            .filter(|line| line.contains("actix_web::middleware::logger"))
            .collect();
        if let Some(line) = found.first() {
            return line.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no access line for request {id}");
}

async fn get_as(app: &TestApp, path: &str, request_id: &str, accept: &str) -> StatusCode {
    let request = app
        .request(Method::GET, path)
        .insert_header(("x-request-id", request_id))
        .insert_header(("accept", accept));
    app.send(request, None).await.status
}

db_test!(
    async fn the_access_log_never_holds_a_query_value(app) {
        capture();
        let tag = uuid::Uuid::now_v7().simple().to_string();
        let family = format!("Zyxlog{}", &tag[20..]);
        let email = format!("ada.{tag}@example.org");
        let response = app
            .post_json(
                "/api/v1/contacts",
                &json!({"given_name": "Ada", "family_name": family, "email": email}),
            )
            .await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());

        let encoded = email.replace('@', "%40");
        let searches = [
            (format!("/api/v1/contacts?q={encoded}"), "application/json", StatusCode::OK),
            (format!("/api/v1/contacts?q={family}&sort=name"), "text/csv", StatusCode::OK),
            // Refused: an unknown parameter named after the person, and a bad value.
            (format!("/api/v1/contacts?{email}=1&q={family}"), "application/json", StatusCode::BAD_REQUEST),
            (format!("/api/v1/contacts?q={family}&limit={encoded}"), "application/json", StatusCode::BAD_REQUEST),
        ];
        // Request ids of their own, so that a line holding `tag` can only have it from a value.
        let run = uuid::Uuid::now_v7().to_string();
        let mut ids = Vec::new();
        for (number, (path, accept, status)) in searches.iter().enumerate() {
            let id = format!("log-{run}-{number}");
            assert_eq!(get_as(&app, path, &id, accept).await, *status, "{path}");
            ids.push(id);
        }
        let mut lines = Vec::new();
        for id in &ids {
            lines.push(access_line(id).await);
        }
        assert!(lines[0].contains("\"GET /api/v1/contacts?q HTTP/1.1\" 200"), "{}", lines[0]);
        assert!(lines[1].contains("\"GET /api/v1/contacts?q&sort HTTP/1.1\" 200"), "{}", lines[1]);
        assert!(lines[2].contains("\"GET /api/v1/contacts?*&q HTTP/1.1\" 400"), "{}", lines[2]);
        assert!(lines[3].contains("\"GET /api/v1/contacts?q&limit HTTP/1.1\" 400"), "{}", lines[3]);
        // Nothing the service logged, access log or otherwise, holds the name or the email.
        for needle in [family.as_str(), email.as_str(), encoded.as_str(), tag.as_str()] {
            let leaked = lines_with(needle);
            assert!(leaked.is_empty(), "{needle} was logged: {leaked:?}");
        }
    }
);
