//! Sends webhook deliveries: takes the due ones (leased, so one sender of several instances
//! takes each), renders each as the change feed's event, signs it (Standard Webhooks) and
//! POSTs it: 15 seconds to answer, no redirects followed, the answer's body read only up
//! to a small cap, the target's addresses checked again as it connects. Neither secrets nor
//! bodies are ever logged.

use std::collections::HashSet;
use std::io::Read;
use std::net::SocketAddr;
use std::time::Instant;

use actix_web::web;
use chrono::NaiveDateTime;
use serde_json::json;

use crate::api::changes::{Reader, render};
use crate::api::schemas::timestamp;
use crate::db::{self, DbConn, DbError};
use crate::domain::audit::{self, Context, Event, entity};
use crate::domain::changes::store as changes;
use crate::domain::webhooks::store::{self, Due, Outcome};
use crate::domain::webhooks::{LEASE, SEND_TIMEOUT, TEST_EVENT, signature, targets};
use crate::domain::{DomainError, now};
use crate::state::AppState;

/// Deliveries taken per round.
const PER_ROUND: usize = 50;
/// The most of a receiver's answer that is read.
const ANSWER_CAP: u64 = 4096;
/// Time kept in hand at the end of a lease, to record the last attempt and give back the rest.
const LEASE_MARGIN: std::time::Duration = std::time::Duration::from_secs(10);
/// How often the sender looks for due deliveries.
const INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// The body of `due`, or why there is nothing to send.
fn body(
    conn: &mut DbConn,
    state: &AppState,
    due: &Due,
) -> Result<Result<Vec<u8>, String>, DomainError> {
    let Some(change_id) = &due.change_id else {
        let event = json!({
            "id": due.id,
            "type": TEST_EVENT,
            "occurred_at": timestamp(now()),
            "data": {"subscription_id": due.subscription_id},
        });
        return Ok(Ok(event.to_string().into_bytes()));
    };
    let Some(change) = changes::by_id(conn, change_id)? else {
        return Ok(Err("the change has passed the feed's retention".to_owned()));
    };
    match render(conn, vec![change], Reader::integration(state))?.pop() {
        Some(event) => Ok(Ok(serde_json::to_vec(&event).unwrap_or_default())),
        None => Ok(Err(
            "withheld: an anonymous response not disclosed to integrations".to_owned(),
        )),
    }
}

/// Resolves a target at connect time, refusing private addresses unless allowed: the check
/// is made on the addresses the connection then uses.
struct Guard {
    allow_private: bool,
}

impl ureq::Resolver for Guard {
    fn resolve(&self, netloc: &str) -> std::io::Result<Vec<SocketAddr>> {
        let (host, port) = netloc
            .rsplit_once(':')
            .and_then(|(host, port)| Some((host, port.parse().ok()?)))
            .ok_or_else(|| std::io::Error::other(format!("no port in {netloc}")))?;
        targets::resolve(host, port, self.allow_private).map_err(std::io::Error::other)
    }
}

/// The HTTP client of one round: 15 seconds to answer, no redirects, addresses checked as
/// it connects. Each delivery has a connection of its own: one kept from a receiver that
/// answered out of turn (a 204 with a body) would garble the next answer.
fn agent(allow_private: bool) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(SEND_TIMEOUT)
        .max_idle_connections(0)
        .redirects(0)
        .user_agent("Convene-Webhooks/1")
        .resolver(Guard { allow_private })
        .build()
}

/// POSTs `body` to `url`, signed with `secrets`.
fn post(
    agent: &ureq::Agent,
    url: &str,
    message_id: &str,
    secrets: &[&str],
    body: &[u8],
) -> Outcome {
    let sent_at = chrono::Utc::now().timestamp();
    let started = Instant::now();
    let answer = agent
        .post(url)
        .set("content-type", "application/json")
        .set("webhook-id", message_id)
        .set("webhook-timestamp", &sent_at.to_string())
        .set(
            "webhook-signature",
            &signature(secrets, message_id, sent_at, body),
        )
        .send_bytes(body);
    let (status_code, error) = match answer {
        Ok(response) | Err(ureq::Error::Status(_, response)) => {
            let code = response.status();
            // Read a little of the answer, so the connection closes cleanly; never more.
            let mut sink = Vec::new();
            let _ = response
                .into_reader()
                .take(ANSWER_CAP)
                .read_to_end(&mut sink);
            let error = (!(200..300).contains(&code)).then(|| format!("answered {code}"));
            (Some(code), error)
        }
        Err(ureq::Error::Transport(transport)) => (None, Some(transport.to_string())),
    };
    Outcome {
        status_code,
        duration_ms: started.elapsed().as_millis().min(u128::from(u32::MAX)) as u32,
        error,
    }
}

/// Sends the deliveries due `at` (one round) and returns how many were attempted. Each
/// subscription's run goes in feed order and stops at its first failure: the deliveries after
/// it are given back to wait for its retry. The round's clock starts at `at` (tests move it)
/// and runs with real time.
pub fn send_due(state: &AppState, at: NaiveDateTime) -> Result<usize, DomainError> {
    let started = Instant::now();
    let clock = || at + chrono::Duration::from_std(started.elapsed()).unwrap_or_default();
    let mut conn = state
        .db
        .connection()
        .map_err(|e| DbError::Unavailable(e.to_string()))?;
    if !store::any_due(&mut conn, at)? {
        return Ok(0);
    }
    let due = db::write_transaction(&mut conn, |conn| store::claim_due(conn, at, PER_ROUND))?;
    let agent = agent(state.webhook_private_targets);
    let mut stopped = HashSet::new();
    let mut attempted = 0;
    for delivery in &due {
        // A send starts only while its lease outlasts it (past that another sender may take
        // the delivery), and not after a failure earlier in its subscription's run: either
        // way it is given back for a later round.
        let lease_ends_soon = started.elapsed() + SEND_TIMEOUT + LEASE_MARGIN > LEASE;
        let run_stopped =
            delivery.change_id.is_some() && stopped.contains(&delivery.subscription_id);
        if lease_ends_soon || run_stopped {
            db::write_transaction(&mut conn, |conn| store::release(conn, delivery))?;
            continue;
        }
        attempted += 1;
        let body = match body(&mut conn, state, delivery)? {
            Ok(body) => body,
            // Nothing that may be sent: the delivery ends here, its attempt saying why.
            Err(reason) => {
                db::write_transaction(&mut conn, |conn| {
                    store::give_up(conn, delivery, &reason, clock())
                })?;
                continue;
            }
        };
        let secrets = store::signing_secrets(&mut conn, &delivery.subscription_id, clock())?;
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let message_id = delivery.change_id.as_deref().unwrap_or(&delivery.id);
        let outcome = post(&agent, &delivery.url, message_id, &secrets, &body);
        if !outcome.succeeded() {
            stopped.insert(delivery.subscription_id.clone());
        }
        log::info!(
            "webhook {} delivery {} ({}): {}",
            delivery.subscription_id,
            delivery.id,
            delivery.event_type,
            outcome
                .status_code
                .map_or_else(|| "no answer".to_owned(), |code| code.to_string())
        );
        let disabled = db::write_transaction(&mut conn, |conn| {
            let disabled = store::record_attempt(conn, delivery, &outcome, clock())?;
            if disabled {
                let event = Event::new("disable", entity::WEBHOOK, &delivery.subscription_id)
                    .detail("status", "active".into(), "disabled".into());
                audit::store::insert(conn, &Context::system(), &[event])?;
            }
            Ok::<_, DomainError>(disabled)
        })?;
        if disabled {
            log::warn!(
                "webhook {} disabled: its deliveries have failed for three days",
                delivery.subscription_id
            );
        }
    }
    Ok(attempted)
}

/// Sends deliveries for the life of the process, in a thread of its own.
pub fn start(state: web::Data<AppState>) {
    let spawned = std::thread::Builder::new()
        .name("webhook-sender".to_owned())
        .spawn(move || {
            loop {
                match send_due(&state, now()) {
                    // Something was sent: more may be waiting.
                    Ok(1..) => continue,
                    Ok(0) => {}
                    Err(error) => {
                        log::warn!("webhook deliveries could not be sent (retrying): {error}")
                    }
                }
                std::thread::sleep(INTERVAL);
            }
        });
    if let Err(error) = spawned {
        log::error!("cannot start the webhook sender: {error}");
    }
}
