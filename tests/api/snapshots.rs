//! Report snapshots: a report saved under a name exactly as its `GET` answered at that moment,
//! never recomputed; listed, read back as JSON, CSV and SVG, deleted and compared.

use actix_web::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{Caller, TestApp, TestResponse};
use crate::organisations::urlencode;
use crate::reports::{
    assert_close, create_benchmark, created, fetch, fixture, id, join, ok, organisation,
    participation_fixture, test_benchmark,
};

const SNAPSHOTS: &str = "/api/v1/reports/snapshots";

/// The fields of a snapshot without its figures, as listed.
const SUMMARY_FIELDS: [&str; 8] = [
    "created_at",
    "created_by",
    "disclosure",
    "id",
    "includes_anonymous_responses",
    "name",
    "query",
    "report",
];

/// The endpoint under `/api/v1/reports/` of each kind of report.
fn endpoint(report: &str) -> &'static str {
    match report {
        "composition" => "composition",
        "composition_trend" => "composition/trend",
        "gaps" => "gaps",
        "expertise_coverage" => "expertise-coverage",
        "participation" => "participation",
        other => panic!("no report {other}"),
    }
}

fn report_path(report: &str, query: &str) -> String {
    format!("/api/v1/reports/{}?{query}", endpoint(report))
}

fn snapshot_path(id: &str) -> String {
    format!("{SNAPSHOTS}/{id}")
}

async fn save_as(caller: &Caller<'_>, name: &str, report: &str, query: &str) -> TestResponse {
    caller
        .post_json(
            SNAPSHOTS,
            &json!({"name": name, "report": report, "query": query}),
        )
        .await
}

/// Saves a snapshot as the admin and returns it, failing the test otherwise.
async fn save(app: &TestApp, name: &str, report: &str, query: &str) -> Value {
    created(&save_as(&app.as_admin(), name, report, query).await)
}

fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

fn ids(list: &Value) -> Vec<String> {
    list["data"].as_array().unwrap().iter().map(id).collect()
}

/// An active full member through 2025 of `kind`.
async fn member(app: &TestApp, name: &str, kind: &str) -> String {
    let org = organisation(app, json!({"name": name, "kind": kind})).await;
    join(app, &org, "2024-12-01", "2025-01-01", "2025-12-31").await;
    org
}

async fn accept(caller: &Caller<'_>, path: &str, accept: &str) -> TestResponse {
    let request = caller
        .request(actix_web::http::Method::GET, path)
        .insert_header(("accept", accept));
    caller.send(request, None).await
}

db_test!(
    async fn a_snapshot_holds_what_the_report_answered_when_it_was_saved(app) {
        fixture(&app).await;
        let (_, group, _) = participation_fixture(&app).await;
        let bench = id(&create_benchmark(&app, test_benchmark()).await);
        let (email, staff) = app.account("staff").await;
        let as_staff = app.as_(Some(&staff));
        let me = ok(&as_staff.get("/api/v1/me").await);
        assert_eq!(me["email"], email.as_str());
        for (report, query, disclosure) in [
            ("composition", "as_of=2025-06-30&disclosure=public".to_owned(), "public"),
            ("composition_trend", "at=2025-06-30&at=2025-07-20&dimension=kind".to_owned(), "internal"),
            ("gaps", format!("benchmark={bench}&as_of=2025-06-30"), "internal"),
            ("expertise_coverage", "as_of=2025-06-30&minimum=1&disclosure=public".to_owned(), "public"),
            ("participation", format!("expert_group={group}&as_of=2026-06-30"), "internal"),
        ] {
            let expected = ok(&as_staff.get(&report_path(report, &query)).await);
            let name = format!("Annual report: {report}");
            let response = save_as(&as_staff, &name, report, &query).await;
            let saved = created(&response);
            let id = id(&saved);
            assert_eq!(response.header("location").as_deref(), Some(snapshot_path(&id).as_str()), "{report}");
            let mut fields = SUMMARY_FIELDS.map(str::to_owned).to_vec();
            fields.push("body".to_owned());
            fields.sort();
            assert_eq!(keys(&saved), fields, "{report}");
            for (key, want) in [
                ("name", json!(name)), ("report", json!(report)), ("query", json!(query)),
                ("disclosure", json!(disclosure)), ("includes_anonymous_responses", json!(false)),
                ("created_by", json!({"id": me["id"], "name": "Test User"})),
            ] {
                assert_eq!(saved[key], want, "{report} {key}");
            }
            assert!(saved["created_at"].as_str().is_some_and(|at| at.starts_with("20")), "{saved}");
            assert_eq!(saved["body"], expected, "{report}: the body is the report's JSON");
            assert_eq!(ok(&as_staff.get(&snapshot_path(&id)).await), saved, "{report} read back");
        }

        // Without a query: the report's defaults (today, every dimension, internal).
        let saved = save(&app, "Today", "composition", "").await;
        let bare = created(&app.post_json(SNAPSHOTS, &json!({"name": "Today, no query", "report": "composition"})).await);
        assert_eq!(bare["query"], "");
        assert_eq!(bare["disclosure"], "internal");
        assert_eq!(bare["body"], ok(&app.get("/api/v1/reports/composition").await));
        assert_eq!(bare["body"], saved["body"]);
        assert_eq!(bare["created_by"]["name"], "Administrator");
    }
);

db_test!(
    async fn a_snapshot_is_not_recomputed_when_the_data_changes(app) {
        fixture(&app).await;
        let query = "as_of=2025-06-30&dimension=kind";
        let saved = save(&app, "Before Larch joined", "composition", query).await;
        let path = snapshot_path(&id(&saved));
        let csv_before = fetch(&app, &report_path("composition", query), "text/csv").await.body;
        assert_eq!(saved["body"]["active_members"], 6);

        member(&app, "Larch National", "national_charity").await;
        let now = ok(&app.get(&report_path("composition", query)).await);
        assert_eq!(now["active_members"], 7, "the report counts Larch now");
        let read = ok(&app.get(&path).await);
        assert_eq!(read["body"], saved["body"], "the snapshot does not");
        assert_eq!(read["body"]["active_members"], 6);
        let csv = fetch(&app, &path, "text/csv").await;
        assert_eq!(csv.status, StatusCode::OK);
        assert_eq!(csv.text(), String::from_utf8(csv_before).unwrap());
    }
);

db_test!(
    async fn a_query_the_report_would_refuse_is_a_422_naming_query_and_saves_nothing(app) {
        let unknown = uuid::Uuid::now_v7();
        for (report, query) in [
            ("composition", "as_of=not-a-date".to_owned()),
            ("composition", "dimension=nope".to_owned()),
            ("composition", "colour=blue".to_owned()),
            ("composition", "disclosure=secret".to_owned()),
            ("composition_trend", "dimension=kind".to_owned()),
            ("gaps", format!("benchmark={unknown}")),
            ("gaps", "targets=false".to_owned()),
            ("expertise_coverage", "minimum=0".to_owned()),
            ("participation", "as_of=2026-06-30".to_owned()),
            ("participation", format!("consultation={unknown}")),
        ] {
            let response = save_as(&app.as_admin(), "Refused", report, &query).await;
            response.problem(422);
            let fields = response.error_fields();
            assert!(!fields.is_empty() && fields.iter().all(|f| f == "query" || f.starts_with("query.")), "{report}?{query}: {}", response.text());
        }
        // The parameter at fault is named under `query.`.
        let response = save_as(&app.as_admin(), "Refused", "composition", "as_of=not-a-date").await;
        assert_eq!(response.error_fields(), ["query.as_of"]);
        let response = save_as(&app.as_admin(), "Refused", "composition_trend", "").await;
        assert_eq!(response.error_fields(), ["query.at"]);

        // The body itself: an unknown report is a 422 like any bad enum value in a body.
        for (body, field) in [
            (json!({"name": "Pie", "report": "pie_chart"}), "report"),
            (json!({"report": "composition"}), "name"),
            (json!({"name": "", "report": "composition"}), "name"),
            (json!({"name": "No report"}), "report"),
            (json!({"name": "Extra", "report": "composition", "colour": "blue"}), "colour"),
        ] {
            let response = app.post_json(SNAPSHOTS, &body).await;
            response.problem(422);
            assert!(response.error_fields().contains(&field.to_owned()), "{body}: {}", response.text());
        }
        assert_eq!(ok(&app.get(SNAPSHOTS).await)["data"], json!([]), "nothing was saved");
    }
);

db_test!(
    async fn only_staff_and_admins_save_and_delete_snapshots(app) {
        let viewer = app.token_for("viewer").await;
        let staff = app.token_for("staff").await;
        let key = app.api_key(&["reports:read"]).await;
        let (as_viewer, as_staff, as_key) = (app.as_(Some(&viewer)), app.as_(Some(&staff)), app.as_(Some(&key)));
        save_as(&as_viewer, "Viewer's", "composition", "as_of=2025-06-30").await.problem(403);
        save_as(&as_key, "Key's", "composition", "as_of=2025-06-30").await.problem(403);
        assert_eq!(ok(&app.get(SNAPSHOTS).await)["data"], json!([]));

        let by_staff = created(&save_as(&as_staff, "Staff's", "composition", "as_of=2025-06-30").await);
        let by_admin = save(&app, "Admin's", "composition", "as_of=2025-06-30").await;
        let path = snapshot_path(&id(&by_staff));
        as_viewer.delete(&path, None).await.problem(403);
        as_key.delete(&path, None).await.problem(403);
        ok(&as_viewer.get(&path).await);
        assert_eq!(as_staff.delete(&path, None).await.status, StatusCode::NO_CONTENT);
        as_staff.get(&path).await.problem(404);
        as_staff.delete(&path, None).await.problem(404);
        assert_eq!(ids(&ok(&app.get(SNAPSHOTS).await)), [id(&by_admin)]);
        as_staff.delete(&format!("{SNAPSHOTS}/not-a-uuid"), None).await.problem(400);
    }
);

db_test!(
    async fn snapshots_are_listed_oldest_first_in_pages_without_their_figures(app) {
        let first = save(&app, "First", "composition", "as_of=2025-06-30").await;
        let gaps = save(&app, "Gaps", "gaps", "as_of=2025-06-30").await;
        let second = save(&app, "Second", "composition", "as_of=2025-07-31&dimension=kind").await;
        let coverage = save(&app, "Coverage", "expertise_coverage", "as_of=2025-06-30").await;
        let all = [&first, &gaps, &second, &coverage].map(id);

        let list = ok(&app.get(SNAPSHOTS).await);
        assert_eq!(ids(&list), all);
        assert_eq!(list["next_cursor"], json!(null));
        for (summary, saved) in list["data"].as_array().unwrap().iter().zip([&first, &gaps, &second, &coverage]) {
            assert_eq!(keys(summary), SUMMARY_FIELDS, "no body in a list: {summary}");
            let mut without_body = saved.clone();
            without_body.as_object_mut().unwrap().remove("body");
            assert_eq!(summary, &without_body);
        }
        assert_eq!(ids(&ok(&app.get(&format!("{SNAPSHOTS}?report=composition")).await)), [id(&first), id(&second)]);
        assert_eq!(ids(&ok(&app.get(&format!("{SNAPSHOTS}?report=composition_trend")).await)), Vec::<String>::new());
        app.get(&format!("{SNAPSHOTS}?report=pie_chart")).await.problem(400);
        app.get(&format!("{SNAPSHOTS}?colour=blue")).await.problem(400);

        let page = app.get(&format!("{SNAPSHOTS}?limit=3")).await;
        let body = ok(&page);
        assert_eq!(ids(&body), all[..3]);
        let cursor = body["next_cursor"].as_str().expect("a next page").to_owned();
        let link = page.header("link").expect("a Link header with the next page");
        assert!(link.contains("rel=\"next\"") && link.contains("limit=3") && link.contains("cursor="), "{link}");
        let rest = app.get(&format!("{SNAPSHOTS}?limit=3&cursor={}", urlencode(&cursor))).await;
        let body = ok(&rest);
        assert_eq!(ids(&body), all[3..]);
        assert_eq!(body["next_cursor"], json!(null));
        assert_eq!(rest.header("link"), None);
        let filtered = ok(&app.get(&format!("{SNAPSHOTS}?report=composition&limit=1")).await);
        assert_eq!(ids(&filtered), [id(&first)]);
        let cursor = filtered["next_cursor"].as_str().unwrap().to_owned();
        let filtered = ok(&app.get(&format!("{SNAPSHOTS}?report=composition&limit=1&cursor={}", urlencode(&cursor))).await);
        assert_eq!(ids(&filtered), [id(&second)]);

        // Viewers and API keys with reports:read list and read them too.
        let viewer = app.token_for("viewer").await;
        let key = app.api_key(&["reports:read"]).await;
        for credential in [&viewer, &key] {
            let caller = app.as_(Some(credential));
            assert_eq!(ids(&ok(&caller.get(SNAPSHOTS).await)), all);
            assert_eq!(ok(&caller.get(&snapshot_path(&id(&gaps))).await), gaps);
        }
        let other = app.api_key(&["organisations:read"]).await;
        app.as_(Some(&other)).get(SNAPSHOTS).await.problem(403);
        app.as_(Some(&other)).get(&snapshot_path(&id(&gaps))).await.problem(403);
        app.as_anonymous().get(SNAPSHOTS).await.problem(401);
    }
);

db_test!(
    async fn a_snapshot_that_counted_anonymous_responses_is_for_staff_and_admins_only(app) {
        let (consultation, group, [oak, _, rowan]) = participation_fixture(&app).await;
        let respond = format!("/api/v1/consultations/{consultation}/responses");
        created(&app.post_json(&respond, &json!({"organisation_id": oak, "attribution": "anonymous"})).await);
        created(&app.post_json(&respond, &json!({"organisation_id": rowan})).await);
        group_member(&app, &group, &oak).await;
        let staff = app.token_for("staff").await;
        let as_staff = app.as_(Some(&staff));

        let counted = created(&save_as(&as_staff, "Who answered", "participation", &format!("consultation={consultation}&as_of=2026-06-30")).await);
        assert_eq!(counted["includes_anonymous_responses"], true);
        assert_eq!(counted["body"]["organisations"], 2, "Oak's anonymous response is counted");
        let of_group = created(&save_as(&as_staff, "Group", "participation", &format!("expert_group={group}&as_of=2026-06-30")).await);
        assert_eq!(of_group["includes_anonymous_responses"], false);
        let composition = created(&save_as(&as_staff, "Membership", "composition", "as_of=2026-06-30").await);
        assert_eq!(composition["includes_anonymous_responses"], false);
        assert_eq!(ids(&ok(&as_staff.get(SNAPSHOTS).await)), [id(&counted), id(&of_group), id(&composition)]);
        assert_eq!(ok(&app.get(&snapshot_path(&id(&counted))).await), counted, "admins read it too");

        let viewer = app.token_for("viewer").await;
        let key = app.api_key(&["reports:read"]).await;
        for credential in [&viewer, &key] {
            let caller = app.as_(Some(credential));
            assert_eq!(ids(&ok(&caller.get(SNAPSHOTS).await)), [id(&of_group), id(&composition)]);
            assert_eq!(ids(&ok(&caller.get(&format!("{SNAPSHOTS}?report=participation")).await)), [id(&of_group)]);
            caller.get(&snapshot_path(&id(&counted))).await.problem(404);
            accept(&caller, &snapshot_path(&id(&counted)), "text/csv").await.problem(404);
            ok(&caller.get(&snapshot_path(&id(&of_group))).await);
            ok(&caller.get(&snapshot_path(&id(&composition))).await);
            caller.get(&format!("{SNAPSHOTS}/compare?from={}&to={}", id(&counted), id(&of_group))).await.problem(404);
        }
    }
);

async fn group_member(app: &TestApp, group: &str, org: &str) {
    let members = format!("/api/v1/expert-groups/{group}/members");
    created(
        &app.post_json(
            &members,
            &json!({"organisation_id": org, "role": "member", "joined_on": "2026-01-01"}),
        )
        .await,
    );
}

db_test!(
    async fn a_snapshot_reads_back_as_the_csv_and_chart_its_report_had(app) {
        fixture(&app).await;
        let (consultation, group, [oak, pine, _]) = participation_fixture(&app).await;
        created(&app.post_json(&format!("/api/v1/consultations/{consultation}/responses"), &json!({"organisation_id": pine})).await);
        group_member(&app, &group, &oak).await;
        let bench = id(&create_benchmark(&app, test_benchmark()).await);
        for (report, query, chart) in [
            ("composition", "as_of=2025-06-30&disclosure=public".to_owned(), true),
            ("composition", "as_of=2025-06-30".to_owned(), true),
            ("composition_trend", "at=2025-06-30&at=2025-07-20&disclosure=public".to_owned(), false),
            ("gaps", format!("benchmark={bench}&as_of=2025-06-30&disclosure=public"), true),
            ("expertise_coverage", "as_of=2025-06-30".to_owned(), false),
            ("participation", format!("consultation={consultation}&as_of=2026-06-30"), true),
            ("participation", format!("expert_group={group}&as_of=2026-06-30&disclosure=public"), true),
        ] {
            let csv = fetch(&app, &report_path(report, &query), "text/csv").await;
            assert_eq!(csv.status, StatusCode::OK, "{}", csv.text());
            let saved = save(&app, "Exported", report, &query).await;
            let path = snapshot_path(&id(&saved));
            let read = fetch(&app, &path, "text/csv").await;
            assert_eq!(read.status, StatusCode::OK, "{report}: {}", read.text());
            assert!(read.header("content-type").unwrap().starts_with("text/csv"), "{report}");
            assert_eq!(read.text(), csv.text(), "{report}?{query}: the report's CSV, byte for byte");
            assert_eq!(read.body, csv.body);
            let svg = fetch(&app, &path, "image/svg+xml").await;
            if chart {
                assert_eq!(svg.status, StatusCode::OK, "{report}: {}", svg.text());
                assert!(svg.header("content-type").unwrap().starts_with("image/svg+xml"));
                assert!(svg.text().contains("<svg"), "{report}");
            } else {
                svg.problem(406);
            }
            fetch(&app, &path, "application/xml").await.problem(406);
            assert_eq!(ok(&fetch(&app, &path, "application/json").await), saved);
        }
        app.get(&format!("{SNAPSHOTS}/not-a-uuid")).await.problem(400);
        app.get(&snapshot_path(&uuid::Uuid::now_v7().to_string())).await.problem(404);
    }
);

/// The figures of one compared row, by measure.
fn figures<'a>(comparison: &'a Value, section: &str, code: &str) -> &'a Value {
    let row = comparison["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["section"] == section && r["code"] == code)
        .unwrap_or_else(|| panic!("{section} {code} in {comparison}"));
    &row["figures"]
}

/// (measure, from, to, change) of each figure, none of them suppressed.
#[track_caller]
fn assert_figures(figures: &Value, expected: &[(&str, f64, f64, f64)]) {
    let found = figures.as_array().unwrap();
    let measures: Vec<&str> = found
        .iter()
        .map(|f| f["measure"].as_str().unwrap())
        .collect();
    assert_eq!(measures, expected.iter().map(|e| e.0).collect::<Vec<_>>());
    for (figure, &(measure, from, to, change)) in found.iter().zip(expected) {
        assert_close(&figure["from"], from, &format!("{measure} from"));
        assert_close(&figure["to"], to, &format!("{measure} to"));
        assert_close(&figure["change"], change, &format!("{measure} change"));
        assert_eq!(
            (
                figure["from_suppressed"].clone(),
                figure["to_suppressed"].clone()
            ),
            (json!(false), json!(false)),
            "{figure}"
        );
    }
}

db_test!(
    async fn two_snapshots_of_a_report_compare_figure_by_figure(app) {
        fixture(&app).await;
        let query = "as_of=2025-06-30&dimension=kind";
        // Cedar and Larch: 2 national charities of 7 active members.
        member(&app, "Larch National", "national_charity").await;
        let before = save(&app, "Before", "composition", query).await;
        // And Maple: 3 of 8.
        member(&app, "Maple National", "national_charity").await;
        let after = save(&app, "After", "composition", query).await;
        let path = format!("{SNAPSHOTS}/compare?from={}&to={}", id(&before), id(&after));
        let comparison = ok(&app.get(&path).await);
        assert_eq!(comparison["report"], "composition");
        let summary = |saved: &Value| {
            let mut summary = saved.clone();
            summary.as_object_mut().unwrap().remove("body");
            summary
        };
        assert_eq!(comparison["from"], summary(&before));
        assert_eq!(comparison["to"], summary(&after));
        assert_eq!(comparison["rows"].as_array().unwrap().len(), 8, "one row per kind");

        let national = comparison["rows"].as_array().unwrap().iter().find(|r| r["code"] == "national_charity").unwrap();
        assert_eq!((national["section"].clone(), national["label"].clone()), (json!("kind"), json!("National charity")));
        // 2 of 7 is 28.6%, 3 of 8 is 37.5%: +8.9 points (kind: everyone answered).
        assert_figures(figures(&comparison, "kind", "national_charity"), &[
            ("members", 2.0, 3.0, 1.0),
            ("share_of_members", 28.6, 37.5, 8.9),
            ("share_of_answered", 28.6, 37.5, 8.9),
        ]);
        // Elm is still the one academic: 1 of 7 is 14.3%, 1 of 8 12.5%.
        assert_figures(figures(&comparison, "kind", "academic"), &[
            ("members", 1.0, 1.0, 0.0),
            ("share_of_members", 14.3, 12.5, -1.8),
            ("share_of_answered", 14.3, 12.5, -1.8),
        ]);

        let response = fetch(&app, &path, "text/csv").await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        assert!(response.header("content-type").unwrap().starts_with("text/csv"));
        let mut reader = csv::Reader::from_reader(response.body.as_slice());
        assert_eq!(reader.headers().unwrap().iter().collect::<Vec<_>>(), ["section", "code", "label", "measure", "from", "to", "change"]);
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(records.len(), 8 * 3);
        let line = records.iter().find(|r| &r[1] == "national_charity" && &r[3] == "members").unwrap();
        assert_eq!(line.iter().collect::<Vec<_>>(), ["kind", "national_charity", "National charity", "members", "2", "3", "1"]);
        let line = records.iter().find(|r| &r[1] == "national_charity" && &r[3] == "share_of_members").unwrap();
        assert_eq!(line.iter().skip(4).collect::<Vec<_>>(), ["28.6", "37.5", "8.9"]);

        // Only two snapshots of one report compare.
        let gaps = save(&app, "Gaps", "gaps", "as_of=2025-06-30").await;
        app.get(&format!("{SNAPSHOTS}/compare?from={}&to={}", id(&before), id(&gaps))).await.problem(400);
        for query in [format!("from={}", id(&before)), format!("to={}", id(&after)), String::new(), format!("from=not-a-uuid&to={}", id(&after))] {
            app.get(&format!("{SNAPSHOTS}/compare?{query}")).await.problem(400);
        }
        let unknown = uuid::Uuid::now_v7();
        app.get(&format!("{SNAPSHOTS}/compare?from={}&to={unknown}", id(&before))).await.problem(404);
        app.get(&format!("{SNAPSHOTS}/compare?from={unknown}&to={}", id(&after))).await.problem(404);
    }
);

db_test!(
    async fn compare_is_a_path_of_its_own_not_a_snapshot_id(app) {
        // DELETE /reports/snapshots/compare must not reach DELETE /reports/snapshots/{id}.
        let response = app.delete("/api/v1/reports/snapshots/compare", None).await;
        assert_eq!(response.status, StatusCode::METHOD_NOT_ALLOWED, "{}", response.text());
        assert_eq!(response.header("allow").as_deref(), Some("GET"));
        let response = app
            .send(app.request(Method::OPTIONS, "/api/v1/reports/snapshots/compare"), None)
            .await;
        assert_eq!(response.status, StatusCode::METHOD_NOT_ALLOWED, "{}", response.text());
        assert_eq!(response.header("allow").as_deref(), Some("GET"));
    }
);
