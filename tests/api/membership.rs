//! The membership lifecycle: actions allowed only from the right status, status on any date
//! at every boundary, and lists filtered by status as SQL that agrees with each record.

use actix_web::http::StatusCode;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{TestApp, TestResponse};

async fn organisation(app: &TestApp, name: &str) -> String {
    let created = app
        .create_organisation(&json!({"name": name, "kind": "local_charity"}))
        .await;
    created["id"].as_str().unwrap().to_owned()
}

async fn action(app: &TestApp, id: &str, name: &str, body: Value) -> TestResponse {
    app.post_json(
        &format!("/api/v1/organisations/{id}/membership/{name}"),
        &body,
    )
    .await
}

#[track_caller]
fn ok(response: &TestResponse) -> Value {
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.json()
}

async fn status_on(app: &TestApp, id: &str, day: &str) -> Value {
    let response = app
        .get(&format!(
            "/api/v1/organisations/{id}/membership?as_of={day}"
        ))
        .await;
    ok(&response)["status"].clone()
}

/// A full member from 1 April 2024 to 31 March 2025, applied on 1 March 2024.
async fn member(app: &TestApp, name: &str) -> String {
    let id = organisation(app, name).await;
    ok(&action(
        app,
        &id,
        "apply",
        json!({"tier": "full", "applied_on": "2024-03-01"}),
    )
    .await);
    ok(&action(
        app,
        &id,
        "approve",
        json!({"start_on": "2024-04-01", "end_on": "2025-03-31"}),
    )
    .await);
    id
}

db_test!(
    async fn status_is_derived_for_any_date_at_every_boundary(app) {
        let id = member(&app, "Northside Peer Voices").await;
        for (day, expected) in [
            ("2024-02-29", Value::Null),
            ("2024-03-01", json!("pending")),
            ("2024-03-31", json!("pending")),
            ("2024-04-01", json!("current")),
            ("2025-03-31", json!("current")),
            ("2025-04-01", json!("grace")),
            ("2025-04-30", json!("grace")),
            ("2025-05-01", json!("lapsed")),
        ] {
            assert_eq!(status_on(&app, &id, day).await, expected, "{day}");
        }
        let membership = ok(&app.get(&format!("/api/v1/organisations/{id}/membership?as_of=2024-06-01")).await);
        assert_eq!(membership["joined_on"], "2024-04-01");
        assert_eq!(membership["current_period"], json!({"start_on": "2024-04-01", "end_on": "2025-03-31"}));
        let actions: Vec<&str> = membership["history"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["apply", "approve"]);
        // The organisation carries its membership as of today: long lapsed.
        let organisation = app.get(&format!("/api/v1/organisations/{id}")).await.json();
        assert_eq!(organisation["membership"]["status"], "lapsed");
        assert_eq!(organisation["membership"]["tier"], "full");
    }
);

db_test!(
    async fn renewals_continue_withdrawals_end_and_reinstatements_restart(app) {
        let today = chrono::Utc::now().date_naive();
        // Lapsed: a renewal starts today unless told otherwise.
        let lapsed = member(&app, "Westgate Advocacy").await;
        let renewed = ok(&action(&app, &lapsed, "renew", json!({})).await);
        assert_eq!(renewed["periods"][1]["start_on"], today.to_string());

        let id = member(&app, "Eastgate Youth Law").await;
        let month_ago = today - chrono::Days::new(30);
        let body = json!({"tier": "associate", "start_on": month_ago});
        let renewed = ok(&action(&app, &id, "renew", body).await);
        assert_eq!(renewed["status"], "current");
        assert_eq!(renewed["tier"], "associate");
        assert_eq!(renewed["periods"].as_array().unwrap().len(), 2);

        // Current: the next renewal follows on from the day after.
        let next = ok(&action(&app, &id, "renew", json!({})).await);
        let periods = next["periods"].as_array().unwrap();
        let end: chrono::NaiveDate = periods[1]["end_on"].as_str().unwrap().parse().unwrap();
        assert_eq!(periods[2]["start_on"], end.succ_opt().unwrap().to_string());

        let body = json!({"reason": "Merged with another member"});
        let withdrawn = ok(&action(&app, &id, "withdraw", body).await);
        assert_eq!(withdrawn["status"], "withdrawn");
        // The running period ends the day before; the future one is gone.
        let periods = withdrawn["periods"].as_array().unwrap();
        assert_eq!(periods.len(), 2);
        assert_eq!(periods[1]["end_on"], today.pred_opt().unwrap().to_string());
        assert_eq!(withdrawn["withdrawals"][0]["reason"], "Merged with another member");

        let back = ok(&action(&app, &id, "reinstate", json!({})).await);
        assert_eq!(back["status"], "current");
        assert_eq!(back["withdrawals"][0]["reinstated_on"], today.to_string());
        let actions: Vec<&str> = back["history"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["apply", "approve", "renew", "renew", "withdraw", "reinstate"]);
        assert!(back["history"][4]["actor_user_id"].is_string());
    }
);

db_test!(
    async fn moves_the_status_does_not_allow_are_409_and_change_nothing(app) {
        let prospect = organisation(&app, "Prospect Trust").await;
        for name in ["approve", "renew", "withdraw", "reinstate"] {
            let body = if name == "withdraw" { json!({"reason": "r"}) } else { json!({}) };
            let problem = action(&app, &prospect, name, body).await.problem(409);
            assert!(problem["detail"].as_str().unwrap().contains("apply first"), "{problem}");
        }
        let pending = organisation(&app, "Pending Trust").await;
        ok(&action(&app, &pending, "apply", json!({"tier": "associate"})).await);
        let before = app.get(&format!("/api/v1/organisations/{pending}/membership")).await.json();
        for (name, hint) in [("renew", "approve"), ("reinstate", "withdrawn"), ("apply", "already")] {
            let body = if name == "apply" { json!({"tier": "full"}) } else { json!({}) };
            let problem = action(&app, &pending, name, body).await.problem(409);
            assert_eq!(problem["type"], "/problems/conflict");
            assert!(problem["detail"].as_str().unwrap().contains(hint), "{name}: {problem}");
        }
        assert_eq!(app.get(&format!("/api/v1/organisations/{pending}/membership")).await.json(), before);

        let member = member(&app, "Member Trust").await;
        action(&app, &member, "approve", json!({})).await.problem(409);
        ok(&action(&app, &member, "withdraw", json!({"reason": "Closed"})).await);
        action(&app, &member, "withdraw", json!({"reason": "Again"})).await.problem(409);
        action(&app, &member, "renew", json!({})).await.problem(409);

        let missing = uuid::Uuid::now_v7();
        action(&app, &missing.to_string(), "apply", json!({"tier": "full"})).await.problem(404);
        app.get(&format!("/api/v1/organisations/{prospect}/membership")).await.problem(404);
    }
);

db_test!(
    async fn bad_action_bodies_are_422_and_overlaps_409(app) {
        let id = member(&app, "Dates Trust").await;
        let empty = action(&app, &id, "withdraw", json!({})).await;
        empty.problem(422);
        assert_eq!(empty.error_fields(), ["reason"]);
        let response = action(&app, &id, "renew", json!({"start_on": "2026-05-01", "end_on": "2026-04-01"})).await;
        response.problem(422);
        assert_eq!(response.error_fields(), ["end_on"]);
        action(&app, &id, "renew", json!({"start_on": "31/03/2026"})).await.problem(422);
        // Renewing into the time of an existing period.
        let overlap = action(&app, &id, "renew", json!({"start_on": "2025-01-01"})).await;
        assert_eq!(overlap.problem(409)["errors"][0]["field"], "start_on");
    }
);

db_test!(
    async fn lists_filter_by_status_on_a_date_and_agree_with_each_record(app) {
        member(&app, "Alpha Member").await;
        let pending = organisation(&app, "Beta Applicant").await;
        ok(&action(&app, &pending, "apply", json!({"tier": "full", "applied_on": "2024-05-01"})).await);
        let withdrawn = member(&app, "Gamma Former").await;
        ok(&action(&app, &withdrawn, "withdraw", json!({"reason": "Closed", "withdrawn_on": "2024-10-01"})).await);
        organisation(&app, "Delta Prospect").await;

        let statuses = ["pending", "current", "grace", "lapsed", "withdrawn"];
        for day in ["2024-03-15", "2024-04-01", "2024-09-30", "2024-10-01", "2025-03-31", "2025-04-01", "2025-04-30", "2025-05-01"] {
            let everyone = app.list_all(&format!("as_of={day}")).await;
            assert_eq!(everyone.len(), 4);
            for status in statuses {
                let filtered: Vec<String> = app
                    .list_all(&format!("as_of={day}&membership_status={status}"))
                    .await
                    .iter()
                    .map(|o| o["name"].as_str().unwrap().to_owned())
                    .collect();
                let expected: Vec<String> = everyone
                    .iter()
                    .filter(|o| o["membership"]["status"] == status)
                    .map(|o| o["name"].as_str().unwrap().to_owned())
                    .collect();
                assert_eq!(filtered, expected, "{status} on {day}");
            }
        }
        let active = app.list_all("as_of=2024-06-01&membership_status=current&membership_status=grace").await;
        let names: Vec<&str> = active.iter().map(|o| o["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Alpha Member", "Gamma Former"]);
        // `active` is `current` and `grace` together, as reports count members.
        let by_word = app.list_all("as_of=2024-06-01&membership_status=active").await;
        assert_eq!(by_word, active);
        let overlapping = app.list_all("as_of=2024-06-01&membership_status=active&membership_status=grace").await;
        assert_eq!(overlapping, active);
        app.get("/api/v1/organisations?membership_status=activ").await.problem(400);
        app.get("/api/v1/organisations?as_of=2024-13-01").await.problem(400);
    }
);

db_test!(
    async fn concurrent_renewals_never_overlap(app) {
        let id = member(&app, "Busy Trust").await;
        ok(&action(&app, &id, "renew", json!({})).await);
        let path = format!("/api/v1/organisations/{id}/membership/renew");
        let empty = json!({});
        let renewals = (0..6).map(|_| app.post_json(&path, &empty));
        let results = futures_util::future::join_all(renewals).await;
        for response in &results {
            let status = response.status.as_u16();
            assert!(status == 200 || status == 503, "{}", response.text());
        }
        let membership = app.get(&format!("/api/v1/organisations/{id}/membership")).await.json();
        let periods = membership["periods"].as_array().unwrap();
        let succeeded = results.iter().filter(|r| r.status == StatusCode::OK).count();
        assert_eq!(periods.len(), 2 + succeeded);
        for pair in periods.windows(2) {
            assert!(pair[0]["end_on"].as_str() < pair[1]["start_on"].as_str(), "{pair:?}");
        }
    }
);

db_test!(
    async fn concurrent_actions_are_recorded_in_the_order_they_ran(app) {
        let id = member(&app, "Crowded Trust").await;
        ok(&action(&app, &id, "renew", json!({})).await);
        let path = format!("/api/v1/organisations/{id}/membership/renew");
        let empty = json!({});
        let results = futures_util::future::join_all((0..60).map(|_| app.post_json(&path, &empty))).await;
        for response in &results {
            let status = response.status.as_u16();
            assert!(status == 200 || status == 503, "{}", response.text());
        }
        let membership = ok(&app.get(&format!("/api/v1/organisations/{id}/membership")).await);
        let history = membership["history"].as_array().unwrap();
        let succeeded = results.iter().filter(|r| r.status == StatusCode::OK).count();
        assert_eq!(history.len(), 3 + succeeded);
        // Replayed in its own order, the history is what happened: each renewal continues the
        // one recorded before it, and each is recorded later.
        for pair in history[2..].windows(2) {
            let end: chrono::NaiveDate = pair[0]["period"]["end_on"].as_str().unwrap().parse().unwrap();
            assert_eq!(pair[1]["period"]["start_on"], end.succ_opt().unwrap().to_string(), "{pair:?}");
            assert!(pair[0]["recorded_at"].as_str() < pair[1]["recorded_at"].as_str(), "{pair:?}");
        }
        // Each action moved the organisation's version on, and its time is the last action's.
        let organisation = app.get(&format!("/api/v1/organisations/{id}")).await;
        assert_eq!(organisation.header("etag").unwrap(), format!("\"{}\"", 1 + history.len()));
        assert_eq!(organisation.json()["updated_at"], history.last().unwrap()["recorded_at"]);
    }
);

db_test!(
    async fn a_default_year_that_spans_29_february_is_not_a_day_short(app) {
        let id = organisation(&app, "Leap Trust").await;
        ok(&action(&app, &id, "apply", json!({"tier": "full", "applied_on": "2023-02-01"})).await);
        let approved = ok(&action(&app, &id, "approve", json!({"start_on": "2023-03-01"})).await);
        assert_eq!(approved["periods"][0], json!({"start_on": "2023-03-01", "end_on": "2024-02-29"}));
        // The next year starts on 1 March and, with no 29 February in it, ends on 28 February.
        let renewed = ok(&action(&app, &id, "renew", json!({"start_on": "2024-03-01"})).await);
        assert_eq!(renewed["periods"][1], json!({"start_on": "2024-03-01", "end_on": "2025-02-28"}));
        // The issue's own case, approved ahead of time.
        let ahead = organisation(&app, "Ahead Trust").await;
        ok(&action(&app, &ahead, "apply", json!({"tier": "full"})).await);
        let approved = ok(&action(&app, &ahead, "approve", json!({"start_on": "2027-03-01"})).await);
        assert_eq!(approved["periods"][0], json!({"start_on": "2027-03-01", "end_on": "2028-02-29"}));
        // A year from 29 February runs to the day before 1 March: 28 February.
        let leapling = organisation(&app, "Leapling Trust").await;
        ok(&action(&app, &leapling, "apply", json!({"tier": "full", "applied_on": "2024-02-29"})).await);
        let approved = ok(&action(&app, &leapling, "approve", json!({"start_on": "2024-02-29"})).await);
        assert_eq!(approved["periods"][0], json!({"start_on": "2024-02-29", "end_on": "2025-02-28"}));
    }
);

db_test!(
    async fn a_withdrawal_not_yet_in_effect_is_cancelled_by_reinstating(app) {
        let today = chrono::Utc::now().date_naive();
        let id = organisation(&app, "Second Thoughts Trust").await;
        ok(&action(&app, &id, "apply", json!({"tier": "full", "applied_on": "2024-01-01"})).await);
        ok(&action(&app, &id, "approve", json!({"start_on": today - chrono::Days::new(30)})).await);
        // Renewed ahead: a period not yet begun.
        let before = ok(&action(&app, &id, "renew", json!({})).await);
        assert_eq!(before["periods"].as_array().unwrap().len(), 2);
        let on = today + chrono::Days::new(60);
        let body = json!({"reason": "Closing down", "withdrawn_on": on});
        let withdrawn = ok(&action(&app, &id, "withdraw", body).await);
        assert_eq!(withdrawn["status"], "current");
        assert_eq!(withdrawn["periods"], json!([{"start_on": before["periods"][0]["start_on"], "end_on": on.pred_opt().unwrap()}]));
        let later = format!("/api/v1/organisations/{id}/membership?as_of={}", on + chrono::Days::new(10));
        assert_eq!(ok(&app.get(&later).await)["status"], "withdrawn");
        // Cancelling takes no dates: it restores what was there.
        let dated = action(&app, &id, "reinstate", json!({"start_on": today})).await;
        dated.problem(422);
        assert_eq!(dated.error_fields(), ["start_on"]);

        let cancelled = ok(&action(&app, &id, "reinstate", json!({})).await);
        assert_eq!(cancelled["status"], "current");
        assert_eq!(cancelled["periods"], before["periods"], "the periods exactly as they were");
        assert_eq!(cancelled["withdrawals"][0]["withdrawn_on"], on.to_string());
        assert_eq!(cancelled["withdrawals"][0]["reinstated_on"], on.to_string());
        assert_eq!(ok(&app.get(&later).await)["status"], "current");
        // Lists agree with the record on the day the withdrawal would have begun.
        let query = format!("as_of={}&membership_status=withdrawn&q=second", on + chrono::Days::new(10));
        assert!(app.list_all(&query).await.is_empty());
        let query = format!("as_of={}&membership_status=current&q=second", on + chrono::Days::new(10));
        assert_eq!(app.list_all(&query).await.len(), 1);
        let actions: Vec<&str> = cancelled["history"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["apply", "approve", "renew", "withdraw", "reinstate"]);
        // Nothing is scheduled any more: the membership can be renewed or withdrawn again.
        ok(&action(&app, &id, "renew", json!({})).await);
        ok(&action(&app, &id, "withdraw", json!({"reason": "Closing after all"})).await);
        // A withdrawal in effect is reinstated as before, with a new period.
        let back = ok(&action(&app, &id, "reinstate", json!({})).await);
        assert_eq!(back["status"], "current");
        let second = back["withdrawals"].as_array().unwrap().iter().find(|w| w["reason"] == "Closing after all").unwrap();
        assert_eq!(second["reinstated_on"], today.to_string());
    }
);

db_test!(
    async fn a_withdrawal_dated_before_the_latest_period_is_refused_and_removes_nothing(app) {
        let today = chrono::Utc::now().date_naive();
        let id = member(&app, "Typo Trust").await;
        ok(&action(&app, &id, "renew", json!({"start_on": "2025-04-01"})).await);
        ok(&action(&app, &id, "renew", json!({"start_on": today - chrono::Days::new(10)})).await);
        let before = ok(&app.get(&format!("/api/v1/organisations/{id}/membership")).await);
        let typo = action(&app, &id, "withdraw", json!({"reason": "Closed", "withdrawn_on": "2024-06-01"})).await;
        let problem = typo.problem(409);
        assert!(problem["detail"].as_str().unwrap().contains("before the start of the latest period"), "{problem}");
        assert_eq!(typo.error_fields(), ["withdrawn_on"]);
        assert_eq!(ok(&app.get(&format!("/api/v1/organisations/{id}/membership")).await), before);
        // Within the latest period it is allowed, and ends that period the day before.
        let on = today - chrono::Days::new(5);
        let withdrawn = ok(&action(&app, &id, "withdraw", json!({"reason": "Closed", "withdrawn_on": on})).await);
        let periods = withdrawn["periods"].as_array().unwrap();
        assert_eq!(periods.len(), 3);
        assert_eq!(periods[2]["end_on"], on.pred_opt().unwrap().to_string());
    }
);

db_test!(
    async fn an_approval_from_before_the_application_is_honoured(app) {
        let id = organisation(&app, "Late Paperwork Trust").await;
        ok(&action(&app, &id, "apply", json!({"tier": "full", "applied_on": "2024-05-01"})).await);
        let approved = ok(&action(&app, &id, "approve", json!({"start_on": "2024-04-01"})).await);
        assert_eq!(approved["periods"][0], json!({"start_on": "2024-04-01", "end_on": "2025-03-31"}));
        assert_eq!(approved["applied_on"], "2024-04-01");
        assert_eq!(approved["joined_on"], "2024-04-01");
        assert_eq!(status_on(&app, &id, "2024-04-01").await, "current");
        let members = app.list_all("as_of=2024-04-15&membership_status=current&q=late").await;
        assert_eq!(members.len(), 1);
    }
);

db_test!(
    async fn an_application_dated_in_the_future_is_refused(app) {
        let today = chrono::Utc::now().date_naive();
        let id = organisation(&app, "Eager Trust").await;
        let future = action(&app, &id, "apply", json!({"tier": "full", "applied_on": today + chrono::Days::new(7)})).await;
        future.problem(422);
        assert_eq!(future.error_fields(), ["applied_on"]);
        app.get(&format!("/api/v1/organisations/{id}/membership")).await.problem(404);
        // Nothing is left half-made: an application today goes through and can be approved.
        ok(&action(&app, &id, "apply", json!({"tier": "full", "applied_on": today})).await);
        assert_eq!(ok(&action(&app, &id, "approve", json!({})).await)["status"], "current");
    }
);
