//! The change feed: every committed change in commit order, each once, shown as the record's
//! own `GET` shows it to the reader; calendar status moves on their day; retention; and no
//! change missed or repeated while writes of random length commit out of start order.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashSet};
use std::rc::Rc;

use actix_web::http::{Method, StatusCode};
use chrono::{Days, NaiveDate, Utc};
use convene::domain::membership::GraceWindow;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{Caller, TestApp, TestResponse};

#[track_caller]
fn ok(response: &TestResponse) -> Value {
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.json()
}

async fn position(app: &TestApp) -> String {
    ok(&app.get("/api/v1/changes/position").await)["position"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Every event after `after` the caller is shown, read a page of `limit` at a time.
async fn read_all(caller: &Caller<'_>, after: &str, query: &str, limit: usize) -> Vec<Value> {
    let mut after = after.to_owned();
    let mut events = Vec::new();
    loop {
        let page = ok(&caller
            .get(&format!(
                "/api/v1/changes?after={after}&limit={limit}{query}"
            ))
            .await);
        let data = page["data"].as_array().unwrap().clone();
        let next = page["next_position"].as_str().unwrap().to_owned();
        let done = data.len() < limit;
        events.extend(data);
        after = next;
        if done {
            return events;
        }
    }
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

/// A position as (commit, seq), to check order.
fn order(event: &Value) -> (i64, i64) {
    let text = event["position"].as_str().unwrap();
    let (commit, seq) = text.split_once('.').unwrap();
    (commit.parse().unwrap(), seq.parse().unwrap())
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn day(offset: i64) -> String {
    let today = today();
    match offset {
        n if n >= 0 => today.checked_add_days(Days::new(n as u64)),
        n => today.checked_sub_days(Days::new(n.unsigned_abs())),
    }
    .unwrap()
    .to_string()
}

async fn organisation(app: &TestApp, name: &str) -> String {
    app.create_organisation(&json!({"name": name, "kind": "local_charity"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn act(app: &TestApp, id: &str, action: &str, body: Value) {
    let path = format!("/api/v1/organisations/{id}/membership/{action}");
    ok(&app.post_json(&path, &body).await);
}

db_test!(
    async fn every_change_comes_once_in_commit_order_as_its_get_shows_it(app) {
        let start = position(&app).await;
        let a = organisation(&app, "Northside Peer Voices").await;
        let path = format!("/api/v1/organisations/{a}");
        let patched = app.patch_json(&path, &json!({"name": "Northside Voices"}), Some("\"1\"")).await;
        assert_eq!(patched.status, StatusCode::OK, "{}", patched.text());
        act(&app, &a, "apply", json!({"tier": "full"})).await;
        act(&app, &a, "approve", json!({})).await;
        let contact = app.post_json("/api/v1/contacts", &json!({"given_name": "Ada", "family_name": "Byron"})).await.json();
        let b = organisation(&app, "Southside Trust").await;
        let deleted = app.delete(&format!("/api/v1/organisations/{b}"), None).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text());
        // Neither a read nor an account change is a change to CRM data.
        app.get(&path).await;
        app.account("viewer").await;

        let events = read_all(&app.as_admin(), &start, "", 500).await;
        assert_eq!(
            types(&events),
            [
                "organisation.created",
                "organisation.updated",
                "membership.changed",
                "membership.status_changed",
                "membership.changed",
                "membership.status_changed",
                "contact.created",
                "organisation.created",
                "organisation.deleted",
            ]
        );
        let positions: Vec<(i64, i64)> = events.iter().map(order).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
        let ids: HashSet<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), events.len(), "every event has its own id");

        // The record as its own GET shows it now; the membership as its GET does.
        let shown = ok(&app.get(&path).await);
        assert_eq!(events[0]["data"], shown);
        assert_eq!(events[1]["data"], shown);
        assert_eq!((events[0]["entity_type"].as_str(), events[0]["entity_id"].as_str()), (Some("organisation"), Some(a.as_str())));
        let membership = ok(&app.get(&format!("{path}/membership")).await);
        assert_eq!(events[2]["data"], membership);
        assert_eq!(events[2]["entity_type"], "membership");
        let today = today().to_string();
        assert_eq!(events[3]["detail"], json!({"from": null, "to": "pending", "on": today, "cause": "action"}));
        assert_eq!(events[5]["detail"], json!({"from": "pending", "to": "current", "on": today, "cause": "action"}));
        assert_eq!(events[6]["data"], ok(&app.get(&format!("/api/v1/contacts/{}", contact["id"].as_str().unwrap())).await));
        // A deleted record is its tombstone, in both of its events.
        for event in &events[7..] {
            assert_eq!(event["data"]["id"], b.as_str());
            assert!(event["data"]["deleted_at"].is_string(), "{event}");
            assert_eq!(event["data"].as_object().unwrap().len(), 2, "{event}");
        }

        // The end: nothing more, and the same position to poll with.
        let end = ok(&app.get(&format!("/api/v1/changes?after={start}&limit=500")).await)["next_position"].clone();
        let again = ok(&app.get(&format!("/api/v1/changes?after={}", end.as_str().unwrap())).await);
        assert_eq!(again["data"], json!([]));
        assert_eq!(again["next_position"], end);
        assert_eq!(position(&app).await, end.as_str().unwrap());

        // Small pages pass every event once.
        assert_eq!(read_all(&app.as_admin(), &start, "", 2).await, events);

        // Types, exact or by prefix.
        let membership_events = read_all(&app.as_admin(), &start, "&types=membership.", 500).await;
        assert_eq!(types(&membership_events), ["membership.changed", "membership.status_changed", "membership.changed", "membership.status_changed"]);
        let some = read_all(&app.as_admin(), &start, "&types=organisation.deleted&types=contact.", 500).await;
        assert_eq!(types(&some), ["contact.created", "organisation.deleted"]);

        // Bad input is a 400 naming the parameter.
        for query in ["types=organisation", "types=organisation.*", "after=abc", "after=1.", "limit=0"] {
            let refused = app.get(&format!("/api/v1/changes?{query}")).await;
            assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{query}: {}", refused.text());
        }
        // A position past the end was not given by this feed (a restored database?): 409.
        let ahead = app.get("/api/v1/changes?after=99999999").await;
        assert_eq!(ahead.status, StatusCode::CONFLICT, "{}", ahead.text());
        assert!(ahead.json()["detail"].as_str().unwrap().contains("Sync in full"));

        // As CSV: every change after the position, without the records.
        let request = app.request(Method::GET, &format!("/api/v1/changes?after={start}")).insert_header(("accept", "text/csv"));
        let csv = app.send(request, None).await;
        assert_eq!(csv.status, StatusCode::OK, "{}", csv.text());
        let text = csv.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "position,id,type,occurred_at,entity_type,entity_id,parent_id,detail");
        assert_eq!(lines.len(), 1 + events.len());
        assert!(lines[4].contains("membership.status_changed") && lines[4].contains(r#""{""cause"":""action"""#), "{}", lines[4]);
    }
);

db_test!(
    async fn a_reader_is_shown_only_what_it_may_read(app) {
        let start = position(&app).await;
        let organisation = organisation(&app, "Northside Peer Voices").await;
        let contact = app.post_json("/api/v1/contacts", &json!({"given_name": "Ada", "family_name": "Byron"})).await.json();
        let contact = contact["id"].as_str().unwrap().to_owned();
        // The person sits on a group the consultation invites, and answers anonymously: one
        // invitee without a named answer, under the threshold, so anonymous answers are
        // not disclosed to viewers and keys.
        let group = app.post_json("/api/v1/expert-groups", &json!({"name": "Policy group", "kind": "working_group", "status": "active"})).await.json();
        let group = group["id"].as_str().unwrap().to_owned();
        let seat = app.post_json(&format!("/api/v1/expert-groups/{group}/members"), &json!({"contact_id": contact, "role": "member", "joined_on": "2025-01-01"})).await;
        assert_eq!(seat.status, StatusCode::CREATED, "{}", seat.text());
        let consultation = app.post_json("/api/v1/consultations", &json!({"title": "Call for evidence", "kind": "call_for_evidence", "status": "open"})).await.json();
        let consultation = consultation["id"].as_str().unwrap().to_owned();
        let base = format!("/api/v1/consultations/{consultation}");
        let invited = app.post_json(&format!("{base}/invitations"), &json!({"expert_group_id": group})).await;
        assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.text());
        let responses = format!("{base}/responses");
        let named = app.post_json(&responses, &json!({"organisation_id": organisation, "summary": "Named."})).await;
        assert_eq!(named.status, StatusCode::CREATED, "{}", named.text());
        let anonymous = app.post_json(&responses, &json!({"contact_id": contact, "summary": "Quiet.", "attribution": "anonymous"})).await;
        assert_eq!(anonymous.status, StatusCode::CREATED, "{}", anonymous.text());
        let anonymous = anonymous.json()["id"].as_str().unwrap().to_owned();

        let organisations_key = app.api_key(&["organisations:read"]).await;
        let seen = read_all(&app.as_(Some(&organisations_key)), &start, "", 500).await;
        assert_eq!(types(&seen), ["organisation.created"]);
        let contacts_key = app.api_key(&["contacts:read"]).await;
        let seen = read_all(&app.as_(Some(&contacts_key)), &start, "", 500).await;
        assert_eq!(types(&seen), ["contact.created"]);
        let groups_key = app.api_key(&["groups:read"]).await;
        let seen = read_all(&app.as_(Some(&groups_key)), &start, "", 500).await;
        assert_eq!(types(&seen), ["expert_group.created", "expert_group.member.added"]);

        // Staff learn who answered anonymously; a viewer and a key learn nothing of it.
        let all = read_all(&app.as_admin(), &start, "&types=consultation.response.", 500).await;
        assert_eq!(all.len(), 2);
        assert_eq!(all[1]["entity_id"], anonymous.as_str());
        assert_eq!(all[1]["parent_id"], consultation.as_str());
        assert_eq!(all[1]["data"]["contact_id"], contact.as_str());
        let viewer = app.token_for("viewer").await;
        let consultations_key = app.api_key(&["consultations:read"]).await;
        for credential in [viewer, consultations_key] {
            let caller = app.as_(Some(&credential));
            assert_eq!(caller.get(&format!("{responses}/{anonymous}")).await.status, StatusCode::NOT_FOUND);
            let seen = read_all(&caller, &start, "&types=consultation.", 500).await;
            assert_eq!(types(&seen), ["consultation.created", "consultation.invited", "consultation.response.created"]);
            assert!(!serde_json::to_string(&seen).unwrap().contains(&anonymous));
            let named = &seen[2];
            assert_eq!(named["data"], ok(&caller.get(&format!("{responses}/{}", named["entity_id"].as_str().unwrap())).await));
            let request = caller.request(Method::GET, &format!("/api/v1/changes?after={start}")).insert_header(("accept", "text/csv"));
            let csv = caller.send(request, None).await;
            assert_eq!(csv.status, StatusCode::OK, "{}", csv.text());
            assert!(!csv.text().contains(&anonymous), "the CSV hides it too");
            assert_eq!(csv.text().matches("consultation.response.created").count(), 1);
        }
        // A key with no scope to read anything here is refused outright.
        let reports_key = app.api_key(&["reports:read"]).await;
        assert_eq!(read_all(&app.as_(Some(&reports_key)), &start, "", 500).await, Vec::<Value>::new());
        assert_eq!(app.as_anonymous().get("/api/v1/changes").await.status, StatusCode::UNAUTHORIZED);
    }
);

db_test!(
    async fn a_position_past_retention_is_gone_and_says_to_sync_in_full(app) {
        let start = position(&app).await;
        organisation(&app, "Northside Peer Voices").await;
        let middle = position(&app).await;
        organisation(&app, "Southside Trust").await;
        let mut conn = app.state.db.connection().unwrap();
        let cutoff = convene::domain::now() + chrono::Duration::days(1);
        let pruned = convene::db::write_transaction(&mut conn, |conn| {
            convene::domain::changes::store::prune(conn, cutoff)
        })
        .unwrap();
        assert_eq!(pruned, 2);
        for after in [start.as_str(), middle.as_str()] {
            let gone = app.get(&format!("/api/v1/changes?after={after}")).await;
            assert_eq!(gone.status, StatusCode::GONE, "{}", gone.text());
            let problem = gone.json();
            assert_eq!(problem["type"], "/problems/gone");
            assert!(problem["detail"].as_str().unwrap().contains("sync in full"), "{problem}");
            let request = app.request(Method::GET, &format!("/api/v1/changes?after={after}")).insert_header(("accept", "text/csv"));
            assert_eq!(app.send(request, None).await.status, StatusCode::GONE);
        }
        // From the end, and from the oldest kept, all is well.
        let end = position(&app).await;
        assert_eq!(ok(&app.get(&format!("/api/v1/changes?after={end}")).await)["data"], json!([]));
        assert_eq!(ok(&app.get("/api/v1/changes").await)["data"], json!([]));
        organisation(&app, "Eastside Youth").await;
        assert_eq!(types(&read_all(&app.as_admin(), &end, "", 50).await), ["organisation.created"]);
    }
);

db_test!(
    async fn calendar_moves_arrive_on_their_day_once_including_days_missed(app) {
        let db = app.state.db.clone();
        let grace = GraceWindow(30);
        let keep = |today: NaiveDate| convene::startup::keep_feed(&db, today, grace, 90).unwrap();
        // A member the feed has never announced (as after an upgrade, or a bulk load): the
        // first sweep starts the feed's calendar, remembering its status without a word.
        let already = organisation(&app, "Already Here").await;
        act(&app, &already, "apply", json!({"tier": "full", "applied_on": day(-10)})).await;
        act(&app, &already, "approve", json!({"start_on": day(-10)})).await;
        {
            use diesel::connection::SimpleConnection;
            let mut conn = db.connection().unwrap();
            conn.batch_execute("DELETE FROM membership_status_announced").unwrap();
        }
        assert_eq!(keep(today()), 0);

        let ending = organisation(&app, "Ending Soon").await;
        act(&app, &ending, "apply", json!({"tier": "full", "applied_on": day(-400)})).await;
        act(&app, &ending, "approve", json!({"start_on": day(-365), "end_on": day(1)})).await;
        let leaving = organisation(&app, "Leaving Later").await;
        act(&app, &leaving, "apply", json!({"tier": "full", "applied_on": day(-10)})).await;
        act(&app, &leaving, "approve", json!({"start_on": day(-10)})).await;
        act(&app, &leaving, "withdraw", json!({"reason": "Closing down", "withdrawn_on": day(3)})).await;
        let contact = app.post_json("/api/v1/contacts", &json!({"given_name": "Ada", "family_name": "Byron"})).await.json();
        let contact = contact["id"].as_str().unwrap().to_owned();
        let affiliation = app.post_json(&format!("/api/v1/contacts/{contact}/affiliations"), &json!({"organisation_id": leaving, "end_on": day(4)})).await;
        assert_eq!(affiliation.status, StatusCode::CREATED, "{}", affiliation.text());
        let before = position(&app).await;

        // The service "was not running" for 40 days: one catch-up puts each move on its day.
        let later = today().checked_add_days(Days::new(40)).unwrap();
        assert_eq!(keep(later), 4);
        let moves = read_all(&app.as_admin(), &before, "", 500).await;
        let seen: Vec<(String, String, String)> = moves
            .iter()
            .map(|e| {
                let what = e["detail"]["to"].as_str().map_or(e["type"].as_str().unwrap().to_owned(), str::to_owned);
                (e["entity_id"].as_str().unwrap().to_owned(), what, e["detail"]["on"].as_str().unwrap().to_owned())
            })
            .collect();
        assert_eq!(
            seen,
            [
                (ending.clone(), "grace".to_owned(), day(2)),
                (leaving.clone(), "withdrawn".to_owned(), day(3)),
                (contact.clone(), "contact.updated".to_owned(), day(5)),
                (ending.clone(), "lapsed".to_owned(), day(32)),
            ]
        );
        assert!(moves.iter().all(|e| e["detail"]["cause"] == "calendar"));
        assert!(!moves.iter().any(|e| e["entity_id"] == already.as_str()), "remembered at the start");
        assert_eq!(moves[0]["detail"]["from"], "current");
        assert_eq!(moves[1]["detail"]["from"], "current");
        // The data is the membership as it shows today (the real today: still current).
        assert_eq!(moves[0]["data"]["organisation_id"], ending.as_str());

        // Swept days are not swept again, by this instance or another.
        assert_eq!(keep(later), 0);
        assert_eq!(read_all(&app.as_admin(), &before, "", 500).await.len(), 4);
    }
);

db_test!(
    async fn a_filter_the_calendar_moves_cannot_be_synced_by_updated_since(app) {
        for (path, filter) in [
            ("/api/v1/organisations", "membership_status=current"),
            ("/api/v1/contacts", "organisation=0192f0c4-0000-7000-8000-000000000000"),
        ] {
            let refused = app.get(&format!("{path}?{filter}&updated_since=2026-01-01T00:00:00Z")).await;
            assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text());
            let problem = refused.json();
            assert!(problem["detail"].as_str().unwrap().contains("/api/v1/changes"), "{problem}");
            assert_eq!(problem["errors"][0]["code"], "conflicts_with_updated_since");
            // Each alone is fine.
            ok(&app.get(&format!("{path}?{filter}")).await);
            ok(&app.get(&format!("{path}?updated_since=2026-01-01T00:00:00Z")).await);
        }
    }
);

/// A CSV of `rows` organisations named after `batch`, for an import of that many rows.
fn organisations_csv(batch: usize, rows: usize) -> Vec<u8> {
    let mut csv = String::from("name,kind\n");
    for row in 0..rows {
        csv.push_str(&format!("Batch {batch} organisation {row},local_charity\n"));
    }
    csv.into_bytes()
}

db_test!(
    async fn a_reader_polling_during_concurrent_writes_of_random_length_sees_each_once(app) {
        let start = position(&app).await;
        let done = Rc::new(RefCell::new(false));
        let reader = {
            let done = done.clone();
            let app = &app;
            let start = start.clone();
            async move {
                let mut after = start;
                let mut events: Vec<Value> = Vec::new();
                loop {
                    let finished = *done.borrow();
                    let page = ok(&app.get(&format!("/api/v1/changes?after={after}&limit=37&types=organisation.created")).await);
                    let data = page["data"].as_array().unwrap().clone();
                    after = page["next_position"].as_str().unwrap().to_owned();
                    let empty = data.is_empty();
                    events.extend(data);
                    if finished && empty {
                        return events;
                    }
                    actix_web::rt::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            }
        };
        let writers = {
            let app = &app;
            async move {
                // A write refused while the database is busy (503: SQLite's one writer) wrote
                // nothing; the writer retries, as Retry-After tells a client to.
                let until_written = |path: &'static str, content_type: &'static str, body: Vec<u8>, expected: StatusCode| async move {
                    loop {
                        let request = app.request(Method::POST, path).insert_header(("content-type", content_type));
                        let response = app.send(request, Some(body.clone())).await;
                        if response.status != StatusCode::SERVICE_UNAVAILABLE {
                            assert_eq!(response.status, expected, "{}", response.text());
                            return;
                        }
                        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                };
                let writer = |w: usize| async move {
                    for round in 0..4 {
                        // Imports of random size are long transactions; single creates are short.
                        let rows = 1 + (uuid::Uuid::now_v7().as_u128() % 120) as usize;
                        let csv = organisations_csv(w * 10 + round, rows);
                        until_written("/api/v1/imports/organisations", "text/csv", csv, StatusCode::OK).await;
                        let single = json!({"name": format!("Writer {w} single {round}"), "kind": "local_charity"});
                        until_written("/api/v1/organisations", "application/json", single.to_string().into_bytes(), StatusCode::CREATED).await;
                    }
                };
                futures_util::future::join_all((0..4).map(writer)).await;
                *done.borrow_mut() = true;
            }
        };
        let (events, ()) = futures_util::future::join(reader, writers).await;
        let ids: Vec<&str> = events.iter().map(|e| e["entity_id"].as_str().unwrap()).collect();
        let unique: BTreeSet<&str> = ids.iter().copied().collect();
        assert_eq!(unique.len(), ids.len(), "no change is seen twice");
        let created: BTreeSet<String> = app
            .list_all("")
            .await
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect();
        let seen: BTreeSet<String> = unique.iter().map(|id| (*id).to_owned()).collect();
        assert_eq!(seen, created, "every committed change is seen");
        let positions: Vec<(i64, i64)> = events.iter().map(order).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "in feed order");
    }
);

db_test!(
    async fn a_write_that_began_first_and_commits_last_is_read_after_the_others(app) {
        use convene::domain::changes::{Change, Pending};
        let start = position(&app).await;
        // A slow write appends its change, then holds its transaction open.
        let (appended, appended_seen) = std::sync::mpsc::channel();
        let db = app.state.db.clone();
        let slow = std::thread::spawn(move || {
            let mut conn = db.connection().unwrap();
            convene::db::write_transaction(&mut conn, |conn| {
                let mut pending = Pending::default();
                pending.push(Change::new("organisation.created", "organisation", "the-slow-one"));
                pending.append(conn, convene::domain::now())?;
                appended.send(()).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(400));
                pending.seal(conn, convene::domain::now())
            })
            .unwrap();
        });
        appended_seen.recv().unwrap();
        // A quick write begins after it and (on PostgreSQL) commits first; a reader reads now.
        let quick = organisation(&app, "Quick").await;
        let first = ok(&app.get(&format!("/api/v1/changes?after={start}&limit=500")).await);
        slow.join().unwrap();
        let rest = read_all(&app.as_admin(), first["next_position"].as_str().unwrap(), "", 500).await;
        let seen: Vec<&str> = first["data"]
            .as_array()
            .unwrap()
            .iter()
            .chain(&rest)
            .map(|e| e["entity_id"].as_str().unwrap())
            .collect();
        // Each once, in commit order: on PostgreSQL the quick write committed first, so the
        // slow change, numbered as it commits, comes after it (not skipped behind it); on
        // SQLite the quick write waited for the slow one's lock.
        let committed = match app.db.url.is_postgres() {
            true => [quick.as_str(), "the-slow-one"],
            false => ["the-slow-one", quick.as_str()],
        };
        assert_eq!(seen, committed);
    }
);
