//! Expert groups: CRUD with ETags and tombstones, the allowed status moves, members that are
//! organisations or contacts with one open-ended chair, leaving as history, and who may see them.

use actix_web::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{TestApp, TestResponse};
use crate::organisations::urlencode;

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

fn today() -> String {
    chrono::Utc::now().date_naive().to_string()
}

fn yesterday() -> String {
    (chrono::Utc::now().date_naive() - chrono::Days::new(1)).to_string()
}

/// Creates an expert group from `body` and returns it, failing the test otherwise.
async fn create_group(app: &TestApp, body: Value) -> Value {
    let response = app.post_json("/api/v1/expert-groups", &body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    response.json()
}

/// A forming advisory group called `name`; returns its id.
async fn group(app: &TestApp, name: &str) -> String {
    id(&create_group(app, json!({"name": name, "kind": "advisory_group"})).await)
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

async fn add_member(app: &TestApp, group: &str, body: Value) -> TestResponse {
    app.post_json(&format!("/api/v1/expert-groups/{group}/members"), &body)
        .await
}

/// Adds a member, failing the test otherwise; returns the member.
async fn member(app: &TestApp, group: &str, body: Value) -> Value {
    let response = add_member(app, group, body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    response.json()
}

async fn set_status(app: &TestApp, group: &str, status: &str) -> TestResponse {
    let path = format!("/api/v1/expert-groups/{group}");
    app.patch_json(&path, &json!({"status": status}), None)
        .await
}

async fn names(app: &TestApp, query: &str) -> Vec<String> {
    let page = app.get(&format!("/api/v1/expert-groups?{query}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    page.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The ids of the organisations or contacts a member list for `query` returns.
async fn member_ids(app: &TestApp, group: &str, query: &str) -> Vec<String> {
    let path = format!("/api/v1/expert-groups/{group}/members?{query}");
    let page = app.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    page.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["organisation_id"]
                .as_str()
                .or(m["contact_id"].as_str())
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// The CSV `path` answers with: its header and its rows.
async fn export(app: &TestApp, path: &str) -> (Vec<String>, Vec<csv::StringRecord>) {
    let request = app
        .request(Method::GET, path)
        .insert_header(("accept", "text/csv"));
    let response = app.send(request, None).await;
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
    (headers, reader.records().map(Result::unwrap).collect())
}

db_test!(
    async fn groups_are_created_read_changed_and_deleted_with_etags(app) {
        let body = json!({
            "name": "Research Advisory Group",
            "kind": "advisory_group",
            "purpose": "Advises on the alliance's research programme.\nMeets quarterly.",
            "expertise": ["research_evidence", "racial_justice"],
            "started_on": "2025-01-01",
        });
        let response = app.post_json("/api/v1/expert-groups", &body).await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
        let created = response.json();
        let group = id(&created);
        assert_eq!(uuid::Uuid::parse_str(&group).unwrap().get_version_num(), 7);
        let path = format!("/api/v1/expert-groups/{group}");
        assert_eq!(response.header("location").unwrap(), path);
        assert_eq!(created["name"], "Research Advisory Group");
        assert_eq!(created["kind"], "advisory_group");
        assert_eq!(created["purpose"], body["purpose"]);
        let mut expertise: Vec<&str> = created["expertise"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
        expertise.sort();
        assert_eq!(expertise, ["racial_justice", "research_evidence"]);
        assert_eq!(created["status"], "forming", "a new group is forming unless told otherwise");
        assert_eq!(created["started_on"], "2025-01-01");
        assert_eq!(created["ended_on"], json!(null));
        assert_eq!(created["current_member_count"], 0);
        assert!(created["created_at"].is_string() && created["updated_at"].is_string());

        let read = app.get(&path).await;
        assert_eq!(read.status, StatusCode::OK);
        assert_eq!(read.json(), created, "what was returned is what was stored");
        assert_eq!(read.header("etag").unwrap(), "\"1\"");
        let unchanged = app.request(Method::GET, &path).insert_header(("if-none-match", "\"1\""));
        assert_eq!(app.send(unchanged, None).await.status, StatusCode::NOT_MODIFIED);

        let patched = app.patch_json(&path, &json!({"name": "Research Advisory Board", "purpose": null}), Some("\"1\"")).await;
        assert_eq!(patched.status, StatusCode::OK, "{}", patched.text());
        assert_eq!(patched.header("etag").unwrap(), "\"2\"");
        assert_eq!(patched.json()["name"], "Research Advisory Board");
        assert_eq!(patched.json()["purpose"], json!(null));
        assert_eq!(patched.json()["expertise"], created["expertise"], "fields left out are kept");
        let stale = app.patch_json(&path, &json!({"name": "Someone else's edit"}), Some("\"1\"")).await;
        stale.problem(412);
        assert_eq!(app.get(&path).await.json()["name"], "Research Advisory Board");

        app.delete(&path, Some("\"1\"")).await.problem(412);
        assert_eq!(app.delete(&path, Some("\"2\"")).await.status, StatusCode::NO_CONTENT);
        app.get(&path).await.problem(404);
        app.patch_json(&path, &json!({"name": "Back"}), None).await.problem(404);
        app.get(&format!("/api/v1/expert-groups/{}", uuid::Uuid::now_v7())).await.problem(404);
    }
);

db_test!(
    async fn invalid_groups_are_422_naming_each_field(app) {
        let cases = [
            (json!({"kind": "advisory_group"}), "name"),
            (json!({"name": "Two\nlines", "kind": "advisory_group"}), "name"),
            (json!({"name": "x".repeat(201), "kind": "advisory_group"}), "name"),
            (json!({"name": "No kind"}), "kind"),
            (json!({"name": "Book club", "kind": "book_club"}), "kind"),
            (json!({"name": "Long", "kind": "expert_group", "purpose": "x".repeat(5001)}), "purpose"),
            (json!({"name": "Astrology", "kind": "expert_group", "expertise": ["racial_justice", "astrology"]}), "expertise[1]"),
            (json!({"name": "Backwards", "kind": "expert_group", "started_on": "2025-06-01", "ended_on": "2025-05-31"}), "ended_on"),
            (json!({"name": "Dormant", "kind": "expert_group", "status": "dormant"}), "status"),
        ];
        for (body, field) in cases {
            let response = app.post_json("/api/v1/expert-groups", &body).await;
            response.problem(422);
            assert!(response.error_fields().contains(&field.to_owned()), "{field}: {}", response.text());
        }
        assert!(names(&app, "").await.is_empty(), "a failed create writes nothing");

        let group = group(&app, "Kept as it was").await;
        let path = format!("/api/v1/expert-groups/{group}");
        let unknown = app.patch_json(&path, &json!({"expertise": ["astrology"]}), None).await;
        assert_eq!(unknown.problem(422)["errors"][0]["field"], "expertise[0]");
        app.patch_json(&path, &json!({"name": null}), None).await.problem(422);
        let after = app.get(&path).await;
        assert_eq!(after.header("etag").unwrap(), "\"1\"", "a bad patch changes nothing");
    }
);

db_test!(
    async fn deleted_groups_leave_tombstones_for_sync(app) {
        let kept = group(&app, "Kept group").await;
        let gone = create_group(&app, json!({"name": "Gone group", "kind": "working_group"})).await;
        let since = urlencode(gone["updated_at"].as_str().unwrap());
        let path = format!("/api/v1/expert-groups/{}", id(&gone));
        assert_eq!(app.delete(&path, None).await.status, StatusCode::NO_CONTENT);
        app.delete(&path, None).await.problem(404);
        assert_eq!(names(&app, "").await, ["Kept group"]);

        let changes = app.get(&format!("/api/v1/expert-groups?updated_since={since}&include_deleted=true")).await;
        assert_eq!(changes.status, StatusCode::OK, "{}", changes.text());
        let data = changes.json()["data"].as_array().unwrap().clone();
        assert_eq!(data.len(), 1, "only the change after the timestamp: {data:?}");
        assert_eq!(data[0]["id"], id(&gone));
        assert!(data[0]["deleted_at"].is_string());
        assert_eq!(data[0].as_object().unwrap().len(), 2, "a tombstone is id and deleted_at");
        assert_ne!(data[0]["id"], kept.as_str());
        let without = app.get(&format!("/api/v1/expert-groups?updated_since={since}")).await.json();
        assert!(without["data"].as_array().unwrap().is_empty(), "no tombstones unless asked");
    }
);

db_test!(
    async fn group_lists_filter_sort_page_and_export(app) {
        for body in [
            json!({"name": "Research Advisory Group", "kind": "advisory_group", "status": "active", "expertise": ["research_evidence"]}),
            json!({"name": "EDI sub-committee", "kind": "sub_committee", "status": "active", "expertise": ["racial_justice"]}),
            json!({"name": "young people's participation group", "kind": "participation_group", "expertise": ["participation_voice"]}),
            json!({"name": "Policing working group", "kind": "working_group", "status": "closed", "expertise": ["policing", "racial_justice"]}),
        ] {
            create_group(&app, body).await;
        }
        let all = ["EDI sub-committee", "Policing working group", "Research Advisory Group", "young people's participation group"];
        assert_eq!(names(&app, "").await, all, "case-insensitive name order by default");
        let cases: &[(&str, &[&str])] = &[
            ("kind=working_group", &["Policing working group"]),
            ("kind=advisory_group&kind=sub_committee", &["EDI sub-committee", "Research Advisory Group"]),
            ("status=active", &["EDI sub-committee", "Research Advisory Group"]),
            ("status=forming&status=closed", &["Policing working group", "young people's participation group"]),
            ("expertise=racial_justice", &["EDI sub-committee", "Policing working group"]),
            ("expertise=research_evidence&expertise=participation_voice", &["Research Advisory Group", "young people's participation group"]),
            ("status=active&expertise=racial_justice", &["EDI sub-committee"]),
            ("q=GROUP", &["Policing working group", "Research Advisory Group", "young people's participation group"]),
            ("q=edi", &["EDI sub-committee"]),
            ("q=zulu", &[]),
        ];
        for (query, expected) in cases {
            assert_eq!(names(&app, query).await, *expected, "{query}");
        }
        let mut reversed = all.to_vec();
        reversed.reverse();
        assert_eq!(names(&app, "sort=-name").await, reversed);
        assert_eq!(names(&app, "sort=created_at").await, ["Research Advisory Group", "EDI sub-committee", "young people's participation group", "Policing working group"]);

        let first = app.get("/api/v1/expert-groups?limit=3&include_total=true").await;
        assert!(first.header("link").unwrap().contains("rel=\"next\""));
        let page = first.json();
        assert_eq!(page["total"], 4);
        assert_eq!(page["data"].as_array().unwrap().len(), 3);
        let cursor = page["next_cursor"].as_str().unwrap();
        assert_eq!(names(&app, &format!("limit=3&cursor={cursor}")).await, ["young people's participation group"]);
        assert_eq!(app.get("/api/v1/expert-groups").await.json()["next_cursor"], json!(null));

        for query in ["limit=501", "limit=0", "kind=book_club", "status=dormant", "sort=size", "colour=red"] {
            app.get(&format!("/api/v1/expert-groups?{query}")).await.problem(400);
        }

        let (headers, rows) = export(&app, "/api/v1/expert-groups?status=active").await;
        assert_eq!(headers[0], "id");
        assert!(headers.contains(&"name".to_owned()), "{headers:?}");
        assert_eq!(rows.len(), 2);
    }
);

db_test!(
    async fn status_moves_only_along_the_allowed_transitions(app) {
        let working = group(&app, "Youth justice working group").await;
        for (to, expected) in [
            ("active", 200),
            ("active", 200), // the same status is no move at all
            ("forming", 409),
            ("closed", 200),
            ("forming", 409),
            ("active", 200), // a closed group reopens
            ("closed", 200),
        ] {
            let response = set_status(&app, &working, to).await;
            if expected == 200 {
                assert_eq!(response.status, StatusCode::OK, "to {to}: {}", response.text());
                assert_eq!(response.json()["status"], to);
            } else {
                response.problem(expected);
            }
        }
        assert_eq!(app.get(&format!("/api/v1/expert-groups/{working}")).await.json()["status"], "closed");

        let never_started = group(&app, "Never started").await;
        let closed = set_status(&app, &never_started, "closed").await;
        assert_eq!(closed.status, StatusCode::OK, "forming -> closed: {}", closed.text());
        set_status(&app, &never_started, "dormant").await.problem(422);
    }
);

db_test!(
    async fn a_closed_group_takes_no_new_members(app) {
        let group = group(&app, "Closed group").await;
        let first = organisation(&app, "Northside Peer Voices").await;
        let second = organisation(&app, "Eastgate Youth Law").await;
        member(&app, &group, json!({"organisation_id": first, "role": "member"})).await;
        assert_eq!(set_status(&app, &group, "closed").await.status, StatusCode::OK);
        add_member(&app, &group, json!({"organisation_id": second, "role": "member"})).await.problem(409);
        assert_eq!(member_ids(&app, &group, "status=all").await, [first]);
        // Reopened, it takes members again.
        assert_eq!(set_status(&app, &group, "active").await.status, StatusCode::OK);
        member(&app, &group, json!({"organisation_id": second, "role": "member"})).await;
    }
);

db_test!(
    async fn a_member_is_an_organisation_or_a_contact_never_both_nor_neither(app) {
        let group = group(&app, "Advisory group").await;
        let org = organisation(&app, "Northside Peer Voices").await;
        let person = contact(&app, "Amara", "Okafor").await;
        let base = format!("/api/v1/expert-groups/{group}/members");

        let response = add_member(&app, &group, json!({"organisation_id": org, "role": "observer"})).await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
        let created = response.json();
        assert_eq!(response.header("location").unwrap(), format!("{base}/{}", id(&created)));
        assert_eq!(created["group_id"], group.as_str());
        assert_eq!(created["organisation_id"], org.as_str());
        assert_eq!(created["contact_id"], json!(null));
        assert_eq!(created["role"], "observer");
        assert_eq!(created["joined_on"], today(), "joined today unless told otherwise");
        assert_eq!(created["left_on"], json!(null));
        assert_eq!(created["current"], true);
        assert_eq!(app.get(&format!("{base}/{}", id(&created))).await.json(), created);

        let person_member = member(&app, &group, json!({"contact_id": person, "role": "secretariat", "joined_on": "2025-02-01"})).await;
        assert_eq!(person_member["contact_id"], person.as_str());
        assert_eq!(person_member["organisation_id"], json!(null));
        assert_eq!(person_member["joined_on"], "2025-02-01");

        let other = contact(&app, "Kwame", "Mensah").await;
        add_member(&app, &group, json!({"organisation_id": org, "contact_id": other, "role": "member"})).await.problem(422);
        add_member(&app, &group, json!({"role": "member"})).await.problem(422);
        let no_role = add_member(&app, &group, json!({"contact_id": other})).await;
        no_role.problem(422);
        assert_eq!(no_role.error_fields(), ["role"]);
        add_member(&app, &group, json!({"contact_id": other, "role": "president"})).await.problem(422);
        let backwards = add_member(&app, &group, json!({"contact_id": other, "role": "member", "joined_on": "2025-06-01", "left_on": "2025-05-31"})).await;
        backwards.problem(422);
        assert_eq!(backwards.error_fields(), ["left_on"]);

        let missing = uuid::Uuid::now_v7().to_string();
        let unknown = add_member(&app, &group, json!({"organisation_id": missing, "role": "member"})).await;
        assert_eq!(unknown.problem(422)["errors"][0]["field"], "organisation_id");
        let unknown = add_member(&app, &group, json!({"contact_id": missing, "role": "member"})).await;
        assert_eq!(unknown.problem(422)["errors"][0]["field"], "contact_id");
        let deleted = organisation(&app, "Closed Down Trust").await;
        app.delete(&format!("/api/v1/organisations/{deleted}"), None).await;
        let gone = add_member(&app, &group, json!({"organisation_id": deleted, "role": "member"})).await;
        assert_eq!(gone.problem(422)["errors"][0]["field"], "organisation_id");
        add_member(&app, &missing, json!({"contact_id": other, "role": "member"})).await.problem(404);
        app.get(&format!("{base}/{missing}")).await.problem(404);

        assert_eq!(member_ids(&app, &group, "").await.len(), 2, "the refused members wrote nothing");
    }
);

db_test!(
    async fn a_current_member_cannot_join_the_same_group_again(app) {
        let group = group(&app, "Participation group").await;
        let organisation = organisation(&app, "Northside Peer Voices").await;
        let person = contact(&app, "Priya", "Sharma").await;
        let first = member(&app, &group, json!({"organisation_id": organisation, "role": "member", "joined_on": "2024-01-01"})).await;
        member(&app, &group, json!({"contact_id": person, "role": "member"})).await;
        add_member(&app, &group, json!({"organisation_id": organisation, "role": "observer"})).await.problem(409);
        add_member(&app, &group, json!({"contact_id": person, "role": "co_chair"})).await.problem(409);

        // Once it has left, it may join again; the old row stays.
        let path = format!("/api/v1/expert-groups/{group}/members/{}", id(&first));
        let left = app.patch_json(&path, &json!({"left_on": yesterday()}), None).await;
        assert_eq!(left.status, StatusCode::OK, "{}", left.text());
        member(&app, &group, json!({"organisation_id": organisation, "role": "observer"})).await;
        let everyone = member_ids(&app, &group, "status=all").await;
        assert_eq!(everyone.iter().filter(|m| **m == organisation).count(), 2);
    }
);

db_test!(
    async fn a_group_has_one_open_ended_chair_until_the_chair_leaves(app) {
        let group = group(&app, "Research advisory group").await;
        let first = organisation(&app, "Northside Peer Voices").await;
        let second = organisation(&app, "Eastgate Youth Law").await;
        let person = contact(&app, "Siobhan", "Byrne").await;
        let chair = member(&app, &group, json!({"organisation_id": first, "role": "chair", "joined_on": "2024-01-01"})).await;
        add_member(&app, &group, json!({"organisation_id": second, "role": "chair"})).await.problem(409);
        add_member(&app, &group, json!({"contact_id": person, "role": "chair"})).await.problem(409);
        // Other roles are not limited, and a chair who has already left does not count.
        let co_chair = member(&app, &group, json!({"contact_id": person, "role": "co_chair"})).await;
        let former = contact(&app, "Rhys", "Evans").await;
        member(&app, &group, json!({"contact_id": former, "role": "chair", "joined_on": "2023-01-01", "left_on": "2023-12-31"})).await;
        let promoted = app.patch_json(&format!("/api/v1/expert-groups/{group}/members/{}", id(&co_chair)), &json!({"role": "chair"}), None).await;
        promoted.problem(409);

        let path = format!("/api/v1/expert-groups/{group}/members/{}", id(&chair));
        let left = app.patch_json(&path, &json!({"left_on": yesterday()}), None).await;
        assert_eq!(left.status, StatusCode::OK, "{}", left.text());
        let next = member(&app, &group, json!({"organisation_id": second, "role": "chair"})).await;
        assert_eq!(next["role"], "chair");
        // The old chair cannot come back as an open-ended chair while the new one sits.
        let back = app.patch_json(&path, &json!({"left_on": null}), None).await;
        back.problem(409);
        assert_eq!(app.get(&path).await.json()["left_on"], yesterday());
    }
);

db_test!(
    async fn leaving_keeps_the_member_row_as_past_history(app) {
        let group = group(&app, "Policy working group").await;
        let stays = organisation(&app, "Stays Trust").await;
        let leaves = organisation(&app, "Leaves Trust").await;
        let person = contact(&app, "Marek", "Kowalski").await;
        member(&app, &group, json!({"organisation_id": stays, "role": "member"})).await;
        member(&app, &group, json!({"contact_id": person, "role": "secretariat"})).await;
        let leaving = member(&app, &group, json!({"organisation_id": leaves, "role": "member", "joined_on": "2024-01-01"})).await;
        assert_eq!(app.get(&format!("/api/v1/expert-groups/{group}")).await.json()["current_member_count"], 3);

        let path = format!("/api/v1/expert-groups/{group}/members/{}", id(&leaving));
        let backwards = app.patch_json(&path, &json!({"left_on": "2023-12-31"}), None).await;
        backwards.problem(422);
        let left = app.patch_json(&path, &json!({"left_on": yesterday()}), None).await;
        assert_eq!(left.status, StatusCode::OK, "{}", left.text());
        assert_eq!(left.json()["left_on"], yesterday());
        assert_eq!(left.json()["current"], false);
        assert_eq!(app.get(&path).await.json()["current"], false, "the row stays");

        let current = member_ids(&app, &group, "").await;
        assert_eq!(current.len(), 2, "current is the default");
        assert!(!current.contains(&leaves));
        assert_eq!(member_ids(&app, &group, "status=current").await, current);
        assert_eq!(member_ids(&app, &group, "status=past").await, std::slice::from_ref(&leaves));
        assert_eq!(member_ids(&app, &group, "status=all").await.len(), 3);
        assert_eq!(app.get(&format!("/api/v1/expert-groups/{group}")).await.json()["current_member_count"], 2);
        app.get(&format!("/api/v1/expert-groups/{group}/members?status=former")).await.problem(400);

        // Leaving later than today is still current until the day passes.
        let later = (chrono::Utc::now().date_naive() + chrono::Days::new(30)).to_string();
        let stays_row = app.get(&format!("/api/v1/expert-groups/{group}/members?status=all")).await.json()["data"]
            .as_array().unwrap().iter().find(|m| m["organisation_id"] == stays.as_str()).unwrap().clone();
        let leaving_soon = app.patch_json(&format!("/api/v1/expert-groups/{group}/members/{}", id(&stays_row)), &json!({"left_on": later}), None).await;
        assert_eq!(leaving_soon.json()["current"], true);

        // Pages walk the whole list.
        let first = app.get(&format!("/api/v1/expert-groups/{group}/members?status=all&limit=2")).await.json();
        assert_eq!(first["data"].as_array().unwrap().len(), 2);
        let cursor = first["next_cursor"].as_str().unwrap();
        let rest = member_ids(&app, &group, &format!("status=all&limit=2&cursor={cursor}")).await;
        assert_eq!(rest.len(), 1);
    }
);

db_test!(
    async fn members_export_as_csv_with_a_header_row(app) {
        let group = group(&app, "Exported group").await;
        let organisation = organisation(&app, "Northside Peer Voices").await;
        let person = contact(&app, "Grace", "Taylor").await;
        let first = member(&app, &group, json!({"organisation_id": organisation, "role": "chair"})).await;
        let second = member(&app, &group, json!({"contact_id": person, "role": "member"})).await;
        let (headers, rows) = export(&app, &format!("/api/v1/expert-groups/{group}/members")).await;
        assert_eq!(headers[0], "id");
        for column in ["organisation_id", "contact_id", "role", "joined_on", "left_on"] {
            assert!(headers.contains(&column.to_owned()), "{column}: {headers:?}");
        }
        assert_eq!(rows.len(), 2);
        let ids: Vec<&str> = rows.iter().map(|r| &r[0]).collect();
        assert!(ids.contains(&id(&first).as_str()) && ids.contains(&id(&second).as_str()), "{ids:?}");
        let role = headers.iter().position(|h| h == "role").unwrap();
        let chair = rows.iter().find(|r| r[0] == id(&first)).unwrap();
        assert_eq!(&chair[role], "chair");
    }
);

db_test!(
    async fn an_organisations_and_a_contacts_groups_list_current_and_past_memberships(app) {
        let active = id(&create_group(&app, json!({"name": "EDI sub-committee", "kind": "sub_committee", "status": "active"})).await);
        let earlier = id(&create_group(&app, json!({"name": "Old working group", "kind": "working_group"})).await);
        let unrelated = group(&app, "Unrelated group").await;
        let org = organisation(&app, "Northside Peer Voices").await;
        let person = contact(&app, "Olu", "Adeyemi").await;
        let other = organisation(&app, "Someone Else").await;
        member(&app, &active, json!({"organisation_id": org, "role": "member"})).await;
        member(&app, &earlier, json!({"organisation_id": org, "role": "co_chair", "joined_on": "2024-01-01", "left_on": "2024-06-30"})).await;
        member(&app, &unrelated, json!({"organisation_id": other, "role": "member"})).await;
        member(&app, &active, json!({"contact_id": person, "role": "chair"})).await;

        let path = format!("/api/v1/organisations/{org}/expert-groups");
        let all = app.get(&path).await;
        assert_eq!(all.status, StatusCode::OK, "{}", all.text());
        // Each row is the member's fields with the group it is in.
        let rows = all.json()["data"].as_array().unwrap().clone();
        assert_eq!(rows.len(), 2, "current and past by default: {rows:?}");
        let current = rows.iter().find(|r| r["group"]["id"] == active.as_str()).unwrap();
        assert_eq!(current["group"], json!({"id": active, "name": "EDI sub-committee", "kind": "sub_committee", "status": "active"}));
        assert_eq!(current["role"], "member");
        assert_eq!(current["organisation_id"], org.as_str());
        assert_eq!(current["current"], true);
        let past = rows.iter().find(|r| r["group"]["id"] == earlier.as_str()).unwrap();
        assert_eq!(past["role"], "co_chair");
        assert_eq!(past["left_on"], "2024-06-30");
        assert_eq!(past["current"], false);

        let group_ids = |page: Value| -> Vec<String> {
            page["data"].as_array().unwrap().iter().map(|r| r["group"]["id"].as_str().unwrap().to_owned()).collect()
        };
        assert_eq!(group_ids(app.get(&format!("{path}?status=current")).await.json()), std::slice::from_ref(&active));
        assert_eq!(group_ids(app.get(&format!("{path}?status=past")).await.json()), std::slice::from_ref(&earlier));
        assert_eq!(group_ids(app.get(&format!("{path}?status=all")).await.json()).len(), 2);
        let (headers, csv_rows) = export(&app, &path).await;
        assert!(!headers.is_empty());
        assert_eq!(csv_rows.len(), 2);

        let theirs = app.get(&format!("/api/v1/contacts/{person}/expert-groups")).await;
        assert_eq!(theirs.status, StatusCode::OK, "{}", theirs.text());
        let theirs = theirs.json();
        assert_eq!(theirs["data"].as_array().unwrap().len(), 1);
        assert_eq!(theirs["data"][0]["group"]["id"], active.as_str());
        assert_eq!(theirs["data"][0]["role"], "chair");
        assert_eq!(theirs["data"][0]["contact_id"], person.as_str());

        let missing = uuid::Uuid::now_v7();
        app.get(&format!("/api/v1/organisations/{missing}/expert-groups")).await.problem(404);
        app.get(&format!("/api/v1/contacts/{missing}/expert-groups")).await.problem(404);
    }
);

db_test!(
    async fn group_readers_need_the_groups_scope_and_viewers_cannot_write(app) {
        let group = group(&app, "Scoped group").await;
        let organisation = organisation(&app, "Northside Peer Voices").await;
        let seat = member(&app, &group, json!({"organisation_id": organisation, "role": "member"})).await;
        let reads = [
            "/api/v1/expert-groups".to_owned(),
            format!("/api/v1/expert-groups/{group}"),
            format!("/api/v1/expert-groups/{group}/members"),
            format!("/api/v1/expert-groups/{group}/members/{}", id(&seat)),
            format!("/api/v1/organisations/{organisation}/expert-groups"),
        ];
        let organisations_key = app.api_key(&["organisations:read"]).await;
        let consultations_key = app.api_key(&["consultations:read"]).await;
        let groups_key = app.api_key(&["groups:read"]).await;
        let viewer = app.token_for("viewer").await;
        for path in &reads {
            app.as_(Some(&organisations_key)).get(path).await.problem(403);
            app.as_(Some(&consultations_key)).get(path).await.problem(403);
            assert_eq!(app.as_(Some(&groups_key)).get(path).await.status, StatusCode::OK, "{path}");
            assert_eq!(app.as_(Some(&viewer)).get(path).await.status, StatusCode::OK, "{path}");
        }

        let path = format!("/api/v1/expert-groups/{group}");
        let body = json!({"name": "Viewer's group", "kind": "expert_group"});
        let person = contact(&app, "Bethan", "Price").await;
        let seat_path = format!("{path}/members/{}", id(&seat));
        for caller in [app.as_(Some(&viewer)), app.as_(Some(&groups_key))] {
            caller.post_json("/api/v1/expert-groups", &body).await.problem(403);
            caller.patch_json(&path, &json!({"name": "Renamed"}), None).await.problem(403);
            caller.post_json(&format!("{path}/members"), &json!({"contact_id": person, "role": "member"})).await.problem(403);
            caller.patch_json(&seat_path, &json!({"role": "observer"}), None).await.problem(403);
            caller.delete(&path, None).await.problem(403);
        }
        assert_eq!(app.get(&path).await.json()["name"], "Scoped group", "nothing changed");

        let staff = app.token_for("staff").await;
        let staff = app.as_(Some(&staff));
        assert_eq!(staff.post_json("/api/v1/expert-groups", &body).await.status, StatusCode::CREATED);
        let joined = staff.post_json(&format!("{path}/members"), &json!({"contact_id": person, "role": "member"})).await;
        assert_eq!(joined.status, StatusCode::CREATED, "{}", joined.text());
        assert_eq!(staff.patch_json(&path, &json!({"name": "Renamed by staff"}), None).await.status, StatusCode::OK);
    }
);

db_test!(
    async fn future_and_deleted_members_are_not_current(app) {
        let group = group(&app, "Resettlement group").await;
        let soon = organisation(&app, "Joining Soon Trust").await;
        let gone = organisation(&app, "Closed Down Trust").await;
        let tomorrow = (chrono::Utc::now().date_naive() + chrono::Days::new(1)).to_string();
        let future = member(&app, &group, json!({"organisation_id": soon, "role": "member", "joined_on": tomorrow})).await;
        assert_eq!(future["current"], false, "not yet joined");
        member(&app, &group, json!({"organisation_id": gone, "role": "member", "joined_on": "2025-01-01"})).await;
        let path = format!("/api/v1/organisations/{gone}");
        let etag = app.get(&path).await.header("etag");
        assert_eq!(app.delete(&path, etag.as_deref()).await.status, actix_web::http::StatusCode::NO_CONTENT);
        let fetched = app.get(&format!("/api/v1/expert-groups/{group}")).await.json();
        assert_eq!(fetched["current_member_count"], 0, "neither the future nor the deleted member counts");
        // Inviting the group invites neither.
        let consultation = app.post_json("/api/v1/consultations", &json!({"title": "Resettlement survey", "kind": "survey", "status": "open"})).await.json();
        let invited = app.post_json(&format!("/api/v1/consultations/{}/invitations", id(&consultation)), &json!({"expert_group_id": group})).await;
        assert_eq!(invited.json()["invited"], json!([]), "{}", invited.text());
    }
);

fn days_ahead(days: u64) -> String {
    (chrono::Utc::now().date_naive() + chrono::Days::new(days)).to_string()
}

db_test!(
    async fn seats_never_overlap_whatever_their_ends(app) {
        let group = group(&app, "Justice advisory group").await;
        let first = organisation(&app, "Northside Peer Voices").await;
        let second = organisation(&app, "Eastgate Youth Law").await;
        let chair = member(&app, &group, json!({"organisation_id": first, "role": "chair", "joined_on": "2024-01-01", "left_on": days_ahead(60)})).await;
        // A chair until a day still ahead is the chair until then.
        let now = add_member(&app, &group, json!({"organisation_id": second, "role": "chair"})).await;
        assert!(now.problem(409)["detail"].as_str().unwrap().contains("one chair at a time"), "{}", now.text());
        add_member(&app, &group, json!({"organisation_id": second, "role": "chair", "joined_on": "2023-06-01", "left_on": "2024-01-01"})).await.problem(409);
        // The day after the chair's last day is free.
        let next = member(&app, &group, json!({"organisation_id": second, "role": "chair", "joined_on": days_ahead(61)})).await;
        // Nobody is a member twice at once, whether either seat has an end or not.
        let twice = add_member(&app, &group, json!({"organisation_id": first, "role": "member", "joined_on": "2024-06-01", "left_on": "2024-12-31"})).await;
        assert_eq!(twice.problem(409)["errors"][0]["field"], "joined_on");
        add_member(&app, &group, json!({"organisation_id": second, "role": "observer", "joined_on": "2020-01-01", "left_on": days_ahead(61)})).await.problem(409);
        let earlier = member(&app, &group, json!({"organisation_id": first, "role": "member", "joined_on": "2023-01-01", "left_on": "2023-12-31"})).await;

        // Changing a seat's dates or role follows the same rule.
        let path = |seat: &Value| format!("/api/v1/expert-groups/{group}/members/{}", id(seat));
        app.patch_json(&path(&earlier), &json!({"left_on": "2024-01-01"}), None).await.problem(409);
        app.patch_json(&path(&next), &json!({"joined_on": days_ahead(60)}), None).await.problem(409);
        let promoted = app.patch_json(&path(&earlier), &json!({"role": "chair"}), None).await;
        assert_eq!(promoted.status, StatusCode::OK, "no chair in 2023: {}", promoted.text());
        app.patch_json(&path(&earlier), &json!({"left_on": null}), None).await.problem(409);
        // Ending the first chair's seat sooner lets the next one start sooner.
        let earlier_end = app.patch_json(&path(&chair), &json!({"left_on": days_ahead(10)}), None).await;
        assert_eq!(earlier_end.status, StatusCode::OK, "{}", earlier_end.text());
        let moved = app.patch_json(&path(&next), &json!({"joined_on": days_ahead(11)}), None).await;
        assert_eq!(moved.status, StatusCode::OK, "{}", moved.text());
        let all = member_ids(&app, &group, "status=all").await;
        assert_eq!(all.len(), 3, "refused writes stored nothing");
    }
);

db_test!(
    async fn concurrent_chairs_for_the_same_dates_have_one_winner(app) {
        let group = group(&app, "Contested chair group").await;
        let mut organisations = Vec::new();
        for n in 0..10 {
            organisations.push(organisation(&app, &format!("Candidate {n}")).await);
        }
        let bodies: Vec<Value> = organisations
            .iter()
            .map(|o| json!({"organisation_id": o, "role": "chair", "joined_on": "2025-01-01", "left_on": "2025-12-31"}))
            .collect();
        let results = futures_util::future::join_all(bodies.into_iter().map(|body| {
            let app = &app;
            let group = group.clone();
            async move { add_member(app, &group, body).await }
        }))
        .await;
        let created = results.iter().filter(|r| r.status == StatusCode::CREATED).count();
        for response in &results {
            assert!(matches!(response.status.as_u16(), 201 | 409 | 503), "{}", response.text());
        }
        assert_eq!(created, 1, "{:?}", results.iter().map(|r| r.status).collect::<Vec<_>>());
        assert_eq!(member_ids(&app, &group, "status=all").await.len(), 1);
    }
);

db_test!(
    async fn the_database_refuses_overlapping_seats_written_around_the_service(app) {
        let group = group(&app, "Guarded group").await;
        let first = organisation(&app, "Northside Peer Voices").await;
        let second = organisation(&app, "Eastgate Youth Law").await;
        let chair = member(&app, &group, json!({"organisation_id": first, "role": "chair", "joined_on": "2024-01-01", "left_on": "2024-12-31"})).await;
        let mut conn = app.state.db.connection().unwrap();
        let insert = |organisation: &str, role: &str, joined: &str, left: &str| {
            format!(
                "INSERT INTO expert_group_members (id, group_id, organisation_id, role, joined_on, left_on, created_at, updated_at) \
                 VALUES ('{}', '{group}', '{organisation}', '{role}', '{joined}', {left}, '2024-01-01 00:00:00', '2024-01-01 00:00:00')",
                uuid::Uuid::now_v7()
            )
        };
        use diesel::connection::SimpleConnection;
        for sql in [
            insert(&second, "chair", "2024-12-31", "NULL"),
            insert(&first, "member", "2024-06-01", "'2024-06-30'"),
        ] {
            let error = conn.batch_execute(&sql).unwrap_err();
            assert!(error.to_string().contains("expert group seats overlap"), "{error}");
        }
        conn.batch_execute(&insert(&second, "chair", "2025-01-01", "NULL")).unwrap();
        let update = format!("UPDATE expert_group_members SET left_on = NULL WHERE id = '{}'", id(&chair));
        assert!(conn.batch_execute(&update).unwrap_err().to_string().contains("expert group seats overlap"));
        drop(conn);
        assert_eq!(member_ids(&app, &group, "status=all").await.len(), 2);
    }
);
