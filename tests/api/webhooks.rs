//! Webhooks: deliveries signed as Standard Webhooks says (checked by Python's own hmac, as a
//! receiver would), in feed order per subscription, retried until the receiver recovers,
//! leased so that a sender that dies mid-send leaves the delivery to another, secrets
//! rotated with an overlap, and targets checked.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::http::{Method, StatusCode};
use actix_web::{App, HttpRequest, HttpResponse, web};
use chrono::Duration;
use convene::api::webhooks::sender::send_due;
use convene::domain::now;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{TestApp, TestResponse};

#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Default)]
struct Inbox {
    received: Mutex<Vec<Received>>,
    /// The status the receiver answers with.
    status: AtomicU16,
}

/// A receiver on loopback that keeps what it is sent and answers with `inbox.status`.
struct Receiver {
    server: actix_test::TestServer,
    inbox: Arc<Inbox>,
}

impl Receiver {
    fn start(status: u16) -> Self {
        let inbox = Arc::new(Inbox::default());
        inbox.status.store(status, Ordering::SeqCst);
        let shared = web::Data::from(inbox.clone());
        let server = actix_test::start(move || {
            App::new().app_data(shared.clone()).route(
                "/hook",
                web::post().to(
                    |req: HttpRequest, body: web::Bytes, inbox: web::Data<Inbox>| async move {
                        let header = |name: &str| {
                            req.headers()
                                .get(name)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_owned()
                        };
                        inbox.received.lock().unwrap().push(Received {
                            id: header("webhook-id"),
                            timestamp: header("webhook-timestamp"),
                            signature: header("webhook-signature"),
                            body: body.to_vec(),
                        });
                        let status =
                            StatusCode::from_u16(inbox.status.load(Ordering::SeqCst)).unwrap();
                        HttpResponse::build(status).body("thanks")
                    },
                ),
            )
        });
        Self { server, inbox }
    }

    fn url(&self) -> String {
        self.server.url("/hook")
    }

    fn received(&self) -> Vec<Received> {
        self.inbox.received.lock().unwrap().clone()
    }
}

/// Verifies a delivery as the README tells a Python receiver to: HMAC-SHA256 of
/// "{id}.{timestamp}.{body}" under the base64 key after `whsec_`, any `v1,` signature.
fn verified_by_python(secret: &str, received: &Received) -> bool {
    use std::io::Write;
    let script = r#"
import base64, hashlib, hmac, sys
secret, msg_id, timestamp, header = sys.argv[1:5]
body = sys.stdin.buffer.read()
key = base64.b64decode(secret.removeprefix("whsec_"))
signed = f"{msg_id}.{timestamp}.".encode() + body
expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
print(any(hmac.compare_digest(s.split(",", 1)[1], expected) for s in header.split() if s.startswith("v1,")))
"#;
    let mut child = std::process::Command::new("python3")
        .args([
            "-c",
            script,
            secret,
            &received.id,
            &received.timestamp,
            &received.signature,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&received.body)
        .unwrap();
    let output = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&output.stdout).trim() == "True"
}

#[track_caller]
fn created(response: &TestResponse) -> Value {
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    response.json()
}

/// Sends everything due `at`, round after round, as the sender thread would.
fn send_all(app: &TestApp, at: chrono::NaiveDateTime) -> usize {
    let mut sent = 0;
    loop {
        match send_due(&app.state, at).unwrap() {
            0 => return sent,
            n => sent += n,
        }
    }
}

/// A list as CSV.
async fn csv(app: &TestApp, path: &str) -> String {
    let request = app
        .request(Method::GET, path)
        .insert_header(("accept", "text/csv"));
    let response = app.send(request, None).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.text()
}

async fn organisation(app: &TestApp, name: &str) -> String {
    app.create_organisation(&json!({"name": name, "kind": "local_charity"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

db_test!(
    async fn deliveries_are_signed_in_feed_order_and_retried_until_the_receiver_recovers(app) {
        let receiver = Receiver::start(500);
        let hook = created(&app.post_json("/api/v1/webhooks", &json!({"url": receiver.url(), "event_types": ["organisation."], "description": "Directory"})).await);
        let secret = hook["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("whsec_"));
        let id = hook["id"].as_str().unwrap().to_owned();
        // The secret is shown once: never again, nor in the list.
        let shown = app.get(&format!("/api/v1/webhooks/{id}")).await;
        assert!(!shown.text().contains(&secret) && !shown.text().contains("secret"));
        assert!(!app.get("/api/v1/webhooks").await.text().contains(&secret));

        let first = organisation(&app, "Northside Peer Voices").await;
        app.post_json("/api/v1/contacts", &json!({"given_name": "Ada", "family_name": "Byron"})).await;
        let second = organisation(&app, "Southside Trust").await;

        // The first fails: the second waits behind it (order per subscription).
        assert_eq!(send_all(&app, now()), 1);
        assert_eq!(receiver.received().len(), 1);
        assert_eq!(send_all(&app, now()), 0, "not due again before its retry");
        // The receiver recovers; after the first retry's wait both go, in order.
        receiver.inbox.status.store(204, Ordering::SeqCst);
        assert_eq!(send_all(&app, now() + Duration::seconds(10)), 2);
        let received = receiver.received();
        assert_eq!(received.len(), 3);
        let bodies: Vec<Value> = received.iter().map(Received::json).collect();
        assert_eq!(bodies[0], bodies[1], "a retry sends the same event");
        assert_eq!(received[0].id, received[1].id, "with the same webhook-id");
        assert_eq!(bodies[1]["entity_id"], first.as_str());
        assert_eq!(bodies[2]["entity_id"], second.as_str());
        assert!(bodies.iter().all(|b| b["type"] == "organisation.created"), "no contact events");
        assert_eq!(bodies[2]["data"], app.get(&format!("/api/v1/organisations/{second}")).await.json());
        assert_eq!(bodies[2]["id"], received[2].id.as_str());
        for delivery in &received {
            assert!(verified_by_python(&secret, delivery), "{delivery:?}");
            assert!(!verified_by_python("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", delivery));
        }

        // The deliveries, newest first, with their attempts.
        let deliveries = app.get(&format!("/api/v1/webhooks/{id}/deliveries")).await.json();
        let data = deliveries["data"].as_array().unwrap();
        assert_eq!(data.len(), 2);
        let oldest = &data[1];
        assert_eq!(oldest["status"], "delivered");
        let codes: Vec<&Value> = oldest["attempts"].as_array().unwrap().iter().map(|a| &a["status_code"]).collect();
        assert_eq!(codes, [&json!(500), &json!(204)]);
        assert_eq!(oldest["event_id"], received[0].id.as_str());
        // A page at a time, newest first, the cursor leading on to the next.
        let first_page = app.get(&format!("/api/v1/webhooks/{id}/deliveries?limit=1")).await.json();
        assert_eq!(first_page["data"][0]["id"], data[0]["id"]);
        let cursor = first_page["next_cursor"].as_str().expect("a next page").to_owned();
        let second_page = app.get(&format!("/api/v1/webhooks/{id}/deliveries?limit=1&cursor={cursor}")).await.json();
        assert_eq!(second_page["data"][0]["id"], oldest["id"]);
        assert!(second_page["next_cursor"].is_null(), "{second_page}");
        let shown = app.get(&format!("/api/v1/webhooks/{id}")).await.json();
        assert!(shown["failing_since"].is_null(), "a success clears it: {shown} {deliveries}");

        // Both lists as CSV: a row a delivery with the last attempt's outcome; a row a
        // subscription, its free text defused.
        let rows = csv(&app, &format!("/api/v1/webhooks/{id}/deliveries")).await;
        let rows: Vec<&str> = rows.lines().collect();
        assert_eq!(rows[0], "id,event_id,event_type,status,attempts,last_attempted_at,last_status_code,last_duration_ms,last_error,next_attempt_at,created_at,delivered_at");
        assert_eq!(rows.len(), 3, "{rows:?}");
        let oldest_row: Vec<&str> = rows[2].split(',').collect();
        assert_eq!((oldest_row[0], oldest_row[3], oldest_row[4], oldest_row[6]), (oldest["id"].as_str().unwrap(), "delivered", "2", "204"));
        let renamed = app.patch_json(&format!("/api/v1/webhooks/{id}"), &json!({"description": "=HYPERLINK(\"x\")"}), None).await;
        assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.text());
        let listed = csv(&app, "/api/v1/webhooks").await;
        assert!(listed.starts_with("id,url,description,event_types,status,failing_since,created_at,updated_at\n"), "{listed}");
        assert!(listed.contains(",organisation.,active,,"), "{listed}");
        assert!(listed.contains("\"'=HYPERLINK(\"\"x\"\")\""), "defused: {listed}");
        assert!(!listed.contains(&secret));

        // A retry by hand sends it again; a test event goes at once.
        let retried = app.post_json(&format!("/api/v1/webhooks/{id}/deliveries/{}/retry", oldest["id"].as_str().unwrap()), &json!({})).await;
        assert_eq!(retried.status, StatusCode::ACCEPTED, "{}", retried.text());
        let test = app.post_json(&format!("/api/v1/webhooks/{id}/test"), &json!({})).await;
        assert_eq!(test.status, StatusCode::ACCEPTED, "{}", test.text());
        assert_eq!(send_all(&app, now()), 2);
        let received = receiver.received();
        let (resent, tested): (Vec<&Received>, Vec<&Received>) =
            received[3..].iter().partition(|r| r.json()["type"] != "webhook.test");
        assert_eq!(resent[0].json()["entity_id"], first.as_str());
        assert_eq!(tested[0].json()["data"]["subscription_id"], id.as_str());
        assert!(verified_by_python(&secret, tested[0]));

        // Retention: ended deliveries go with the feed's changes; a pending one stays.
        organisation(&app, "Eastside Youth").await;
        let mut conn = app.state.db.connection().unwrap();
        let pruned = convene::db::write_transaction(&mut conn, |conn| {
            convene::domain::webhooks::store::prune(conn, now() + Duration::days(1))
        })
        .unwrap();
        assert_eq!(pruned, 3);
        let left = app.get(&format!("/api/v1/webhooks/{id}/deliveries")).await.json();
        let left = left["data"].as_array().unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0]["status"], "pending");
    }
);

db_test!(
    async fn a_rotated_secret_signs_beside_the_old_one_and_paused_deliveries_wait(app) {
        let receiver = Receiver::start(200);
        let hook = created(&app.post_json("/api/v1/webhooks", &json!({"url": receiver.url()})).await);
        let (id, old) = (hook["id"].as_str().unwrap().to_owned(), hook["secret"].as_str().unwrap().to_owned());
        let rotated = app.post_json(&format!("/api/v1/webhooks/{id}/rotate-secret"), &json!({})).await;
        assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text());
        let new = rotated.json()["secret"].as_str().unwrap().to_owned();
        assert_ne!(old, new);

        // Paused: deliveries are queued, not sent; resumed, they go.
        let paused = app.patch_json(&format!("/api/v1/webhooks/{id}"), &json!({"status": "paused"}), None).await;
        assert_eq!(paused.status, StatusCode::OK, "{}", paused.text());
        organisation(&app, "Northside Peer Voices").await;
        assert_eq!(send_all(&app, now()), 0);
        app.patch_json(&format!("/api/v1/webhooks/{id}"), &json!({"status": "active"}), None).await;
        assert_eq!(send_all(&app, now()), 1);
        let delivered = &receiver.received()[0];
        assert_eq!(delivered.signature.split(' ').count(), 2, "{}", delivered.signature);
        assert!(verified_by_python(&old, delivered) && verified_by_python(&new, delivered));

        // Deleted: nothing more is queued or sent.
        let deleted = app.delete(&format!("/api/v1/webhooks/{id}"), None).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text());
        organisation(&app, "Southside Trust").await;
        assert_eq!(send_all(&app, now()), 0);
    }
);

db_test!(
    async fn a_sender_that_dies_mid_send_leaves_the_delivery_to_another_after_its_lease(app) {
        use convene::domain::webhooks::store::claim_due;
        let receiver = Receiver::start(200);
        created(&app.post_json("/api/v1/webhooks", &json!({"url": receiver.url()})).await);
        organisation(&app, "Northside Peer Voices").await;
        let mut conn = app.state.db.connection().unwrap();
        let mut claim = |at| convene::db::write_transaction(&mut conn, |conn| claim_due(conn, at, 10)).unwrap();
        // One sender takes it and dies before recording anything.
        assert_eq!(claim(now()).len(), 1);
        assert!(claim(now()).is_empty(), "another sender does not take a leased delivery");
        // When the lease ends another takes it, and it is delivered: at least once.
        let later = now() + Duration::seconds(61);
        assert_eq!(send_all(&app, later), 1);
        assert_eq!(receiver.received().len(), 1);
        assert_eq!(send_all(&app, later), 0);
    }
);

db_test!(
    async fn targets_and_types_are_checked_when_set(app) {
        for (body, field) in [
            (json!({"url": "ftp://example.org/hook"}), "url"),
            (json!({"url": "https://user:pw@example.org/hook"}), "url"),
            (json!({"url": "https://no-such-host.invalid/hook"}), "url"),
            (json!({"url": "http://127.0.0.1:9/hook", "event_types": ["organisation"]}), "event_types"),
            (json!({"url": "http://127.0.0.1:9/hook", "event_types": ["contact.", "contact."]}), "event_types"),
        ] {
            let refused = app.post_json("/api/v1/webhooks", &body).await;
            assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", refused.text());
            assert_eq!(refused.json()["errors"][0]["field"], field, "{body}");
        }
        // Only admins manage webhooks.
        let staff = app.token_for("staff").await;
        let refused = app.as_(Some(&staff)).post_json("/api/v1/webhooks", &json!({"url": "http://127.0.0.1:9/"})).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
    }
);

db_test!(
    async fn a_subscription_failing_for_three_days_is_disabled_and_audited(app) {
        let receiver = Receiver::start(503);
        let hook = created(&app.post_json("/api/v1/webhooks", &json!({"url": receiver.url()})).await);
        let id = hook["id"].as_str().unwrap().to_owned();
        organisation(&app, "Northside Peer Voices").await;
        let start = now();
        assert_eq!(send_all(&app, start), 1);
        let failing = app.get(&format!("/api/v1/webhooks/{id}")).await.json();
        assert_eq!(failing["status"], "active");
        assert!(failing["failing_since"].is_string());
        // Three days on, its retry fails again: disabled, with an event saying so.
        assert_eq!(send_all(&app, start + Duration::days(3) + Duration::seconds(10)), 1);
        assert_eq!(app.get(&format!("/api/v1/webhooks/{id}")).await.json()["status"], "disabled");
        let events = app.get(&format!("/api/v1/audit-events?entity_type=webhook&entity_id={id}&action=disable")).await.json();
        assert_eq!(events["data"].as_array().unwrap().len(), 1, "{events}");
        assert_eq!(events["data"][0]["actor_type"], "system");
        // Disabled: nothing is sent or queued; turned back on, it is sent again.
        organisation(&app, "Southside Trust").await;
        assert_eq!(send_all(&app, start + Duration::days(4)), 0);
        receiver.inbox.status.store(200, Ordering::SeqCst);
        let resumed = app.patch_json(&format!("/api/v1/webhooks/{id}"), &json!({"status": "active"}), None).await;
        assert_eq!(resumed.status, StatusCode::OK, "{}", resumed.text());
        assert!(resumed.json()["failing_since"].is_null());
        assert_eq!(send_all(&app, start + Duration::days(4)), 1, "the pending delivery goes");
    }
);
