//! Stopping and starting the real binary: a server killed with SIGKILL while it is sending a
//! webhook delivers it after a restart (the outbox and its lease, not memory, hold it), and
//! the days the service was not running are in the change feed before it serves again
//! (the clock moved with libfaketime).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use chrono::{Days, NaiveDate, Utc};
use serde_json::{Value, json};

use crate::binary::{Running, Start};
use crate::both_databases;
use crate::helpers::Backend;

/// One request a receiver was sent: its `webhook-id` and its JSON body.
#[derive(Debug)]
struct Delivered {
    id: String,
    body: Value,
}

/// A webhook receiver on loopback that can hang: it keeps the first request it is sent
/// without answering (the sender is then mid-delivery) until `let_go`, and answers every
/// later one with 204.
struct Receiver {
    url: String,
    requests: mpsc::Receiver<Delivered>,
    release: mpsc::Sender<()>,
}

impl Receiver {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let (sent, requests) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            let mut released = Some(released);
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let Some(request) = read_request(&mut stream) else {
                    continue;
                };
                if sent.send(request).is_err() {
                    return;
                }
                match released.take() {
                    // The first: hold the connection open, unanswered, then drop it.
                    Some(released) => {
                        let _ = released.recv_timeout(Duration::from_secs(120));
                    }
                    None => {
                        let _ = stream.write_all(
                            b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        );
                    }
                }
            }
        });
        Self {
            url,
            requests,
            release,
        }
    }

    /// The next request sent, if one comes within `wait`.
    fn next(&self, wait: Duration) -> Option<Delivered> {
        self.requests.recv_timeout(wait).ok()
    }

    /// Drops the held first connection, unanswered.
    fn let_go(&self) {
        let _ = self.release.send(());
    }
}

/// Reads one HTTP/1.1 request with a Content-Length body.
fn read_request(stream: &mut TcpStream) -> Option<Delivered> {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let mut received = Vec::new();
    let mut buffer = [0; 4096];
    let end = loop {
        let read = stream.read(&mut buffer).ok().filter(|n| *n > 0)?;
        received.extend_from_slice(&buffer[..read]);
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
    };
    let head = String::from_utf8_lossy(&received[..end]).to_lowercase();
    let header = |name: &str| {
        head.lines()
            .find_map(|line| line.strip_prefix(&format!("{name}: ")))
            .map(|value| value.trim().to_owned())
    };
    let length: usize = header("content-length")?.parse().ok()?;
    while received.len() < end + 4 + length {
        let read = stream.read(&mut buffer).ok().filter(|n| *n > 0)?;
        received.extend_from_slice(&buffer[..read]);
    }
    Some(Delivered {
        id: header("webhook-id")?,
        body: serde_json::from_slice(&received[end + 4..end + 4 + length]).ok()?,
    })
}

#[track_caller]
fn expect(status: u16, (got, answer): (u16, Value)) -> Value {
    assert_eq!(got, status, "{answer}");
    answer
}

fn a_server_killed_mid_delivery_delivers_after_a_restart(backend: Backend) {
    let start = Start::new(backend);
    let receiver = Receiver::start();
    let env = [("WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")];
    let mut first = Running::start(&start, &env, None);
    let token = first.sign_in();
    let subscription = json!({"url": receiver.url, "event_types": ["organisation."]});
    let hook = expect(
        201,
        first.call("POST", "/webhooks", Some(&token), Some(&subscription)),
    );
    let organisation = json!({"name": "Riverside Youth Voice", "kind": "grassroots_group"});
    let organisation = expect(
        201,
        first.call("POST", "/organisations", Some(&token), Some(&organisation)),
    );

    // The sender has posted the change and waits for an answer: the server dies there.
    let held = receiver
        .next(Duration::from_secs(30))
        .unwrap_or_else(|| panic!("the delivery was not sent:\n{}", first.log()));
    assert_eq!(held.body["type"], "organisation.created");
    assert_eq!(held.body["data"]["id"], organisation["id"]);
    first.kill();
    receiver.let_go();

    // Started again once the dead sender's 60-second lease has run out (90 s later by the
    // clock, at once by the test's), the new server sends the same message.
    let second = Running::start(&start, &env, Some("+90s"));
    let delivered = receiver
        .next(Duration::from_secs(30))
        .unwrap_or_else(|| panic!("not delivered after the restart:\n{}", second.log()));
    assert_eq!(
        delivered.id, held.id,
        "the same webhook-id, for de-duplication"
    );
    assert_eq!(delivered.body, held.body);

    let token = second.sign_in();
    let path = format!("/webhooks/{}/deliveries", hook["id"].as_str().unwrap());
    let deliveries = expect(200, second.call("GET", &path, Some(&token), None));
    let deliveries = deliveries["data"].as_array().unwrap();
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    assert_eq!(deliveries[0]["status"], "delivered", "{deliveries:?}");
    let codes: Vec<&Value> = deliveries[0]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|attempt| &attempt["status_code"])
        .collect();
    assert_eq!(codes, [&json!(204)], "the killed attempt left no record");
    assert!(
        receiver.next(Duration::from_secs(3)).is_none(),
        "a delivered message is not sent again"
    );
}

both_databases!(a_server_killed_mid_delivery_delivers_after_a_restart);

fn day(today: NaiveDate, offset: i64) -> String {
    match offset {
        n if n >= 0 => today.checked_add_days(Days::new(n as u64)),
        n => today.checked_sub_days(Days::new(n.unsigned_abs())),
    }
    .unwrap()
    .to_string()
}

fn the_days_a_server_was_stopped_are_in_the_feed_before_it_serves(backend: Backend) {
    let start = Start::new(backend);
    let mut first = Running::start(&start, &[], None);
    let token = first.sign_in();
    let today = Utc::now().date_naive();
    let organisation = json!({"name": "Ending Soon Trust", "kind": "local_charity"});
    let organisation = expect(
        201,
        first.call("POST", "/organisations", Some(&token), Some(&organisation)),
    );
    let id = organisation["id"].as_str().unwrap();
    let membership = |action: &str, body: Value| {
        let path = format!("/organisations/{id}/membership/{action}");
        expect(200, first.call("POST", &path, Some(&token), Some(&body)));
    };
    membership(
        "apply",
        json!({"tier": "full", "applied_on": day(today, -400)}),
    );
    membership(
        "approve",
        json!({"start_on": day(today, -365), "end_on": day(today, 1)}),
    );
    let position = expect(
        200,
        first.call("GET", "/changes/position", Some(&token), None),
    );
    let position = position["position"].as_str().unwrap().to_owned();
    first.kill();

    // Forty days later by the clock. The first request is made as soon as the server says
    // it listens, long before its keeper's first minute: the catch-up ran before serving.
    let later = Running::start(&start, &[], Some("+40d"));
    let token = later.sign_in();
    let path = format!("/changes?after={position}&types=membership.status_changed");
    let page = expect(200, later.call("GET", &path, Some(&token), None));
    let moves: Vec<(&str, &str, &str, &str)> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| {
            let detail = &event["detail"];
            (
                detail["from"].as_str().unwrap(),
                detail["to"].as_str().unwrap(),
                detail["on"].as_str().unwrap(),
                detail["cause"].as_str().unwrap(),
            )
        })
        .collect();
    let (grace_on, lapsed_on) = (day(today, 2), day(today, 32));
    assert_eq!(
        moves,
        [
            ("current", "grace", grace_on.as_str(), "calendar"),
            ("grace", "lapsed", lapsed_on.as_str(), "calendar"),
        ],
        "{}",
        later.log()
    );
    let path = format!("/organisations/{id}");
    let organisation = expect(200, later.call("GET", &path, Some(&token), None));
    assert_eq!(organisation["membership"]["status"], "lapsed");
}

both_databases!(the_days_a_server_was_stopped_are_in_the_feed_before_it_serves);
