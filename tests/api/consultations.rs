//! Consultations: CRUD with ETags and tombstones, the allowed status moves, invitations of
//! organisations and whole groups, one response per respondent, participation, anonymity, access.

use actix_web::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{TestApp, TestResponse};
use crate::organisations::urlencode;

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

fn data(response: &TestResponse) -> Vec<Value> {
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.json()["data"].as_array().unwrap().clone()
}

/// Creates a consultation from `body` and returns it, failing the test otherwise.
async fn create_consultation(app: &TestApp, body: Value) -> Value {
    let response = app.post_json("/api/v1/consultations", &body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    response.json()
}

async fn set_status(app: &TestApp, consultation: &str, status: &str) -> TestResponse {
    let path = format!("/api/v1/consultations/{consultation}");
    app.patch_json(&path, &json!({"status": status}), None)
        .await
}

/// A member consultation called `title`, brought to `status` through the allowed moves.
async fn consultation(app: &TestApp, title: &str, status: &str) -> String {
    let created = if status == "draft" { "draft" } else { "open" };
    let body = json!({"title": title, "kind": "member_consultation", "status": created});
    let consultation = id(&create_consultation(app, body).await);
    let steps: &[&str] = match status {
        "closed" => &["closed"],
        "published" => &["closed", "published"],
        _ => &[],
    };
    for step in steps {
        let response = set_status(app, &consultation, step).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    }
    consultation
}

async fn organisation(app: &TestApp, name: &str) -> String {
    id(&app
        .create_organisation(&json!({"name": name, "kind": "local_charity"}))
        .await)
}

async fn contact(app: &TestApp, given: &str, family: &str) -> String {
    let body = json!({"given_name": given, "family_name": family});
    let response = app.post_json("/api/v1/contacts", &body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    id(&response.json())
}

/// An active expert group called `name`; returns its id.
async fn group(app: &TestApp, name: &str) -> String {
    let body = json!({"name": name, "kind": "expert_group", "status": "active"});
    let response = app.post_json("/api/v1/expert-groups", &body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    id(&response.json())
}

/// Adds `body` (an organisation or contact with a role) to `group`, failing otherwise.
async fn join(app: &TestApp, group: &str, body: Value) -> Value {
    let path = format!("/api/v1/expert-groups/{group}/members");
    let response = app.post_json(&path, &body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    response.json()
}

async fn invite(app: &TestApp, consultation: &str, body: Value) -> TestResponse {
    let path = format!("/api/v1/consultations/{consultation}/invitations");
    app.post_json(&path, &body).await
}

/// Invites, failing the test unless it is 201; returns the body.
async fn invited(app: &TestApp, consultation: &str, body: Value) -> Value {
    let response = invite(app, consultation, body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    response.json()
}

async fn respond(app: &TestApp, consultation: &str, body: Value) -> TestResponse {
    let path = format!("/api/v1/consultations/{consultation}/responses");
    app.post_json(&path, &body).await
}

/// Responds, failing the test unless it is 201; returns the response.
async fn response(app: &TestApp, consultation: &str, body: Value) -> Value {
    let answer = respond(app, consultation, body).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text());
    answer.json()
}

/// The ids of organisations or contacts in a list of invitations.
fn invitees(entries: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = entries
        .iter()
        .map(|e| {
            e["organisation_id"]
                .as_str()
                .or(e["contact_id"].as_str())
                .unwrap()
                .to_owned()
        })
        .collect();
    ids.sort();
    ids
}

fn sorted(ids: &[&str]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|i| (*i).to_owned()).collect();
    ids.sort();
    ids
}

async fn titles(app: &TestApp, query: &str) -> Vec<String> {
    data(&app.get(&format!("/api/v1/consultations?{query}")).await)
        .iter()
        .map(|c| c["title"].as_str().unwrap().to_owned())
        .collect()
}

#[track_caller]
fn assert_rate(value: &Value, expected: f64) {
    let rate = value
        .as_f64()
        .unwrap_or_else(|| panic!("a number, got {value}"));
    assert!((rate - expected).abs() < 1e-9, "{rate} != {expected}");
}

/// The CSV `path` answers with for `caller`'s credential: its header and its rows.
async fn csv_as(
    app: &TestApp,
    credential: &str,
    path: &str,
) -> (Vec<String>, Vec<csv::StringRecord>, String) {
    let caller = app.as_(Some(credential));
    let request = caller
        .request(Method::GET, path)
        .insert_header(("accept", "text/csv"));
    let response = caller.send(request, None).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert!(
        response
            .header("content-type")
            .unwrap()
            .starts_with("text/csv")
    );
    let mut reader = csv::Reader::from_reader(response.body.as_slice());
    let headers = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader.records().map(Result::unwrap).collect();
    (headers, rows, response.text())
}

db_test!(
    async fn consultations_are_created_read_changed_and_deleted_with_etags(app) {
        let lead = group(&app, "Policy working group").await;
        let body = json!({
            "title": "Youth justice white paper",
            "kind": "government_response",
            "summary": "The alliance's response to the white paper.\nDrafted with members.",
            "expertise": ["courts_legal_rights", "racial_justice"],
            "lead_group_id": lead,
            "opens_on": "2026-01-10",
            "closes_on": "2026-02-28",
            "external_url": "https://www.gov.uk/government/consultations/youth-justice",
        });
        let created = app.post_json("/api/v1/consultations", &body).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
        let stored = created.json();
        let consultation = id(&stored);
        assert_eq!(uuid::Uuid::parse_str(&consultation).unwrap().get_version_num(), 7);
        let path = format!("/api/v1/consultations/{consultation}");
        assert_eq!(created.header("location").unwrap(), path);
        for field in ["title", "kind", "summary", "expertise", "lead_group_id", "opens_on", "closes_on", "external_url"] {
            assert_eq!(stored[field], body[field], "{field}");
        }
        assert_eq!(stored["status"], "draft", "a new consultation is a draft unless told otherwise");
        assert!(stored["created_at"].is_string() && stored["updated_at"].is_string());

        let read = app.get(&path).await;
        assert_eq!(read.json(), stored, "what was returned is what was stored");
        assert_eq!(read.header("etag").unwrap(), "\"1\"");
        let unchanged = app.request(Method::GET, &path).insert_header(("if-none-match", "\"1\""));
        assert_eq!(app.send(unchanged, None).await.status, StatusCode::NOT_MODIFIED);

        let patched = app.patch_json(&path, &json!({"title": "Youth justice white paper: our response", "external_url": null}), Some("\"1\"")).await;
        assert_eq!(patched.status, StatusCode::OK, "{}", patched.text());
        assert_eq!(patched.header("etag").unwrap(), "\"2\"");
        assert_eq!(patched.json()["title"], "Youth justice white paper: our response");
        assert_eq!(patched.json()["external_url"], json!(null));
        assert_eq!(patched.json()["summary"], body["summary"], "fields left out are kept");
        app.patch_json(&path, &json!({"title": "Stale"}), Some("\"1\"")).await.problem(412);

        let open = create_consultation(&app, json!({"title": "Open from the start", "kind": "survey", "status": "open"})).await;
        assert_eq!(open["status"], "open");
        assert_eq!(open["lead_group_id"], json!(null));

        app.delete(&path, Some("\"1\"")).await.problem(412);
        assert_eq!(app.delete(&path, Some("\"2\"")).await.status, StatusCode::NO_CONTENT);
        app.get(&path).await.problem(404);
        app.patch_json(&path, &json!({"title": "Back"}), None).await.problem(404);
        app.get(&format!("/api/v1/consultations/{}", uuid::Uuid::now_v7())).await.problem(404);
    }
);

db_test!(
    async fn invalid_consultations_are_422_naming_each_field(app) {
        let deleted_group = group(&app, "Deleted group").await;
        app.delete(&format!("/api/v1/expert-groups/{deleted_group}"), None).await;
        let cases = [
            (json!({"kind": "survey"}), "title"),
            (json!({"title": "Two\nlines", "kind": "survey"}), "title"),
            (json!({"title": "x".repeat(301), "kind": "survey"}), "title"),
            (json!({"title": "No kind"}), "kind"),
            (json!({"title": "Picnic", "kind": "picnic"}), "kind"),
            (json!({"title": "Long", "kind": "survey", "summary": "x".repeat(10_001)}), "summary"),
            (json!({"title": "Astrology", "kind": "survey", "expertise": ["astrology"]}), "expertise[0]"),
            (json!({"title": "Backwards", "kind": "survey", "opens_on": "2026-03-01", "closes_on": "2026-02-28"}), "closes_on"),
            (json!({"title": "FTP", "kind": "survey", "external_url": "ftp://example.org/file"}), "external_url"),
            (json!({"title": "Nowhere", "kind": "survey", "lead_group_id": uuid::Uuid::now_v7()}), "lead_group_id"),
            (json!({"title": "Deleted lead", "kind": "survey", "lead_group_id": deleted_group}), "lead_group_id"),
            (json!({"title": "Born closed", "kind": "survey", "status": "closed"}), "status"),
            (json!({"title": "Born published", "kind": "survey", "status": "published"}), "status"),
        ];
        for (body, field) in cases {
            let response = app.post_json("/api/v1/consultations", &body).await;
            response.problem(422);
            assert!(response.error_fields().contains(&field.to_owned()), "{field}: {}", response.text());
        }
        assert!(titles(&app, "").await.is_empty(), "a failed create writes nothing");
    }
);

db_test!(
    async fn deleted_consultations_leave_tombstones_for_sync(app) {
        consultation(&app, "Kept consultation", "draft").await;
        let gone = create_consultation(&app, json!({"title": "Gone consultation", "kind": "survey"})).await;
        let since = urlencode(gone["updated_at"].as_str().unwrap());
        let path = format!("/api/v1/consultations/{}", id(&gone));
        assert_eq!(app.delete(&path, None).await.status, StatusCode::NO_CONTENT);
        app.delete(&path, None).await.problem(404);
        assert_eq!(titles(&app, "").await, ["Kept consultation"]);

        let changes = data(&app.get(&format!("/api/v1/consultations?updated_since={since}&include_deleted=true")).await);
        assert_eq!(changes.len(), 1, "only the change after the timestamp: {changes:?}");
        assert_eq!(changes[0]["id"], id(&gone));
        assert!(changes[0]["deleted_at"].is_string());
        assert_eq!(changes[0].as_object().unwrap().len(), 2, "a tombstone is id and deleted_at");
        assert!(data(&app.get(&format!("/api/v1/consultations?updated_since={since}")).await).is_empty());
    }
);

db_test!(
    async fn consultation_lists_filter_sort_page_and_export(app) {
        let lead = group(&app, "Courts working group").await;
        for body in [
            json!({"title": "Youth justice white paper", "kind": "government_response", "status": "open", "expertise": ["courts_legal_rights"], "lead_group_id": lead, "opens_on": "2026-01-10"}),
            json!({"title": "call for evidence on school exclusion", "kind": "call_for_evidence", "expertise": ["education_exclusion"], "opens_on": "2026-02-01"}),
            json!({"title": "Summer roundtable", "kind": "roundtable", "status": "open", "expertise": ["racial_justice"], "opens_on": "2026-03-05"}),
        ] {
            create_consultation(&app, body).await;
        }
        let all = ["call for evidence on school exclusion", "Summer roundtable", "Youth justice white paper"];
        assert_eq!(titles(&app, "").await, all, "case-insensitive title order by default");
        let cases: &[(&str, &[&str])] = &[
            ("kind=roundtable", &["Summer roundtable"]),
            ("kind=roundtable&kind=call_for_evidence", &["call for evidence on school exclusion", "Summer roundtable"]),
            ("status=open", &["Summer roundtable", "Youth justice white paper"]),
            ("status=draft", &["call for evidence on school exclusion"]),
            ("status=closed", &[]),
            ("expertise=racial_justice", &["Summer roundtable"]),
            ("expertise=racial_justice&expertise=courts_legal_rights", &["Summer roundtable", "Youth justice white paper"]),
            ("q=ROUNDTABLE", &["Summer roundtable"]),
            ("q=paper&status=open", &["Youth justice white paper"]),
            ("sort=-title", &["Youth justice white paper", "Summer roundtable", "call for evidence on school exclusion"]),
            ("sort=created_at", &["Youth justice white paper", "call for evidence on school exclusion", "Summer roundtable"]),
        ];
        for (query, expected) in cases {
            assert_eq!(titles(&app, query).await, *expected, "{query}");
        }
        assert_eq!(titles(&app, &format!("lead_group={lead}")).await, ["Youth justice white paper"]);

        let first = app.get("/api/v1/consultations?limit=2&include_total=true").await;
        assert!(first.header("link").unwrap().contains("rel=\"next\""));
        let page = first.json();
        assert_eq!(page["total"], 3);
        let cursor = page["next_cursor"].as_str().unwrap();
        assert_eq!(titles(&app, &format!("limit=2&cursor={cursor}")).await, ["Youth justice white paper"]);
        for query in ["limit=501", "limit=0", "kind=picnic", "status=archived", "sort=size", "colour=red"] {
            app.get(&format!("/api/v1/consultations?{query}")).await.problem(400);
        }

        let (headers, rows, _) = csv_as(&app, &app.admin_token, "/api/v1/consultations?status=open").await;
        assert_eq!(headers[0], "id");
        assert!(headers.contains(&"title".to_owned()), "{headers:?}");
        assert_eq!(rows.len(), 2);

        assert_eq!(titles(&app, "sort=opens_on").await, ["Youth justice white paper", "call for evidence on school exclusion", "Summer roundtable"]);
        assert_eq!(titles(&app, "sort=-opens_on").await, ["Summer roundtable", "call for evidence on school exclusion", "Youth justice white paper"]);
    }
);

db_test!(
    async fn status_moves_only_along_the_allowed_transitions(app) {
        let consultation = consultation(&app, "Member consultation on sentencing", "draft").await;
        for (to, expected) in [
            ("closed", 409),
            ("published", 409),
            ("draft", 200), // the same status is no move at all
            ("open", 200),
            ("draft", 409),
            ("published", 409),
            ("closed", 200),
            ("open", 200), // a closed consultation reopens
            ("closed", 200),
            ("draft", 409),
            ("published", 200),
            ("open", 409),
            ("closed", 409),
            ("draft", 409),
        ] {
            let response = set_status(&app, &consultation, to).await;
            if expected == 200 {
                assert_eq!(response.status, StatusCode::OK, "to {to}: {}", response.text());
                assert_eq!(response.json()["status"], to);
            } else {
                response.problem(expected);
            }
        }
        assert_eq!(app.get(&format!("/api/v1/consultations/{consultation}")).await.json()["status"], "published");
        set_status(&app, &consultation, "archived").await.problem(422);
    }
);

db_test!(
    async fn an_organisation_is_invited_once_and_reinvitations_are_skipped(app) {
        let consultation = consultation(&app, "Call for evidence on remand", "draft").await;
        let org = organisation(&app, "Northside Peer Voices").await;
        let answer = invited(&app, &consultation, json!({"organisation_id": org})).await;
        let rows = answer["invited"].as_array().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["consultation_id"], consultation.as_str());
        assert_eq!(rows[0]["organisation_id"], org.as_str());
        assert_eq!(rows[0]["contact_id"], json!(null));
        assert_eq!(rows[0]["via_group_id"], json!(null));
        assert!(rows[0]["invited_at"].is_string());
        assert_eq!(rows[0]["responded"], false);
        assert_eq!(answer["already_invited"], json!([]));

        let again = invited(&app, &consultation, json!({"organisation_id": org})).await;
        assert_eq!(again["invited"], json!([]));
        let list = data(&app.get(&format!("/api/v1/consultations/{consultation}/invitations")).await);
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["id"], rows[0]["id"]);
        assert_eq!(again["already_invited"], json!([{"organisation_id": org, "contact_id": null}]), "those skipped");
    }
);

db_test!(
    async fn a_group_invitation_covers_the_groups_current_members_at_that_moment(app) {
        let consultation = consultation(&app, "Roundtable on exploitation", "open").await;
        let expert_group = group(&app, "Exploitation expert group").await;
        let direct = organisation(&app, "Invited Directly Trust").await;
        let chair = organisation(&app, "Chair Trust").await;
        let person = contact(&app, "Zainab", "Ali").await;
        let former = organisation(&app, "Former Member Trust").await;
        let late = organisation(&app, "Late Joiner Trust").await;
        join(&app, &expert_group, json!({"organisation_id": direct, "role": "member"})).await;
        join(&app, &expert_group, json!({"organisation_id": chair, "role": "chair"})).await;
        join(&app, &expert_group, json!({"contact_id": person, "role": "member"})).await;
        join(&app, &expert_group, json!({"organisation_id": former, "role": "member", "joined_on": "2024-01-01", "left_on": "2024-12-31"})).await;
        invited(&app, &consultation, json!({"organisation_id": direct})).await;

        let answer = invited(&app, &consultation, json!({"expert_group_id": expert_group})).await;
        let rows = answer["invited"].as_array().unwrap();
        assert_eq!(invitees(rows), sorted(&[&chair, &person]), "current members, not the former one");
        for row in rows {
            assert_eq!(row["via_group_id"], expert_group.as_str(), "recorded as a group invitation");
        }
        let by_person = rows.iter().find(|r| r["contact_id"] == person.as_str()).unwrap();
        assert_eq!(by_person["organisation_id"], json!(null));

        // Someone who joins afterwards was not part of that invitation.
        join(&app, &expert_group, json!({"organisation_id": late, "role": "observer"})).await;
        let path = format!("/api/v1/consultations/{consultation}/invitations");
        let list = data(&app.get(&path).await);
        assert_eq!(invitees(&list), sorted(&[&direct, &chair, &person]));
        let direct_row = list.iter().find(|r| r["organisation_id"] == direct.as_str()).unwrap();
        assert_eq!(direct_row["via_group_id"], json!(null), "the direct invitation stays as it was");

        // Inviting the group again reaches the newcomer and skips everyone already asked.
        let again = invited(&app, &consultation, json!({"expert_group_id": expert_group})).await;
        assert_eq!(invitees(again["invited"].as_array().unwrap()), std::slice::from_ref(&late));
        assert_eq!(again["invited"][0]["via_group_id"], expert_group.as_str());
        assert_eq!(data(&app.get(&path).await).len(), 4);

        // Pages walk the list.
        let first = app.get(&format!("{path}?limit=3")).await.json();
        assert_eq!(first["data"].as_array().unwrap().len(), 3);
        let cursor = first["next_cursor"].as_str().unwrap();
        assert_eq!(data(&app.get(&format!("{path}?limit=3&cursor={cursor}")).await).len(), 1);

        // Who was skipped, by id: the direct invitee the first time, everyone asked the second.
        assert_eq!(answer["already_invited"], json!([{"organisation_id": direct, "contact_id": null}]), "already invited directly");
        let skipped: Vec<&str> = again["already_invited"].as_array().unwrap().iter().map(|i| i["organisation_id"].as_str().or(i["contact_id"].as_str()).unwrap_or_else(|| panic!("a party, got {i}"))).collect();
        assert_eq!(sorted(&skipped), sorted(&[&direct, &chair, &person]));
    }
);

db_test!(
    async fn invitations_name_one_known_organisation_or_group(app) {
        let survey = consultation(&app, "Survey of members", "open").await;
        let org = organisation(&app, "Northside Peer Voices").await;
        let expert_group = group(&app, "Survey group").await;
        invite(&app, &survey, json!({})).await.problem(422);
        invite(&app, &survey, json!({"organisation_id": org, "expert_group_id": expert_group})).await.problem(422);
        let missing = uuid::Uuid::now_v7().to_string();
        let unknown = invite(&app, &survey, json!({"organisation_id": missing})).await;
        assert_eq!(unknown.problem(422)["errors"][0]["field"], "organisation_id");
        let unknown = invite(&app, &survey, json!({"expert_group_id": missing})).await;
        assert_eq!(unknown.problem(422)["errors"][0]["field"], "expert_group_id");
        invite(&app, &missing, json!({"organisation_id": org})).await.problem(404);
        assert!(data(&app.get(&format!("/api/v1/consultations/{survey}/invitations")).await).is_empty());

        // Invitations are fine while draft, open or closed, but not once published.
        for status in ["draft", "closed"] {
            let other = consultation(&app, &format!("A {status} consultation"), status).await;
            invited(&app, &other, json!({"organisation_id": org})).await;
        }
        let published = consultation(&app, "Published report", "published").await;
        invite(&app, &published, json!({"organisation_id": org})).await.problem(409);
        invite(&app, &published, json!({"expert_group_id": expert_group})).await.problem(409);
        assert!(data(&app.get(&format!("/api/v1/consultations/{published}/invitations")).await).is_empty());
    }
);

db_test!(
    async fn responses_are_accepted_only_while_the_consultation_is_open(app) {
        let diversion = consultation(&app, "Consultation on diversion", "draft").await;
        let first = organisation(&app, "Early Trust").await;
        let second = organisation(&app, "Late Trust").await;
        let body = json!({"organisation_id": first, "summary": "We support the proposals."});
        respond(&app, &diversion, body.clone()).await.problem(409);

        assert_eq!(set_status(&app, &diversion, "open").await.status, StatusCode::OK);
        let answer = respond(&app, &diversion, body).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text());
        let stored = answer.json();
        let path = format!("/api/v1/consultations/{diversion}/responses/{}", id(&stored));
        assert_eq!(answer.header("location").unwrap(), path);
        assert_eq!(stored["consultation_id"], diversion.as_str());
        assert_eq!(stored["organisation_id"], first.as_str());
        assert_eq!(stored["contact_id"], json!(null));
        assert_eq!(stored["summary"], "We support the proposals.");
        assert_eq!(stored["attribution"], "named", "named unless told otherwise");
        assert_eq!(stored["attended"], json!(null));
        assert!(stored["submitted_at"].is_string(), "submitted now unless told otherwise");
        assert_eq!(app.get(&path).await.json(), stored);

        assert_eq!(set_status(&app, &diversion, "closed").await.status, StatusCode::OK);
        respond(&app, &diversion, json!({"organisation_id": second})).await.problem(409);
        assert_eq!(set_status(&app, &diversion, "open").await.status, StatusCode::OK);
        let late = response(&app, &diversion, json!({"organisation_id": second, "submitted_at": "2026-03-02T10:00:00Z"})).await;
        assert!(late["submitted_at"].as_str().unwrap().starts_with("2026-03-02T10:00:00"), "{late}");
        let published = consultation(&app, "Published", "published").await;
        respond(&app, &published, json!({"organisation_id": second})).await.problem(409);
        respond(&app, &uuid::Uuid::now_v7().to_string(), json!({"organisation_id": second})).await.problem(404);
    }
);

db_test!(
    async fn one_response_per_respondent_and_an_organisations_response_may_name_its_writer(app) {
        let consultation = consultation(&app, "Call for evidence on policing", "open").await;
        let org = organisation(&app, "Northside Peer Voices").await;
        let writer = contact(&app, "Amara", "Okafor").await;
        let colleague = contact(&app, "Kwame", "Mensah").await;
        let named = response(&app, &consultation, json!({"organisation_id": org, "contact_id": writer, "summary": "Our evidence."})).await;
        assert_eq!(named["organisation_id"], org.as_str());
        assert_eq!(named["contact_id"], writer.as_str(), "the organisation's response names who wrote it");

        // The organisation is the respondent: a second response from it is refused, whoever writes it.
        respond(&app, &consultation, json!({"organisation_id": org})).await.problem(409);
        respond(&app, &consultation, json!({"organisation_id": org, "contact_id": colleague})).await.problem(409);
        // The writer may still answer for themselves, once.
        let own = response(&app, &consultation, json!({"contact_id": writer, "summary": "My own view."})).await;
        assert_eq!(own["organisation_id"], json!(null));
        respond(&app, &consultation, json!({"contact_id": writer})).await.problem(409);
        let list = data(&app.get(&format!("/api/v1/consultations/{consultation}/responses")).await);
        assert_eq!(list.len(), 2);

        respond(&app, &consultation, json!({"summary": "Nobody said this"})).await.problem(422);
        let missing = uuid::Uuid::now_v7().to_string();
        let unknown = respond(&app, &consultation, json!({"organisation_id": missing})).await;
        assert_eq!(unknown.problem(422)["errors"][0]["field"], "organisation_id");
        let unknown = respond(&app, &consultation, json!({"contact_id": missing})).await;
        assert_eq!(unknown.problem(422)["errors"][0]["field"], "contact_id");
        let bad = respond(&app, &consultation, json!({"contact_id": colleague, "attribution": "secret"})).await;
        assert_eq!(bad.problem(422)["errors"][0]["field"], "attribution");
        assert_eq!(data(&app.get(&format!("/api/v1/consultations/{consultation}/responses")).await).len(), 2);
    }
);

db_test!(
    async fn responses_are_updated_with_if_match_while_open_or_closed_but_not_once_published(app) {
        let consultation = consultation(&app, "Summer event", "open").await;
        let org = organisation(&app, "Northside Peer Voices").await;
        let stored = response(&app, &consultation, json!({"organisation_id": org, "summary": "First draft."})).await;
        let path = format!("/api/v1/consultations/{consultation}/responses/{}", id(&stored));
        let read = app.get(&path).await;
        assert_eq!(read.header("etag").unwrap(), "\"1\"");
        let unchanged = app.request(Method::GET, &path).insert_header(("if-none-match", "\"1\""));
        assert_eq!(app.send(unchanged, None).await.status, StatusCode::NOT_MODIFIED);

        let patched = app.patch_json(&path, &json!({"summary": "Final text.", "attribution": "anonymous"}), Some("\"1\"")).await;
        assert_eq!(patched.status, StatusCode::OK, "{}", patched.text());
        assert_eq!(patched.header("etag").unwrap(), "\"2\"");
        assert_eq!(patched.json()["summary"], "Final text.");
        assert_eq!(patched.json()["attribution"], "anonymous");
        app.patch_json(&path, &json!({"summary": "Stale"}), Some("\"1\"")).await.problem(412);
        assert_eq!(app.get(&path).await.json()["summary"], "Final text.");

        assert_eq!(set_status(&app, &consultation, "closed").await.status, StatusCode::OK);
        let closed = app.patch_json(&path, &json!({"attended": true}), Some("\"2\"")).await;
        assert_eq!(closed.status, StatusCode::OK, "{}", closed.text());
        assert_eq!(closed.json()["attended"], true);

        assert_eq!(set_status(&app, &consultation, "published").await.status, StatusCode::OK);
        app.patch_json(&path, &json!({"summary": "Too late"}), None).await.problem(409);
        assert_eq!(app.get(&path).await.json()["summary"], "Final text.");
        app.get(&format!("/api/v1/consultations/{consultation}/responses/{}", uuid::Uuid::now_v7())).await.problem(404);
    }
);

db_test!(
    async fn responses_filter_by_attendance_and_attribution(app) {
        let consultation = consultation(&app, "Regional event", "open").await;
        let came = organisation(&app, "Came Trust").await;
        let stayed_away = organisation(&app, "Stayed Away Trust").await;
        let quiet = contact(&app, "Rhys", "Evans").await;
        let attended = response(&app, &consultation, json!({"organisation_id": came, "attended": true})).await;
        let absent = response(&app, &consultation, json!({"organisation_id": stayed_away, "attended": false})).await;
        let anonymous = response(&app, &consultation, json!({"contact_id": quiet, "attended": true, "attribution": "anonymous"})).await;
        let ids = |query: &str| format!("/api/v1/consultations/{consultation}/responses?{query}");
        let found = |entries: Vec<Value>| -> Vec<String> {
            let mut ids: Vec<String> = entries.iter().map(id).collect();
            ids.sort();
            ids
        };
        assert_eq!(found(data(&app.get(&ids("attended=true")).await)), sorted(&[&id(&attended), &id(&anonymous)]));
        assert_eq!(found(data(&app.get(&ids("attended=false")).await)), [id(&absent)]);
        assert_eq!(found(data(&app.get(&ids("attribution=anonymous")).await)), [id(&anonymous)]);
        assert_eq!(found(data(&app.get(&ids("attribution=named&attended=true")).await)), [id(&attended)]);
        app.get(&ids("attended=maybe")).await.problem(400);
        app.get(&ids("attribution=secret")).await.problem(400);
    }
);

db_test!(
    async fn participation_counts_invitees_respondents_and_attendance(app) {
        let consultation = consultation(&app, "Roundtable on custody", "open").await;
        let expert_group = group(&app, "Custody expert group").await;
        let [a, b, c, d] = [
            organisation(&app, "Alpha Trust").await,
            organisation(&app, "Bravo Trust").await,
            organisation(&app, "Charlie Trust").await,
            organisation(&app, "Delta Trust").await,
        ];
        let invited_person = contact(&app, "Siobhan", "Byrne").await;
        let writer = contact(&app, "Olu", "Adeyemi").await;
        let outsider = contact(&app, "Marek", "Kowalski").await;
        join(&app, &expert_group, json!({"organisation_id": c, "role": "chair"})).await;
        join(&app, &expert_group, json!({"organisation_id": d, "role": "member"})).await;
        join(&app, &expert_group, json!({"contact_id": invited_person, "role": "member"})).await;
        invited(&app, &consultation, json!({"organisation_id": a})).await;
        invited(&app, &consultation, json!({"organisation_id": b})).await;
        invited(&app, &consultation, json!({"expert_group_id": expert_group})).await;
        // Invited: 4 organisations and 1 contact. Responded: A (attended), B (anonymous,
        // written by a contact who was not invited) and the invited contact (did not attend).
        response(&app, &consultation, json!({"organisation_id": a, "attended": true})).await;
        response(&app, &consultation, json!({"organisation_id": b, "contact_id": writer, "attribution": "anonymous"})).await;
        response(&app, &consultation, json!({"contact_id": invited_person, "attended": false})).await;

        let path = format!("/api/v1/consultations/{consultation}/participation");
        let figures = app.get(&path).await;
        assert_eq!(figures.status, StatusCode::OK, "{}", figures.text());
        let figures = figures.json();
        assert_eq!(figures["consultation_id"], consultation.as_str());
        assert_eq!(figures["invited"], json!({"total": 5, "organisations": 4, "contacts": 1}));
        assert_eq!(figures["responded"], json!({"total": 3, "organisations": 2, "contacts": 1, "anonymous": 1}));
        assert_eq!(figures["attended"], 1);
        assert_rate(&figures["response_rate"], 3.0 / 5.0);
        assert_rate(&figures["organisation_response_rate"], 2.0 / 4.0);
        assert_eq!(figures["suppressed"], false, "staff see every figure");

        let list = data(&app.get(&format!("/api/v1/consultations/{consultation}/invitations")).await);
        let row = |who: &str| list.iter().find(|r| r["organisation_id"] == who || r["contact_id"] == who).unwrap().clone();
        assert_eq!(row(&a)["responded"], true);
        assert_eq!(row(&a)["attended"], true);
        assert_eq!(row(&c)["responded"], false);
        assert_eq!(row(&invited_person)["responded"], true);
        assert_eq!(row(&invited_person)["attended"], false);

        // A response from someone never invited is counted, but not in the rates of invitees.
        response(&app, &consultation, json!({"contact_id": outsider})).await;
        let figures = app.get(&path).await.json();
        assert_eq!(figures["responded"]["total"], 4);
        assert_eq!(figures["invited"]["total"], 5);
        assert_rate(&figures["response_rate"], 3.0 / 5.0);
        assert_rate(&figures["organisation_response_rate"], 2.0 / 4.0);
    }
);

db_test!(
    async fn participation_rates_are_null_when_nobody_was_invited(app) {
        let nobody = consultation(&app, "Nobody invited yet", "open").await;
        let figures = app.get(&format!("/api/v1/consultations/{nobody}/participation")).await.json();
        assert_eq!(figures["invited"], json!({"total": 0, "organisations": 0, "contacts": 0}));
        assert_eq!(figures["responded"]["total"], 0);
        assert_eq!(figures["attended"], 0);
        assert_eq!(figures["response_rate"], json!(null));
        assert_eq!(figures["organisation_response_rate"], json!(null));

        // Only a person invited: no organisation rate, and a response rate of one in one.
        let people = consultation(&app, "People only", "open").await;
        let person = contact(&app, "Grace", "Taylor").await;
        let expert_group = group(&app, "People group").await;
        join(&app, &expert_group, json!({"contact_id": person, "role": "member"})).await;
        invited(&app, &people, json!({"expert_group_id": expert_group})).await;
        response(&app, &people, json!({"contact_id": person})).await;
        let figures = app.get(&format!("/api/v1/consultations/{people}/participation")).await.json();
        assert_rate(&figures["response_rate"], 1.0);
        assert_eq!(figures["organisation_response_rate"], json!(null));
        app.get(&format!("/api/v1/consultations/{}/participation", uuid::Uuid::now_v7())).await.problem(404);
    }
);

db_test!(
    async fn an_organisations_consultation_history_lists_invitations_and_responses(app) {
        let org = organisation(&app, "Northside Peer Voices").await;
        let other = organisation(&app, "Someone Else").await;
        let expert_group = group(&app, "History group").await;
        join(&app, &expert_group, json!({"organisation_id": org, "role": "member"})).await;
        let answered = consultation(&app, "Answered consultation", "open").await;
        let via_group = consultation(&app, "Invited through the group", "open").await;
        let uninvited = consultation(&app, "Answered without an invitation", "open").await;
        let unrelated = consultation(&app, "Not for us", "open").await;
        invited(&app, &answered, json!({"organisation_id": org})).await;
        response(&app, &answered, json!({"organisation_id": org, "attended": true, "submitted_at": "2026-03-02T10:00:00Z"})).await;
        invited(&app, &via_group, json!({"expert_group_id": expert_group})).await;
        response(&app, &uninvited, json!({"organisation_id": org})).await;
        invited(&app, &unrelated, json!({"organisation_id": other})).await;

        let path = format!("/api/v1/organisations/{org}/consultations");
        let rows = data(&app.get(&path).await);
        assert_eq!(rows.len(), 3, "one row per consultation invited to or answered: {rows:?}");
        let row = |consultation: &str| rows.iter().find(|r| r["consultation"]["id"] == consultation).unwrap().clone();
        let first = row(&answered);
        assert_eq!(first["consultation"]["title"], "Answered consultation");
        assert_eq!(first["consultation"]["kind"], "member_consultation");
        assert_eq!(first["consultation"]["status"], "open");
        assert!(first["consultation"].get("opens_on").is_some() && first["consultation"].get("closes_on").is_some());
        assert!(first["invited_at"].is_string());
        assert_eq!(first["via_group_id"], json!(null));
        assert_eq!(first["responded"], true);
        assert_eq!(first["attended"], true);
        assert!(first["submitted_at"].as_str().unwrap().starts_with("2026-03-02T10:00:00"));
        let second = row(&via_group);
        assert_eq!(second["via_group_id"], expert_group.as_str());
        assert_eq!(second["responded"], false);
        assert_eq!(second["submitted_at"], json!(null));
        let third = row(&uninvited);
        assert_eq!(third["invited_at"], json!(null));
        assert_eq!(third["responded"], true);

        let (headers, csv_rows, _) = csv_as(&app, &app.admin_token, &path).await;
        assert!(!headers.is_empty());
        assert_eq!(csv_rows.len(), 3);
        app.get(&format!("/api/v1/organisations/{}/consultations", uuid::Uuid::now_v7())).await.problem(404);
    }
);

db_test!(
    async fn anonymous_responses_hide_the_respondent_from_viewers_and_keys_but_not_staff(app) {
        let consultation = consultation(&app, "Consultation on stop and search", "open").await;
        let named_org = organisation(&app, "Named Trust").await;
        let hidden_org = organisation(&app, "Hidden Trust").await;
        let uninvited_org = organisation(&app, "Uninvited Hidden Trust").await;
        let writer = contact(&app, "Bethan", "Price").await;
        invited(&app, &consultation, json!({"organisation_id": named_org})).await;
        invited(&app, &consultation, json!({"organisation_id": hidden_org})).await;
        // Four more invitees who do not answer: the anonymous one hides among five.
        for n in 0..4 {
            let quiet = organisation(&app, &format!("Quiet Trust {n}")).await;
            invited(&app, &consultation, json!({"organisation_id": quiet})).await;
        }
        response(&app, &consultation, json!({"organisation_id": named_org, "summary": "Named evidence."})).await;
        let hidden = response(&app, &consultation, json!({"organisation_id": hidden_org, "contact_id": writer, "attribution": "anonymous", "summary": "Hidden evidence."})).await;
        response(&app, &consultation, json!({"organisation_id": uninvited_org, "attribution": "anonymous"})).await;

        let responses = format!("/api/v1/consultations/{consultation}/responses");
        let single = format!("{responses}/{}", id(&hidden));
        let invitations = format!("/api/v1/consultations/{consultation}/invitations");
        let history = format!("/api/v1/organisations/{hidden_org}/consultations");
        let uninvited_history = format!("/api/v1/organisations/{uninvited_org}/consultations");

        let staff = app.token_for("staff").await;
        for credential in [&app.admin_token, &staff] {
            let caller = app.as_(Some(credential));
            let seen = caller.get(&single).await.json();
            assert_eq!(seen["organisation_id"], hidden_org.as_str(), "staff and admins see who answered");
            assert_eq!(seen["contact_id"], writer.as_str());
            let rows = data(&caller.get(&invitations).await);
            let hidden_row = rows.iter().find(|r| r["organisation_id"] == hidden_org.as_str()).unwrap();
            assert_eq!(hidden_row["responded"], true);
            assert_eq!(data(&caller.get(&history).await)[0]["responded"], true);
            assert_eq!(data(&caller.get(&uninvited_history).await).len(), 1);
        }

        let viewer = app.token_for("viewer").await;
        let key = app.api_key(&["consultations:read"]).await;
        for credential in [&viewer, &key] {
            let caller = app.as_(Some(credential));
            let rows = data(&caller.get(&responses).await);
            assert_eq!(rows.len(), 3);
            for row in &rows {
                if row["attribution"] == "anonymous" {
                    assert_eq!(row["organisation_id"], json!(null), "{row}");
                    assert_eq!(row["contact_id"], json!(null), "{row}");
                } else {
                    assert_eq!(row["organisation_id"], named_org.as_str());
                }
            }
            let seen = caller.get(&single).await;
            assert_eq!(seen.status, StatusCode::OK, "{}", seen.text());
            let seen = seen.json();
            assert_eq!(seen["organisation_id"], json!(null));
            assert_eq!(seen["contact_id"], json!(null));
            assert_eq!(seen["summary"], "Hidden evidence.", "what was said is still there");

            let rows = data(&caller.get(&invitations).await);
            let hidden_row = rows.iter().find(|r| r["organisation_id"] == hidden_org.as_str()).unwrap();
            assert_eq!(hidden_row["responded"], json!(null), "withheld");
            let past = data(&caller.get(&history).await);
            assert_eq!(past.len(), 1, "the invitation is no secret");
            assert_eq!(past[0]["responded"], json!(null), "but the answer is");
            assert_eq!(past[0]["submitted_at"], json!(null));

            let (_, csv_rows, text) = csv_as(&app, credential, &responses).await;
            assert_eq!(csv_rows.len(), 3);
            assert!(!text.contains(&hidden_org) && !text.contains(&uninvited_org) && !text.contains(&writer), "{text}");
            let uninvited_rows = data(&caller.get(&uninvited_history).await);
            assert!(uninvited_rows.is_empty(), "an anonymous answer alone is not history they see: {uninvited_rows:?}");
        }
    }
);

db_test!(
    async fn invitations_and_responses_export_as_csv_with_a_header_row(app) {
        let consultation = consultation(&app, "Exported consultation", "open").await;
        let first = organisation(&app, "Alpha Trust").await;
        let second = organisation(&app, "Bravo Trust").await;
        invited(&app, &consultation, json!({"organisation_id": first})).await;
        invited(&app, &consultation, json!({"organisation_id": second})).await;
        let answer = response(&app, &consultation, json!({"organisation_id": first, "summary": "=SUM(A1)"})).await;

        let (headers, rows, _) = csv_as(&app, &app.admin_token, &format!("/api/v1/consultations/{consultation}/invitations")).await;
        assert_eq!(headers[0], "id");
        for column in ["organisation_id", "contact_id", "via_group_id", "invited_at"] {
            assert!(headers.contains(&column.to_owned()), "{column}: {headers:?}");
        }
        assert_eq!(rows.len(), 2);
        let organisation = headers.iter().position(|h| h == "organisation_id").unwrap();
        let mut found: Vec<&str> = rows.iter().map(|r| &r[organisation]).collect();
        found.sort();
        assert_eq!(found, sorted(&[&first, &second]));

        let (headers, rows, _) = csv_as(&app, &app.admin_token, &format!("/api/v1/consultations/{consultation}/responses")).await;
        assert_eq!(headers[0], "id");
        for column in ["organisation_id", "contact_id", "attribution", "submitted_at"] {
            assert!(headers.contains(&column.to_owned()), "{column}: {headers:?}");
        }
        assert_eq!(rows.len(), 1);
        assert_eq!(&rows[0][0], id(&answer).as_str());
        let summary = headers.iter().position(|h| h == "summary").unwrap();
        assert_eq!(&rows[0][summary], "'=SUM(A1)", "formulas are defused");
    }
);

db_test!(
    async fn consultation_readers_need_the_consultations_scope_and_viewers_cannot_write(app) {
        let consultation = consultation(&app, "Scoped consultation", "open").await;
        let org = organisation(&app, "Northside Peer Voices").await;
        invited(&app, &consultation, json!({"organisation_id": org})).await;
        let answer = response(&app, &consultation, json!({"organisation_id": org})).await;
        let base = format!("/api/v1/consultations/{consultation}");
        let reads = [
            "/api/v1/consultations".to_owned(),
            base.clone(),
            format!("{base}/invitations"),
            format!("{base}/responses"),
            format!("{base}/responses/{}", id(&answer)),
            format!("{base}/participation"),
            format!("/api/v1/organisations/{org}/consultations"),
        ];
        let organisations_key = app.api_key(&["organisations:read"]).await;
        let groups_key = app.api_key(&["groups:read"]).await;
        let consultations_key = app.api_key(&["consultations:read"]).await;
        let viewer = app.token_for("viewer").await;
        for path in &reads {
            app.as_(Some(&organisations_key)).get(path).await.problem(403);
            app.as_(Some(&groups_key)).get(path).await.problem(403);
            assert_eq!(app.as_(Some(&consultations_key)).get(path).await.status, StatusCode::OK, "{path}");
            assert_eq!(app.as_(Some(&viewer)).get(path).await.status, StatusCode::OK, "{path}");
        }

        let other = organisation(&app, "Eastgate Youth Law").await;
        let body = json!({"title": "Viewer's consultation", "kind": "survey"});
        let response_path = format!("{base}/responses/{}", id(&answer));
        for caller in [app.as_(Some(&viewer)), app.as_(Some(&consultations_key))] {
            caller.post_json("/api/v1/consultations", &body).await.problem(403);
            caller.patch_json(&base, &json!({"title": "Renamed"}), None).await.problem(403);
            caller.post_json(&format!("{base}/invitations"), &json!({"organisation_id": other})).await.problem(403);
            caller.post_json(&format!("{base}/responses"), &json!({"organisation_id": other})).await.problem(403);
            caller.patch_json(&response_path, &json!({"summary": "Changed"}), None).await.problem(403);
            caller.delete(&base, None).await.problem(403);
        }
        assert_eq!(app.get(&base).await.json()["title"], "Scoped consultation", "nothing changed");

        let staff = app.token_for("staff").await;
        let staff = app.as_(Some(&staff));
        assert_eq!(staff.post_json("/api/v1/consultations", &body).await.status, StatusCode::CREATED);
        assert_eq!(staff.post_json(&format!("{base}/invitations"), &json!({"organisation_id": other})).await.status, StatusCode::CREATED);
        assert_eq!(staff.post_json(&format!("{base}/responses"), &json!({"organisation_id": other})).await.status, StatusCode::CREATED);
        assert_eq!(staff.patch_json(&response_path, &json!({"summary": "Edited by staff"}), None).await.status, StatusCode::OK);
    }
);

db_test!(
    async fn viewers_cannot_tell_an_anonymous_response_from_no_response(app) {
        let consultation = consultation(&app, "Consultation on remand", "open").await;
        let (quiet, hidden, named) = (
            organisation(&app, "Quiet Trust").await,
            organisation(&app, "Hidden Trust").await,
            organisation(&app, "Named Trust").await,
        );
        for org in [&quiet, &hidden, &named] {
            invited(&app, &consultation, json!({"organisation_id": org})).await;
        }
        response(&app, &consultation, json!({"organisation_id": hidden, "attribution": "anonymous"})).await;
        response(&app, &consultation, json!({"organisation_id": named})).await;
        let viewer = app.token_for("viewer").await;
        let rows = data(&app.as_(Some(&viewer)).get(&format!("/api/v1/consultations/{consultation}/invitations")).await);
        let responded = |org: &str| rows.iter().find(|r| r["organisation_id"] == org).unwrap()["responded"].clone();
        assert_eq!(responded(&named), true);
        assert_eq!(responded(&hidden), responded(&quiet), "the same answer for both");
        assert_eq!(responded(&quiet), json!(null));
        let staff = data(&app.get(&format!("/api/v1/consultations/{consultation}/invitations")).await);
        assert_eq!(staff.iter().find(|r| r["organisation_id"] == quiet.as_str()).unwrap()["responded"], false);

        // The participation report describes only the named respondents to a viewer.
        let path = format!("/api/v1/reports/participation?consultation={consultation}&dimension=kind");
        assert_eq!(app.as_(Some(&viewer)).get(&path).await.json()["organisations"], 1);
        assert_eq!(app.get(&path).await.json()["organisations"], 2);
    }
);

/// Everything a viewer or key can read of `consultation` that could tell who answered: the
/// participation figures, the responses (JSON and CSV, and those asked for as anonymous),
/// the invitations' answers, each invitee's own history and the participation report.
async fn what_a_reader_sees(
    app: &TestApp,
    credential: &str,
    consultation: &str,
    invitees: &[String],
) -> Value {
    let caller = app.as_(Some(credential));
    let base = format!("/api/v1/consultations/{consultation}");
    let mut participation = caller.get(&format!("{base}/participation")).await.json();
    participation
        .as_object_mut()
        .unwrap()
        .remove("consultation_id");
    let responses = data(&caller.get(&format!("{base}/responses")).await);
    let anonymous = data(
        &caller
            .get(&format!("{base}/responses?attribution=anonymous"))
            .await,
    );
    let (_, csv_rows, _) = csv_as(app, credential, &format!("{base}/responses")).await;
    let invitations = data(&caller.get(&format!("{base}/invitations")).await);
    let answers: Vec<Value> = invitees
        .iter()
        .map(|who| {
            let row = invitations
                .iter()
                .find(|r| r["organisation_id"] == who.as_str() || r["contact_id"] == who.as_str())
                .unwrap();
            json!([row["responded"], row["attended"]])
        })
        .collect();
    let mut histories = Vec::new();
    for who in invitees {
        let path = format!("/api/v1/organisations/{who}/consultations");
        let entries = caller.get(&path).await;
        if entries.status == StatusCode::NOT_FOUND {
            continue; // a contact
        }
        let entry = data(&entries)
            .into_iter()
            .find(|e| e["consultation"]["id"] == consultation)
            .unwrap();
        histories.push(json!([
            entry["responded"],
            entry["attended"],
            entry["submitted_at"].is_null()
        ]));
    }
    let mut report = caller
        .get(&format!(
            "/api/v1/reports/participation?consultation={consultation}&dimension=kind"
        ))
        .await
        .json();
    report.as_object_mut().unwrap().remove("consultation_id");
    json!({
        "participation": participation,
        "responses": responses.len(),
        "anonymous": anonymous.len(),
        "csv": csv_rows.len(),
        "answers": answers,
        "histories": histories,
        "report": report,
    })
}

db_test!(
    async fn an_anonymous_respondent_among_too_few_invitees_cannot_be_told_from_one_who_did_not_answer(app) {
        // The case: A and B answer by name, C anonymously; and a twin where C never
        // answers. A viewer or key must not be able to tell the two apart from anything.
        let anonymous = consultation(&app, "Consultation with an anonymous answer", "open").await;
        let silent = consultation(&app, "Consultation without it", "open").await;
        let orgs = vec![
            organisation(&app, "Alpha Trust").await,
            organisation(&app, "Bravo Trust").await,
            organisation(&app, "Charlie Trust").await,
        ];
        for consultation in [&anonymous, &silent] {
            for org in &orgs {
                invited(&app, consultation, json!({"organisation_id": org})).await;
            }
            response(&app, consultation, json!({"organisation_id": orgs[0], "attended": true})).await;
            response(&app, consultation, json!({"organisation_id": orgs[1]})).await;
        }
        let hidden = response(&app, &anonymous, json!({"organisation_id": orgs[2], "attribution": "anonymous", "attended": true})).await;

        let viewer = app.token_for("viewer").await;
        let key = app.api_key(&["consultations:read", "organisations:read", "reports:read"]).await;
        for credential in [&viewer, &key] {
            let seen = what_a_reader_sees(&app, credential, &anonymous, &orgs).await;
            assert_eq!(seen, what_a_reader_sees(&app, credential, &silent, &orgs).await);
            let figures = &seen["participation"];
            assert_eq!(figures["invited"], json!({"total": 3, "organisations": 3, "contacts": 0}), "the invitations are no secret");
            assert_eq!(figures["responded"], json!({"total": null, "organisations": null, "contacts": null, "anonymous": null}));
            assert_eq!((figures["attended"].clone(), figures["response_rate"].clone(), figures["organisation_response_rate"].clone()), (json!(null), json!(null), json!(null)));
            assert_eq!(figures["suppressed"], true);
            assert_eq!(seen["responses"], 2, "only the named answers");
            assert_eq!(seen["anonymous"], 0);
            assert_eq!(seen["csv"], 2);
            let single = format!("/api/v1/consultations/{anonymous}/responses/{}", id(&hidden));
            app.as_(Some(credential)).get(&single).await.problem(404);
        }
        // Staff and admins see everything.
        let figures = app.get(&format!("/api/v1/consultations/{anonymous}/participation")).await.json();
        assert_eq!(figures["responded"], json!({"total": 3, "organisations": 3, "contacts": 0, "anonymous": 1}));
        assert_eq!(figures["suppressed"], false);
        assert_eq!(app.get(&format!("/api/v1/consultations/{anonymous}/responses/{}", id(&hidden))).await.status, StatusCode::OK);

        // Two more invited organisations who do not answer: C now hides among three, still
        // too few. Two more: among five, and the figures are shown.
        let mut more = Vec::new();
        for n in 0..4 {
            more.push(organisation(&app, &format!("Quiet Trust {n}")).await);
        }
        for (count, org) in more.iter().enumerate() {
            invited(&app, &anonymous, json!({"organisation_id": org})).await;
            let figures = app.as_(Some(&viewer)).get(&format!("/api/v1/consultations/{anonymous}/participation")).await.json();
            assert_eq!(figures["suppressed"], count < 3, "{} candidates: {figures}", count + 2);
        }
        let figures = app.as_(Some(&key)).get(&format!("/api/v1/consultations/{anonymous}/participation")).await.json();
        assert_eq!(figures["responded"], json!({"total": 3, "organisations": 3, "contacts": 0, "anonymous": 1}));
        assert_rate(&figures["organisation_response_rate"], 0.4286);
        assert_eq!(data(&app.as_(Some(&key)).get(&format!("/api/v1/consultations/{anonymous}/responses")).await).len(), 3);

        // The figures tell an organisation's answer from a person's: a person invited without
        // a named answer is one candidate of their kind, so the figures are withheld again...
        let person = contact(&app, "Amara", "Okafor").await;
        let people = group(&app, "People group").await;
        join(&app, &people, json!({"contact_id": person, "role": "member"})).await;
        invited(&app, &anonymous, json!({"expert_group_id": people})).await;
        let figures = app.as_(Some(&viewer)).get(&format!("/api/v1/consultations/{anonymous}/participation")).await.json();
        assert_eq!(figures["suppressed"], true, "{figures}");
        assert_eq!(data(&app.as_(Some(&viewer)).get(&format!("/api/v1/consultations/{anonymous}/responses")).await).len(), 2);
        // ...until they answer by name: nobody of their kind is left to hide among.
        response(&app, &anonymous, json!({"contact_id": person})).await;
        let figures = app.as_(Some(&viewer)).get(&format!("/api/v1/consultations/{anonymous}/participation")).await.json();
        assert_eq!(figures["suppressed"], false, "{figures}");
        assert_eq!(figures["responded"]["contacts"], 1);
    }
);
