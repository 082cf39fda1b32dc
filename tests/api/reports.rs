//! Diversity-gap reports: composition of the active membership, benchmark sets and targets,
//! gaps against them and expertise coverage, as JSON, CSV and SVG, over hand-counted fixtures.

use actix_web::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{TestApp, TestResponse};
use crate::organisations::urlencode;

pub(crate) const REGIONS: [&str; 10] = [
    "north_east",
    "north_west",
    "yorkshire_humber",
    "east_midlands",
    "west_midlands",
    "east",
    "london",
    "south_east",
    "south_west",
    "wales",
];

pub(crate) const KINDS: [&str; 8] = [
    "national_charity",
    "local_charity",
    "grassroots_group",
    "academic",
    "statutory_body",
    "professional_body",
    "social_enterprise",
    "other",
];

const SIZE_BANDS: [&str; 6] = ["micro", "small", "medium", "large", "major", "super_major"];

pub(crate) fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

fn today() -> String {
    chrono::Utc::now().date_naive().to_string()
}

#[track_caller]
pub(crate) fn ok(response: &TestResponse) -> Value {
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.json()
}

#[track_caller]
pub(crate) fn created(response: &TestResponse) -> Value {
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    response.json()
}

/// `GET path` with an `Accept` header.
pub(crate) async fn fetch(app: &TestApp, path: &str, accept: &str) -> TestResponse {
    let request = app
        .request(Method::GET, path)
        .insert_header(("accept", accept));
    app.send(request, None).await
}

/// The CSV `path` answers with: its header and its rows.
pub(crate) async fn export(app: &TestApp, path: &str) -> (Vec<String>, Vec<csv::StringRecord>) {
    let response = fetch(app, path, "text/csv").await;
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

/// The SVG `path` answers with, checked to be an accessible chart.
pub(crate) async fn chart(app: &TestApp, path: &str) -> String {
    let response = fetch(app, path, "image/svg+xml").await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert!(
        response
            .header("content-type")
            .unwrap()
            .starts_with("image/svg+xml")
    );
    let svg = response.text();
    for part in ["<svg", "<title", "<desc", "role=\"img\""] {
        assert!(svg.contains(part), "{part} in {svg}");
    }
    svg
}

/// The cell of `record` under `column`.
pub(crate) fn cell<'a>(headers: &[String], record: &'a csv::StringRecord, column: &str) -> &'a str {
    let index = headers
        .iter()
        .position(|h| h == column)
        .unwrap_or_else(|| panic!("{column} in {headers:?}"));
    &record[index]
}

#[track_caller]
pub(crate) fn assert_close(value: &Value, expected: f64, what: &str) {
    let actual = value
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: a number, got {value}"));
    assert!(
        (actual - expected).abs() < 1e-9,
        "{what}: expected {expected}, got {actual}"
    );
}

/// Every field of `expected` is in `actual`: numbers to within rounding noise, the rest exactly.
#[track_caller]
pub(crate) fn assert_fields(actual: &Value, expected: Value) {
    for (key, want) in expected.as_object().unwrap() {
        match want.as_f64() {
            Some(number) => assert_close(&actual[key], number, &format!("{key} of {actual}")),
            None => assert_eq!(&actual[key], want, "{key} of {actual}"),
        }
    }
}

fn codes(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap().to_owned())
        .collect()
}

/// One dimension of a composition report.
pub(crate) fn dimension<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["dimension"] == name)
        .unwrap_or_else(|| panic!("{name} in {report}"))
}

pub(crate) fn row<'a>(dimension: &'a Value, code: &str) -> &'a Value {
    dimension["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == code)
        .unwrap_or_else(|| panic!("{code} in {dimension}"))
}

/// (code, members, share of members, share of answered; `None`: null) for each listed row.
#[track_caller]
fn assert_rows(dimension: &Value, expected: &[(&str, i64, f64, Option<f64>)]) {
    for &(code, members, of_members, of_answered) in expected {
        let row = row(dimension, code);
        assert_eq!(row["members"], members, "{code}: {row}");
        assert_close(&row["share_of_members"], of_members, code);
        match of_answered {
            Some(share) => assert_close(&row["share_of_answered"], share, code),
            None => assert_eq!(row["share_of_answered"], json!(null), "{code}: {row}"),
        }
    }
}

/// (code, members, share of members) for rows whose share of answered the contract leaves open.
#[track_caller]
fn assert_counts(dimension: &Value, expected: &[(&str, i64, f64)]) {
    for &(code, members, of_members) in expected {
        let row = row(dimension, code);
        assert_eq!(row["members"], members, "{code}: {row}");
        assert_close(&row["share_of_members"], of_members, code);
    }
}

pub(crate) async fn composition(app: &TestApp, query: &str) -> Value {
    ok(&app
        .get(&format!("/api/v1/reports/composition?{query}"))
        .await)
}

pub(crate) async fn organisation(app: &TestApp, body: Value) -> String {
    id(&app.create_organisation(&body).await)
}

async fn action(app: &TestApp, id: &str, name: &str, body: Value) {
    let path = format!("/api/v1/organisations/{id}/membership/{name}");
    ok(&app.post_json(&path, &body).await);
}

/// Makes `id` a full member for `[start_on, end_on]`, having applied on `applied_on`.
pub(crate) async fn join(app: &TestApp, id: &str, applied_on: &str, start_on: &str, end_on: &str) {
    action(
        app,
        id,
        "apply",
        json!({"tier": "full", "applied_on": applied_on}),
    )
    .await;
    action(
        app,
        id,
        "approve",
        json!({"start_on": start_on, "end_on": end_on}),
    )
    .await;
}

pub(crate) fn answered(codes: &[&str]) -> Value {
    json!({"reply_status": "answered", "communities": codes})
}

/// Eleven organisations. Active on 2025-06-30 (6): Alder, Birch, Cedar, Elm and Kestrel
/// (current, 2025) and Damson (grace: its period ended 2025-06-15, grace until 2025-07-15).
/// Never counted then: Fir (lapsed, ended 2024-12-31), Gorse (withdrawn from 2025-03-01),
/// Hazel (pending), Ivy (prospect) and Juniper (a current member, deleted).
pub(crate) async fn fixture(app: &TestApp) {
    let year = ("2024-12-01", "2025-01-01", "2025-12-31");
    let alder = organisation(app, json!({
        "name": "Alder Youth Voice", "kind": "grassroots_group", "size_band": "small",
        "regions": ["north_west", "london"], "expertise": ["racial_justice", "participation_voice"],
        "leadership": answered(&["DEI010110", "DEI010120"]), "mission": answered(&["DEI070200"]),
        "lived_experience_led": true,
    })).await;
    join(app, &alder, year.0, year.1, year.2).await;
    let birch = organisation(app, json!({
        "name": "Birch Justice Trust", "kind": "local_charity", "size_band": "medium",
        "regions": ["london"], "expertise": ["racial_justice"],
        "leadership": answered(&["DEI010300", "EXT020000"]), "mission": answered(&["DEI010000"]),
        "lived_experience_led": false,
    })).await;
    join(app, &birch, year.0, year.1, year.2).await;
    let cedar = organisation(
        app,
        json!({
            "name": "Cedar Advocacy", "kind": "national_charity", "leadership": answered(&[]),
        }),
    )
    .await;
    join(app, &cedar, year.0, year.1, year.2).await;
    let damson = organisation(
        app,
        json!({
            "name": "Damson Collective", "kind": "grassroots_group", "size_band": "micro",
            "regions": ["north_west"], "expertise": ["mental_health", "racial_justice"],
            "leadership": {"reply_status": "prefer_not_to_say", "communities": []},
            "mission": answered(&["DEI070200", "DEI070100"]), "lived_experience_led": true,
        }),
    )
    .await;
    join(app, &damson, "2024-05-01", "2024-06-01", "2025-06-15").await;
    let elm = organisation(
        app,
        json!({
            "name": "Elm Research Unit", "kind": "academic", "size_band": "large",
            "regions": ["london"], "expertise": ["research_evidence"],
            "mission": {"reply_status": "prefer_not_to_say", "communities": []},
        }),
    )
    .await;
    join(app, &elm, year.0, year.1, year.2).await;
    let kestrel = organisation(
        app,
        json!({
            "name": "Kestrel Care Leavers", "kind": "social_enterprise", "size_band": "small",
            "regions": ["wales"], "expertise": ["care_experience"],
            "leadership": answered(&["DEI010100", "DEI010110", "EXT010000"]),
            "mission": answered(&["EXT010000"]), "lived_experience_led": true,
        }),
    )
    .await;
    join(app, &kestrel, year.0, year.1, year.2).await;

    let fir = organisation(
        app,
        json!({
            "name": "Fir Lapsed Trust", "kind": "local_charity", "size_band": "small",
            "regions": ["wales"], "expertise": ["racial_justice"],
            "leadership": answered(&["DEI010110"]), "lived_experience_led": false,
        }),
    )
    .await;
    join(app, &fir, "2023-12-01", "2024-01-01", "2024-12-31").await;
    let gorse = organisation(
        app,
        json!({
            "name": "Gorse Former Members", "kind": "local_charity", "regions": ["north_west"],
            "expertise": ["racial_justice"], "leadership": answered(&["DEI010120"]),
        }),
    )
    .await;
    join(app, &gorse, year.0, year.1, year.2).await;
    action(
        app,
        &gorse,
        "withdraw",
        json!({"reason": "Closed", "withdrawn_on": "2025-03-01"}),
    )
    .await;
    let hazel = organisation(
        app,
        json!({
            "name": "Hazel Applicant", "kind": "grassroots_group", "regions": ["north_west"],
            "expertise": ["racial_justice"], "leadership": answered(&["DEI010110"]),
        }),
    )
    .await;
    action(
        app,
        &hazel,
        "apply",
        json!({"tier": "full", "applied_on": "2025-05-01"}),
    )
    .await;
    organisation(
        app,
        json!({
            "name": "Ivy Prospect", "kind": "grassroots_group", "regions": ["north_west"],
            "expertise": ["racial_justice"], "leadership": answered(&["DEI010110"]),
        }),
    )
    .await;
    let juniper = organisation(
        app,
        json!({
            "name": "Juniper Deleted", "kind": "grassroots_group", "regions": ["london"],
            "expertise": ["racial_justice"], "leadership": answered(&["DEI010110"]),
            "lived_experience_led": true,
        }),
    )
    .await;
    join(app, &juniper, year.0, year.1, year.2).await;
    let deleted = app
        .delete(&format!("/api/v1/organisations/{juniper}"), None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text());
}

/// A benchmark set with shares chosen so the gaps on 2025-06-30 come out exact (leadership
/// answered by 4): DEI010000 3/4 = 75 vs 30, DEI010100 2/4 = 50 vs 60, DEI010300 1/4 = 25 vs 25,
/// EXT020000 1/4 = 25 vs 25, DEI019930 0 vs 7, DEI090000 0 vs 0.
pub(crate) fn test_benchmark() -> Value {
    json!({
        "code": "test_reference_2025",
        "name": "Test reference population",
        "population": "Children in a made-up place",
        "source": "Hand-made for the tests",
        "year": 2025,
        "verified": true,
        "shares": {
            "DEI010000": 30.0, "DEI010100": 60.0, "DEI010300": 25.0,
            "EXT020000": 25.0, "DEI019930": 7.0, "DEI090000": 0.0,
        },
    })
}

pub(crate) async fn create_benchmark(app: &TestApp, body: Value) -> Value {
    created(&app.post_json("/api/v1/benchmarks", &body).await)
}

pub(crate) async fn create_target(app: &TestApp, body: Value) -> Value {
    created(&app.post_json("/api/v1/targets", &body).await)
}

pub(crate) fn gap<'a>(report: &'a Value, source: &str, code: &str) -> &'a Value {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["source"] == source && r["code"] == code)
        .unwrap_or_else(|| panic!("{source} {code} in {report}"))
}

/// (source, code) of the rows with a ratio, in the order given.
fn ranked(report: &Value) -> Vec<(String, String)> {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["ratio"].is_null())
        .map(|r| {
            (
                r["source"].as_str().unwrap().to_owned(),
                r["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(s, c)| ((*s).to_owned(), (*c).to_owned()))
        .collect()
}

db_test!(
    async fn composition_counts_and_shares_every_dimension_with_its_denominators(app) {
        fixture(&app).await;
        let report = composition(&app, "as_of=2025-06-30").await;
        assert_eq!(report["as_of"], "2025-06-30");
        assert_eq!(report["active_members"], 6);
        let active = app.list_all("as_of=2025-06-30&membership_status=current&membership_status=grace").await;
        assert_eq!(active.len(), 6, "the same members as the organisation list");
        let names: Vec<&str> = report["dimensions"].as_array().unwrap().iter().map(|d| d["dimension"].as_str().unwrap()).collect();
        assert_eq!(names, ["leadership", "mission", "kind", "size_band", "region", "expertise", "lived_experience_led"]);

        let leadership = dimension(&report, "leadership");
        assert_eq!(leadership["denominators"], json!({"members": 6, "answered": 4}));
        let mission = dimension(&report, "mission");
        assert_eq!(mission["denominators"], json!({"members": 6, "answered": 4}));
        assert_rows(mission, &[
            ("DEI010000", 1, 16.7, Some(25.0)),
            ("DEI010100", 0, 0.0, Some(0.0)),
            ("DEI070000", 2, 33.3, Some(50.0)),
            ("DEI070100", 1, 16.7, Some(25.0)),
            ("DEI070200", 2, 33.3, Some(50.0)),
            ("EXT010000", 1, 16.7, Some(25.0)),
            ("answered_none", 0, 0.0, Some(0.0)),
            ("not_asked", 1, 16.7, None),
            ("prefer_not_to_say", 1, 16.7, None),
        ]);

        let kind = dimension(&report, "kind");
        assert_eq!(kind["denominators"], json!({"members": 6, "answered": 6}));
        let mut kinds = codes(&kind["rows"]);
        kinds.sort();
        let mut all_kinds = KINDS.map(str::to_owned).to_vec();
        all_kinds.sort();
        assert_eq!(kinds, all_kinds, "one row per kind, zeros included");
        assert_rows(kind, &[
            ("national_charity", 1, 16.7, Some(16.7)),
            ("local_charity", 1, 16.7, Some(16.7)),
            ("grassroots_group", 2, 33.3, Some(33.3)),
            ("academic", 1, 16.7, Some(16.7)),
            ("social_enterprise", 1, 16.7, Some(16.7)),
            ("statutory_body", 0, 0.0, Some(0.0)),
            ("other", 0, 0.0, Some(0.0)),
        ]);

        let size = dimension(&report, "size_band");
        assert_eq!(size["denominators"], json!({"members": 6, "answered": 5}));
        let mut bands = codes(&size["rows"]);
        bands.sort();
        let mut all_bands: Vec<String> = SIZE_BANDS.iter().chain(&["unknown"]).map(|b| (*b).to_owned()).collect();
        all_bands.sort();
        assert_eq!(bands, all_bands);
        assert_rows(size, &[
            ("micro", 1, 16.7, Some(20.0)),
            ("small", 2, 33.3, Some(40.0)),
            ("medium", 1, 16.7, Some(20.0)),
            ("large", 1, 16.7, Some(20.0)),
            ("major", 0, 0.0, Some(0.0)),
            ("super_major", 0, 0.0, Some(0.0)),
            ("unknown", 1, 16.7, None),
        ]);

        // Alder has two regions and counts under both; Cedar has none.
        let region = dimension(&report, "region");
        assert_eq!(region["denominators"], json!({"members": 6, "answered": 5}));
        let mut regions = codes(&region["rows"]);
        regions.sort();
        let mut all_regions: Vec<String> = REGIONS.iter().chain(&["unknown"]).map(|r| (*r).to_owned()).collect();
        all_regions.sort();
        assert_eq!(regions, all_regions);
        assert_rows(region, &[
            ("north_west", 2, 33.3, Some(40.0)),
            ("london", 3, 50.0, Some(60.0)),
            ("wales", 1, 16.7, Some(20.0)),
            ("north_east", 0, 0.0, Some(0.0)),
        ]);
        assert_counts(region, &[("unknown", 1, 16.7)]);

        let expertise = dimension(&report, "expertise");
        assert_eq!(expertise["denominators"], json!({"members": 6, "answered": 5}));
        let areas = ok(&app.get("/api/v1/taxonomies/expertise-areas").await);
        let mut expected_areas = codes(&areas["data"]);
        expected_areas.push("none".to_owned());
        expected_areas.sort();
        let mut found_areas = codes(&expertise["rows"]);
        found_areas.sort();
        assert_eq!(found_areas, expected_areas);
        assert_rows(expertise, &[
            ("racial_justice", 3, 50.0, Some(60.0)),
            ("participation_voice", 1, 16.7, Some(20.0)),
            ("mental_health", 1, 16.7, Some(20.0)),
            ("research_evidence", 1, 16.7, Some(20.0)),
            ("care_experience", 1, 16.7, Some(20.0)),
            ("policing", 0, 0.0, Some(0.0)),
        ]);
        assert_counts(expertise, &[("none", 1, 16.7)]);

        let lived = dimension(&report, "lived_experience_led");
        assert_eq!(lived["denominators"], json!({"members": 6, "answered": 4}));
        assert_eq!(codes(&lived["rows"]).len(), 3);
        assert_rows(lived, &[("true", 3, 50.0, Some(75.0)), ("false", 1, 16.7, Some(25.0))]);
        assert_counts(lived, &[("unknown", 2, 33.3)]);
    }
);

db_test!(
    async fn an_organisation_counts_once_at_each_level_of_the_community_hierarchy(app) {
        // Alder is led by DEI010110 and DEI010120; Kestrel names DEI010100 and DEI010110.
        fixture(&app).await;
        let report = composition(&app, "as_of=2025-06-30&dimension=leadership").await;
        let leadership = dimension(&report, "leadership");
        assert_eq!(leadership["denominators"], json!({"members": 6, "answered": 4}));
        assert_rows(leadership, &[
            ("DEI010000", 3, 50.0, Some(75.0)),
            ("DEI010100", 2, 33.3, Some(50.0)),
            ("DEI010110", 2, 33.3, Some(50.0)),
            ("DEI010120", 1, 16.7, Some(25.0)),
            ("DEI010199", 0, 0.0, Some(0.0)),
            ("DEI010200", 0, 0.0, Some(0.0)),
            ("DEI010300", 1, 16.7, Some(25.0)),
            ("DEI010310", 0, 0.0, Some(0.0)),
            ("EXT010000", 1, 16.7, Some(25.0)),
            ("EXT020000", 1, 16.7, Some(25.0)),
        ]);
        let african = row(leadership, "DEI010110");
        assert_eq!(african["label"], "African");
        assert_eq!(african["parent_code"], "DEI010100");
        assert_eq!(row(leadership, "DEI010000")["parent_code"], json!(null));
        assert_eq!(row(leadership, "DEI010000")["label"], "Communities experiencing racial inequity");
    }
);

db_test!(
    async fn reports_follow_an_organisation_whose_codes_change(app) {
        // Reports count from codes kept beside the organisation (each level of the hierarchy
        // once, and "has any" per dimension); editing the organisation rewrites them.
        let id = organisation(&app, json!({
            "name": "Rowan Changing", "kind": "local_charity", "regions": ["london"],
            "expertise": ["racial_justice"], "leadership": answered(&["DEI010110", "DEI010120"]),
        })).await;
        join(&app, &id, "2024-12-01", "2025-01-01", "2025-12-31").await;
        let query = "as_of=2025-06-30&dimension=leadership&dimension=region&dimension=expertise";
        let before = composition(&app, query).await;
        let leadership = dimension(&before, "leadership");
        assert_eq!(row(leadership, "DEI010100")["members"], 1);
        assert_eq!(row(leadership, "DEI010000")["members"], 1);
        assert_eq!(dimension(&before, "region")["denominators"]["answered"], 1);
        assert_eq!(row(dimension(&before, "region"), "london")["members"], 1);

        let path = format!("/api/v1/organisations/{id}");
        let changed = json!({"leadership": answered(&["DEI010300"]), "regions": [], "expertise": []});
        ok(&app.patch_json(&path, &changed, None).await);
        let after = composition(&app, query).await;
        let leadership = dimension(&after, "leadership");
        assert_eq!(row(leadership, "DEI010110")["members"], 0);
        assert_eq!(row(leadership, "DEI010100")["members"], 0);
        assert_eq!(row(leadership, "DEI010300")["members"], 1);
        assert_eq!(row(leadership, "DEI010000")["members"], 1);
        assert_eq!(leadership["denominators"]["answered"], 1);
        let region = dimension(&after, "region");
        assert_eq!(region["denominators"]["answered"], 0);
        assert_eq!(row(region, "london")["members"], 0);
        assert_eq!(row(region, "unknown")["members"], 1);
        assert_eq!(row(dimension(&after, "expertise"), "none")["members"], 1);
    }
);

db_test!(
    async fn not_asked_prefer_not_to_say_and_answered_none_are_rows_of_their_own(app) {
        fixture(&app).await;
        let report = composition(&app, "as_of=2025-06-30&dimension=leadership").await;
        let leadership = dimension(&report, "leadership");
        // Cedar answered with no codes, Damson preferred not to say, Elm was not asked.
        assert_rows(leadership, &[
            ("answered_none", 1, 16.7, Some(25.0)),
            ("not_asked", 1, 16.7, None),
            ("prefer_not_to_say", 1, 16.7, None),
        ]);
        assert_eq!(row(leadership, "answered_none")["label"], "Answered: none of these");
        // Every community code in code order, zeros included, then the three reply rows.
        let taxonomy = ok(&app.get("/api/v1/taxonomies/communities").await);
        let mut expected = codes(&taxonomy["data"]);
        expected.sort();
        expected.extend(["answered_none", "not_asked", "prefer_not_to_say"].map(str::to_owned));
        assert_eq!(codes(&leadership["rows"]), expected);
    }
);

db_test!(
    async fn as_of_decides_who_is_an_active_member(app) {
        fixture(&app).await;
        // 15 January 2025: Fir is in grace (ended 2024-12-31), Gorse not yet withdrawn.
        let report = composition(&app, "as_of=2025-01-15&dimension=leadership").await;
        assert_eq!(report["as_of"], "2025-01-15");
        assert_eq!(report["active_members"], 8);
        let leadership = dimension(&report, "leadership");
        assert_eq!(leadership["denominators"], json!({"members": 8, "answered": 6}));
        assert_rows(leadership, &[
            ("DEI010000", 5, 62.5, Some(83.3)),
            ("DEI010100", 4, 50.0, Some(66.7)),
            ("DEI010110", 3, 37.5, Some(50.0)),
            ("DEI010120", 2, 25.0, Some(33.3)),
        ]);
        // Damson's grace ends 30 days after 2025-06-15.
        for (day, active) in [("2025-06-15", 6), ("2025-07-15", 6), ("2025-07-16", 5)] {
            assert_eq!(composition(&app, &format!("as_of={day}")).await["active_members"], active, "{day}");
        }
        let report = composition(&app, "as_of=2025-07-20&dimension=leadership").await;
        let leadership = dimension(&report, "leadership");
        assert_eq!(leadership["denominators"], json!({"members": 5, "answered": 4}));
        assert_rows(leadership, &[
            ("DEI010000", 3, 60.0, Some(75.0)),
            ("prefer_not_to_say", 0, 0.0, None),
            ("not_asked", 1, 20.0, None),
        ]);
        // By default, today: every fixture period is long over.
        let now = composition(&app, "").await;
        assert_eq!(now["as_of"], today());
        assert_eq!(now["active_members"], 0);
    }
);

db_test!(
    async fn a_withdrawn_member_stops_counting_from_its_withdrawal_date(app) {
        fixture(&app).await;
        let before = composition(&app, "as_of=2025-02-28&dimension=leadership").await;
        assert_eq!(before["active_members"], 7);
        assert_rows(dimension(&before, "leadership"), &[("DEI010120", 2, 28.6, Some(40.0))]);
        let after = composition(&app, "as_of=2025-03-01&dimension=leadership").await;
        assert_eq!(after["active_members"], 6);
        assert_rows(dimension(&after, "leadership"), &[("DEI010120", 1, 16.7, Some(25.0))]);
    }
);

db_test!(
    async fn the_dimension_parameter_picks_the_dimensions_reported(app) {
        fixture(&app).await;
        let report = composition(&app, "as_of=2025-06-30&dimension=kind&dimension=region").await;
        let mut names: Vec<&str> = report["dimensions"].as_array().unwrap().iter().map(|d| d["dimension"].as_str().unwrap()).collect();
        names.sort_unstable();
        assert_eq!(names, ["kind", "region"]);
        assert_eq!(report["active_members"], 6);
        assert_rows(dimension(&report, "region"), &[("london", 3, 50.0, Some(60.0))]);
    }
);

db_test!(
    async fn composition_refuses_bad_dates_dimensions_and_parameters_with_400(app) {
        for query in [
            "as_of=2025-13-01",
            "as_of=30/06/2025",
            "as_of=yesterday",
            "dimension=ethnicity",
            "dimension=leadership&dimension=colour",
            "colour=blue",
        ] {
            app.get(&format!("/api/v1/reports/composition?{query}")).await.problem(400);
        }
    }
);

db_test!(
    async fn composition_as_csv_has_one_line_per_row(app) {
        fixture(&app).await;
        let path = "/api/v1/reports/composition?as_of=2025-06-30";
        let report = ok(&app.get(path).await);
        let (headers, records) = export(&app, path).await;
        assert_eq!(headers, ["dimension", "code", "label", "members", "share_of_members", "share_of_answered"]);
        let total: usize = report["dimensions"].as_array().unwrap().iter().map(|d| d["rows"].as_array().unwrap().len()).sum();
        assert_eq!(records.len(), total);
        let find = |dimension: &str, code: &str| {
            records.iter().find(|r| &r[0] == dimension && &r[1] == code).unwrap_or_else(|| panic!("{dimension} {code}")).clone()
        };
        let black = find("leadership", "DEI010100");
        assert_eq!(&black[2], "Black / African / Caribbean / Black British");
        assert_eq!(&black[3], "2");
        assert!((black[4].parse::<f64>().unwrap() - 33.3).abs() < 1e-9, "{black:?}");
        assert!((black[5].parse::<f64>().unwrap() - 50.0).abs() < 1e-9, "{black:?}");
        let not_asked = find("leadership", "not_asked");
        assert_eq!(&not_asked[3], "1");
        assert_eq!(&not_asked[5], "", "a null share is an empty cell");
        let london = find("region", "london");
        assert_eq!(&london[3], "3");
        assert!((london[5].parse::<f64>().unwrap() - 60.0).abs() < 1e-9, "{london:?}");
    }
);

db_test!(
    async fn composition_as_svg_charts_one_dimension_with_its_labels(app) {
        fixture(&app).await;
        // Leadership by default, with its labels and values (3 of 6 is 50.0%).
        let svg = chart(&app, "/api/v1/reports/composition?as_of=2025-06-30").await;
        for text in ["leadership", "Communities experiencing racial inequity", "Answered: none of these", "50.0%"] {
            assert!(svg.contains(text), "{text} in {svg}");
        }
        let svg = chart(&app, "/api/v1/reports/composition?as_of=2025-06-30&dimension=expertise&dimension=leadership").await;
        assert!(svg.contains("Racial justice and disproportionality"), "{svg}");
        assert!(svg.contains("60.0%") || svg.contains("50.0%"), "{svg}");
        assert!(!svg.contains("Communities experiencing racial inequity"), "only the first dimension is charted: {svg}");
    }
);

db_test!(
    async fn reports_answer_406_for_representations_they_do_not_have(app) {
        for path in [
            "/api/v1/reports/composition",
            "/api/v1/reports/gaps",
            "/api/v1/reports/expertise-coverage",
        ] {
            fetch(&app, path, "application/xml").await.problem(406);
        }
    }
);

db_test!(
    async fn the_three_default_benchmark_sets_are_seeded_and_listed_by_name(app) {
        let list = ok(&app.get("/api/v1/benchmarks").await);
        assert_eq!(codes(&list["data"]), ["population_10_17_ew_2021", "youth_custody_2025_01", "youth_custody_other_2016"]);
        assert_eq!(list["next_cursor"], json!(null));
        let custody = &list["data"][1];
        assert_fields(custody, json!({
            "name": "Children and young people in the youth secure estate, January 2025",
            "year": 2025, "verified": false,
        }));
        assert_close(&custody["shares"]["DEI010100"], 24.1, "DEI010100");
        assert_close(&list["data"][2]["shares"]["DEI019930"], 7.0, "DEI019930");

        let first = ok(&app.get("/api/v1/benchmarks?limit=2").await);
        assert_eq!(first["data"].as_array().unwrap().len(), 2);
        let cursor = first["next_cursor"].as_str().unwrap();
        let rest = ok(&app.get(&format!("/api/v1/benchmarks?limit=2&cursor={}", urlencode(cursor))).await);
        assert_eq!(codes(&rest["data"]), ["youth_custody_other_2016"]);
        assert_eq!(rest["next_cursor"], json!(null));
    }
);

db_test!(
    async fn benchmarks_are_created_read_changed_and_deleted_with_etags(app) {
        let response = app.post_json("/api/v1/benchmarks", &test_benchmark()).await;
        let benchmark = created(&response);
        let id = id(&benchmark);
        let path = format!("/api/v1/benchmarks/{id}");
        assert_eq!(response.header("location").unwrap(), path);
        let etag = response.header("etag").expect("an ETag");
        assert_fields(&benchmark, json!({"code": "test_reference_2025", "name": "Test reference population", "year": 2025, "verified": true}));
        assert_close(&benchmark["shares"]["DEI010100"], 60.0, "DEI010100");
        assert!(benchmark["created_at"].is_string() && benchmark["updated_at"].is_string());

        let fetched = app.get(&path).await;
        assert_eq!(ok(&fetched), benchmark);
        assert_eq!(fetched.header("etag").unwrap(), etag);

        let changed = app.patch_json(&path, &json!({"name": "Renamed reference", "year": 2024}), Some(&etag)).await;
        let body = ok(&changed);
        assert_fields(&body, json!({"name": "Renamed reference", "year": 2024, "code": "test_reference_2025"}));
        let new_etag = changed.header("etag").unwrap();
        assert_ne!(new_etag, etag);
        app.patch_json(&path, &json!({"name": "Stale"}), Some(&etag)).await.problem(412);
        assert_eq!(ok(&app.get(&path).await)["name"], "Renamed reference");

        assert_eq!(app.delete(&path, Some(&new_etag)).await.status, StatusCode::NO_CONTENT);
        app.get(&path).await.problem(404);
        let list = ok(&app.get("/api/v1/benchmarks").await);
        assert!(!codes(&list["data"]).contains(&"test_reference_2025".to_owned()));
    }
);

db_test!(
    async fn benchmark_codes_are_unique_and_shares_are_known_codes_between_0_and_100(app) {
        create_benchmark(&app, test_benchmark()).await;
        app.post_json("/api/v1/benchmarks", &test_benchmark()).await.problem(409);
        let seeded = json!({"code": "youth_custody_2025_01", "name": "Copy", "population": "p", "source": "s", "year": 2025, "verified": false, "shares": {"DEI010100": 10.0}});
        app.post_json("/api/v1/benchmarks", &seeded).await.problem(409);
        for shares in [json!({"DEI999999": 10.0}), json!({"DEI010100": 100.5}), json!({"DEI010100": -1.0})] {
            let mut body = test_benchmark();
            body["code"] = json!("another_set");
            body["shares"] = shares.clone();
            let response = app.post_json("/api/v1/benchmarks", &body).await;
            response.problem(422);
            assert!(response.error_fields().iter().any(|f| f.starts_with("shares")), "{shares}: {}", response.text());
        }
        let mut body = test_benchmark();
        body["code"] = json!("Not Snake Case");
        app.post_json("/api/v1/benchmarks", &body).await.problem(422);
        let mut edge = test_benchmark();
        edge["code"] = json!("edges");
        edge["shares"] = json!({"DEI010100": 0.0, "DEI010200": 100.0});
        create_benchmark(&app, edge).await;
    }
);

db_test!(
    async fn everyone_reads_reports_but_only_staff_write_benchmarks_and_targets(app) {
        let viewer = app.token_for("viewer").await;
        let as_viewer = app.as_(Some(&viewer));
        for path in [
            "/api/v1/benchmarks",
            "/api/v1/targets",
            "/api/v1/reports/composition",
            "/api/v1/reports/gaps",
            "/api/v1/reports/expertise-coverage",
        ] {
            ok(&as_viewer.get(path).await);
        }
        as_viewer.post_json("/api/v1/benchmarks", &test_benchmark()).await.problem(403);
        let target = json!({"dimension": "leadership", "code": "DEI010000", "minimum_share": 20.0});
        as_viewer.post_json("/api/v1/targets", &target).await.problem(403);

        let staff = app.token_for("staff").await;
        let as_staff = app.as_(Some(&staff));
        let benchmark = created(&as_staff.post_json("/api/v1/benchmarks", &test_benchmark()).await);
        created(&as_staff.post_json("/api/v1/targets", &target).await);
        as_viewer.delete(&format!("/api/v1/benchmarks/{}", id(&benchmark)), None).await.problem(403);

        let reports_key = app.api_key(&["reports:read"]).await;
        let other_key = app.api_key(&["organisations:read"]).await;
        for path in ["/api/v1/benchmarks", "/api/v1/reports/composition", "/api/v1/reports/expertise-coverage"] {
            ok(&app.as_(Some(&reports_key)).get(path).await);
            app.as_(Some(&other_key)).get(path).await.problem(403);
        }
        app.as_anonymous().get("/api/v1/reports/composition").await.problem(401);
    }
);

db_test!(
    async fn targets_take_a_minimum_share_or_a_minimum_count_for_a_known_row(app) {
        let response = app.post_json("/api/v1/targets", &json!({
            "dimension": "leadership", "code": "DEI010000", "minimum_share": 20.0,
            "note": "At least a fifth led by communities experiencing racial inequity",
        })).await;
        let share = created(&response);
        let path = format!("/api/v1/targets/{}", id(&share));
        assert_eq!(response.header("location").unwrap(), path);
        let etag = response.header("etag").expect("an ETag");
        assert_fields(&share, json!({"dimension": "leadership", "code": "DEI010000", "minimum_share": 20.0, "minimum_count": null}));
        assert!(share["created_at"].is_string() && share["updated_at"].is_string());
        assert_eq!(ok(&app.get(&path).await), share);

        let count = create_target(&app, json!({"dimension": "region", "code": "wales", "minimum_count": 3})).await;
        assert_fields(&count, json!({"minimum_share": null, "minimum_count": 3, "note": null}));
        for (dimension, code) in [
            ("mission", "EXT010000"), ("kind", "grassroots_group"), ("size_band", "micro"),
            ("expertise", "racial_justice"), ("lived_experience_led", "true"), ("lived_experience_led", "false"),
        ] {
            create_target(&app, json!({"dimension": dimension, "code": code, "minimum_count": 1})).await;
        }
        let list = ok(&app.get("/api/v1/targets").await);
        assert_eq!(list["data"].as_array().unwrap().len(), 8);

        let changed = app.patch_json(&path, &json!({"note": "Revised"}), Some(&etag)).await;
        assert_eq!(ok(&changed)["note"], "Revised");
        app.patch_json(&path, &json!({"note": "Stale"}), Some(&etag)).await.problem(412);
        app.patch_json(&path, &json!({"minimum_count": 2}), None).await.problem(422);
        let switched = ok(&app.patch_json(&path, &json!({"minimum_share": null, "minimum_count": 2}), None).await);
        assert_fields(&switched, json!({"minimum_share": null, "minimum_count": 2}));

        assert_eq!(app.delete(&path, None).await.status, StatusCode::NO_CONTENT);
        app.get(&path).await.problem(404);
    }
);

db_test!(
    async fn targets_with_both_or_neither_minimum_or_an_unknown_row_are_422(app) {
        for body in [
            json!({"dimension": "leadership", "code": "DEI010000", "minimum_share": 20.0, "minimum_count": 2}),
            json!({"dimension": "leadership", "code": "DEI010000"}),
            json!({"dimension": "ethnicity", "code": "DEI010000", "minimum_share": 20.0}),
            json!({"dimension": "leadership", "code": "DEI999999", "minimum_share": 20.0}),
            json!({"dimension": "mission", "code": "london", "minimum_share": 20.0}),
            json!({"dimension": "kind", "code": "spaceship", "minimum_count": 1}),
            json!({"dimension": "size_band", "code": "gigantic", "minimum_count": 1}),
            json!({"dimension": "region", "code": "scotland", "minimum_count": 1}),
            json!({"dimension": "expertise", "code": "knitting", "minimum_count": 1}),
            json!({"dimension": "lived_experience_led", "code": "maybe", "minimum_count": 1}),
            json!({"dimension": "leadership", "code": "DEI010000", "minimum_share": 100.5}),
            json!({"dimension": "leadership", "code": "DEI010000", "minimum_share": -1.0}),
            json!({"dimension": "leadership", "code": "DEI010000", "minimum_count": -1}),
            json!({"dimension": "leadership", "code": "DEI010000", "minimum_count": 2.5}),
        ] {
            let response = app.post_json("/api/v1/targets", &body).await;
            assert_eq!(response.status.as_u16(), 422, "{body}: {}", response.text());
            response.problem(422);
        }
        assert_eq!(ok(&app.get("/api/v1/targets").await)["data"], json!([]));
    }
);

db_test!(
    async fn gaps_compare_member_shares_with_a_benchmark_largest_shortfall_first(app) {
        fixture(&app).await;
        let benchmark = create_benchmark(&app, test_benchmark()).await;
        let bench = id(&benchmark);
        let report = ok(&app.get(&format!("/api/v1/reports/gaps?benchmark={bench}&targets=false&as_of=2025-06-30")).await);
        assert_eq!(report["as_of"], "2025-06-30");
        assert_eq!(report["active_members"], 6);
        assert_eq!(report["benchmark"], json!({"id": bench, "name": "Test reference population", "source": "Hand-made for the tests", "year": 2025}));
        assert_eq!(report["rows"].as_array().unwrap().len(), 6);

        let nulls = json!({"source": "benchmark", "dimension": "leadership", "target_share": null, "target_count": null, "difference_count": null, "note": null});
        for (code, members, share, benchmark, difference, ratio, met) in [
            ("DEI010000", 3, 75.0, 30.0, 45.0, json!(2.5), true),
            ("DEI010100", 2, 50.0, 60.0, -10.0, json!(0.83), false),
            ("DEI010300", 1, 25.0, 25.0, 0.0, json!(1.0), true),
            ("EXT020000", 1, 25.0, 25.0, 0.0, json!(1.0), true),
            ("DEI019930", 0, 0.0, 7.0, -7.0, json!(0.0), false),
            ("DEI090000", 0, 0.0, 0.0, 0.0, json!(null), true),
        ] {
            let row = gap(&report, "benchmark", code);
            assert_fields(row, nulls.clone());
            assert_fields(row, json!({
                "members": members, "member_share": share, "benchmark_share": benchmark,
                "difference_points": difference, "ratio": ratio, "met": met,
            }));
        }
        assert_eq!(gap(&report, "benchmark", "DEI010100")["label"], "Black / African / Caribbean / Black British");
        // Ascending ratio, unmet first, ties by code.
        assert_eq!(ranked(&report), pairs(&[
            ("benchmark", "DEI019930"), ("benchmark", "DEI010100"), ("benchmark", "DEI010300"),
            ("benchmark", "EXT020000"), ("benchmark", "DEI010000"),
        ]));

        // The same shares against mission: Birch is the one of 4 answering for DEI010000.
        let mission = ok(&app.get(&format!("/api/v1/reports/gaps?benchmark={bench}&targets=false&dimension=mission&as_of=2025-06-30")).await);
        assert_fields(gap(&mission, "benchmark", "DEI010000"), json!({
            "dimension": "mission", "members": 1, "member_share": 25.0, "difference_points": -5.0, "ratio": 0.83, "met": false,
        }));

        let seeded = ok(&app.get("/api/v1/benchmarks").await);
        let custody = id(&seeded["data"][1]);
        let against = ok(&app.get(&format!("/api/v1/reports/gaps?benchmark={custody}&targets=false&as_of=2025-06-30")).await);
        // DEI010100: 50.0 against 24.1 is 25.9 points, a ratio of 2.07.
        assert_fields(gap(&against, "benchmark", "DEI010100"), json!({"benchmark_share": 24.1, "difference_points": 25.9, "ratio": 2.07, "met": true}));
    }
);

db_test!(
    async fn gaps_measure_share_and_count_targets(app) {
        fixture(&app).await;
        let share = create_target(&app, json!({"dimension": "leadership", "code": "DEI010000", "minimum_share": 80.0, "note": "Most members racial-equity led"})).await;
        create_target(&app, json!({"dimension": "leadership", "code": "EXT020000", "minimum_count": 3})).await;
        create_target(&app, json!({"dimension": "region", "code": "london", "minimum_share": 40.0})).await;
        let report = ok(&app.get("/api/v1/reports/gaps?as_of=2025-06-30").await);
        assert_eq!(report["benchmark"], json!(null));
        assert_eq!(report["rows"].as_array().unwrap().len(), 3);
        assert_fields(gap(&report, "target", "DEI010000"), json!({
            "dimension": "leadership", "members": 3, "member_share": 75.0, "benchmark_share": null,
            "target_share": 80.0, "target_count": null, "difference_points": -5.0, "difference_count": null,
            "ratio": 0.94, "met": false, "note": "Most members racial-equity led",
        }));
        assert_fields(gap(&report, "target", "EXT020000"), json!({
            "members": 1, "member_share": 25.0, "target_share": null, "target_count": 3,
            "difference_points": null, "difference_count": -2, "ratio": 0.33, "met": false, "note": null,
        }));
        // London: 3 of the 5 members with a region.
        assert_fields(gap(&report, "target", "london"), json!({
            "dimension": "region", "members": 3, "member_share": 60.0, "target_share": 40.0,
            "difference_points": 20.0, "ratio": 1.5, "met": true,
        }));
        assert_eq!(ranked(&report), pairs(&[("target", "EXT020000"), ("target", "DEI010000"), ("target", "london")]));

        // A benchmark and the targets together, ranked as one list.
        let bench = id(&create_benchmark(&app, test_benchmark()).await);
        let both = ok(&app.get(&format!("/api/v1/reports/gaps?benchmark={bench}&as_of=2025-06-30")).await);
        assert_eq!(both["rows"].as_array().unwrap().len(), 9);
        assert_eq!(ranked(&both), pairs(&[
            ("benchmark", "DEI019930"), ("target", "EXT020000"), ("benchmark", "DEI010100"),
            ("target", "DEI010000"), ("benchmark", "DEI010300"), ("benchmark", "EXT020000"),
            ("target", "london"), ("benchmark", "DEI010000"),
        ]));
        let only_bench = ok(&app.get(&format!("/api/v1/reports/gaps?benchmark={bench}&targets=false&as_of=2025-06-30")).await);
        assert!(only_bench["rows"].as_array().unwrap().iter().all(|r| r["source"] == "benchmark"));

        // A count target that is met.
        let path = format!("/api/v1/targets/{}", id(&share));
        ok(&app.patch_json(&path, &json!({"minimum_share": null, "minimum_count": 2}), None).await);
        let report = ok(&app.get("/api/v1/reports/gaps?as_of=2025-06-30").await);
        assert_fields(gap(&report, "target", "DEI010000"), json!({
            "target_share": null, "target_count": 2, "difference_points": null, "difference_count": 1, "ratio": 1.5, "met": true,
        }));
    }
);

db_test!(
    async fn gaps_need_a_benchmark_or_the_targets(app) {
        app.get("/api/v1/reports/gaps?targets=false").await.problem(400);
        app.get("/api/v1/reports/gaps?targets=maybe").await.problem(400);
        app.get("/api/v1/reports/gaps?dimension=region&targets=true").await.problem(400);
        app.get("/api/v1/reports/gaps?as_of=2025-02-30").await.problem(400);
        let empty = ok(&app.get("/api/v1/reports/gaps").await);
        assert_eq!(empty["rows"], json!([]));
        assert_eq!(empty["benchmark"], json!(null));
    }
);

db_test!(
    async fn gaps_as_csv_and_svg(app) {
        fixture(&app).await;
        let bench = id(&create_benchmark(&app, test_benchmark()).await);
        create_target(&app, json!({"dimension": "leadership", "code": "EXT020000", "minimum_count": 3})).await;
        let path = format!("/api/v1/reports/gaps?benchmark={bench}&as_of=2025-06-30");
        let report = ok(&app.get(&path).await);
        let (headers, records) = export(&app, &path).await;
        let mut names = headers.clone();
        names.sort();
        let mut expected = [
            "source", "dimension", "code", "label", "members", "member_share", "benchmark_share",
            "target_share", "target_count", "difference_points", "difference_count", "ratio", "met", "note",
        ];
        expected.sort_unstable();
        assert_eq!(names, expected);
        assert_eq!(records.len(), report["rows"].as_array().unwrap().len());
        assert_eq!(records.len(), 7);
        let find = |source: &str, code: &str| {
            records
                .iter()
                .find(|r| cell(&headers, r, "source") == source && cell(&headers, r, "code") == code)
                .unwrap_or_else(|| panic!("{source} {code}"))
        };
        let black = find("benchmark", "DEI010100");
        assert_eq!(cell(&headers, black, "members"), "2");
        for (column, value) in [("member_share", 50.0), ("benchmark_share", 60.0), ("difference_points", -10.0), ("ratio", 0.83)] {
            let text = cell(&headers, black, column);
            assert!((text.parse::<f64>().unwrap() - value).abs() < 1e-9, "{column}: {text}");
        }
        assert_eq!(cell(&headers, black, "met"), "false");
        assert_eq!(cell(&headers, black, "target_share"), "");
        let count = find("target", "EXT020000");
        assert_eq!(cell(&headers, count, "target_count"), "3");
        assert_eq!(cell(&headers, count, "difference_count"), "-2");
        // The first line is the largest shortfall.
        assert_eq!(cell(&headers, &records[0], "code"), "DEI019930");

        let svg = chart(&app, &path).await;
        for label in ["Black / African / Caribbean / Black British", "Communities experiencing racial inequity", "Asian / Asian British"] {
            assert!(svg.contains(label), "{label} in {svg}");
        }
    }
);

db_test!(
    async fn expertise_coverage_counts_members_per_area_and_region_and_flags_thin_cells(app) {
        fixture(&app).await;
        let report = ok(&app.get("/api/v1/reports/expertise-coverage?as_of=2025-06-30").await);
        assert_eq!(report["as_of"], "2025-06-30");
        assert_eq!(report["minimum"], 2);
        assert_eq!(report["regions"], json!(REGIONS));
        let areas = ok(&app.get("/api/v1/taxonomies/expertise-areas").await);
        let mut expected: Vec<String> = codes(&areas["data"]);
        expected.sort();
        let rows = report["rows"].as_array().unwrap();
        let mut found: Vec<String> = rows.iter().map(|r| r["expertise"].as_str().unwrap().to_owned()).collect();
        found.sort();
        assert_eq!(found, expected, "one row per expertise area");

        // (area, region, members); every other cell is 0.
        let counted = [
            ("racial_justice", "north_west", 2), ("racial_justice", "london", 2),
            ("participation_voice", "north_west", 1), ("participation_voice", "london", 1),
            ("mental_health", "north_west", 1), ("research_evidence", "london", 1),
            ("care_experience", "wales", 1),
        ];
        for row in rows {
            let area = row["expertise"].as_str().unwrap();
            let cells = row["cells"].as_array().unwrap();
            let regions: Vec<&str> = cells.iter().map(|c| c["region"].as_str().unwrap()).collect();
            assert_eq!(regions, REGIONS, "{area}");
            for cell in cells {
                let region = cell["region"].as_str().unwrap();
                let members = counted.iter().find(|(a, r, _)| *a == area && *r == region).map_or(0, |c| c.2);
                assert_eq!(cell["members"], members, "{area} in {region}");
                assert_eq!(cell["below_minimum"], members < 2, "{area} in {region}");
            }
        }
        let racial = rows.iter().find(|r| r["expertise"] == "racial_justice").unwrap();
        assert_eq!(racial["label"], "Racial justice and disproportionality");

        let report = ok(&app.get("/api/v1/reports/expertise-coverage?as_of=2025-06-30&minimum=1").await);
        assert_eq!(report["minimum"], 1);
        let voice = report["rows"].as_array().unwrap().iter().find(|r| r["expertise"] == "participation_voice").unwrap();
        let flags: Vec<(&str, bool)> = voice["cells"].as_array().unwrap().iter().map(|c| (c["region"].as_str().unwrap(), c["below_minimum"].as_bool().unwrap())).collect();
        let expected: Vec<(&str, bool)> = REGIONS.iter().map(|r| (*r, !matches!(*r, "north_west" | "london"))).collect();
        assert_eq!(flags, expected);

        // 15 January 2025: Fir (wales) and Gorse (north_west) add to racial justice.
        let january = ok(&app.get("/api/v1/reports/expertise-coverage?as_of=2025-01-15").await);
        let racial = january["rows"].as_array().unwrap().iter().find(|r| r["expertise"] == "racial_justice").unwrap();
        let counts: Vec<i64> = racial["cells"].as_array().unwrap().iter().map(|c| c["members"].as_i64().unwrap()).collect();
        assert_eq!(counts, [0, 3, 0, 0, 0, 0, 2, 0, 0, 1]);
    }
);

db_test!(
    async fn expertise_coverage_refuses_a_bad_minimum_with_400(app) {
        for query in ["minimum=0", "minimum=1001", "minimum=-1", "minimum=2.5", "minimum=two", "as_of=2025-02-30", "colour=blue"] {
            app.get(&format!("/api/v1/reports/expertise-coverage?{query}")).await.problem(400);
        }
        assert_eq!(ok(&app.get("/api/v1/reports/expertise-coverage?minimum=1000").await)["minimum"], 1000);
    }
);

db_test!(
    async fn expertise_coverage_as_csv_lists_flagged_regions(app) {
        fixture(&app).await;
        let (headers, records) = export(&app, "/api/v1/reports/expertise-coverage?as_of=2025-06-30").await;
        let mut expected = vec!["expertise".to_owned(), "label".to_owned()];
        expected.extend(REGIONS.map(str::to_owned));
        expected.push("below_minimum_regions".to_owned());
        assert_eq!(headers, expected);
        let areas = ok(&app.get("/api/v1/taxonomies/expertise-areas").await);
        assert_eq!(records.len(), areas["data"].as_array().unwrap().len());
        let racial = records.iter().find(|r| &r[0] == "racial_justice").unwrap();
        assert_eq!(&racial[1], "Racial justice and disproportionality");
        assert_eq!(cell(&headers, racial, "north_west"), "2");
        assert_eq!(cell(&headers, racial, "london"), "2");
        assert_eq!(cell(&headers, racial, "wales"), "0");
        assert_eq!(
            cell(&headers, racial, "below_minimum_regions"),
            "north_east;yorkshire_humber;east_midlands;west_midlands;east;south_east;south_west;wales"
        );
        let care = records.iter().find(|r| &r[0] == "care_experience").unwrap();
        assert_eq!(cell(&headers, care, "wales"), "1");
        assert_eq!(cell(&headers, care, "below_minimum_regions"), REGIONS.join(";"));
    }
);

/// A consultation open for responses, and a group, over three active members: Oak (led by
/// DEI010100), Pine (DEI010300) and Rowan (answered: none of these).
pub(crate) async fn participation_fixture(app: &TestApp) -> (String, String, [String; 3]) {
    let year = ("2025-12-01", "2026-01-01", "2026-12-31");
    let mut ids = Vec::new();
    for (name, codes) in [
        ("Oak Voices", vec!["DEI010100"]),
        ("Pine Project", vec!["DEI010300"]),
        ("Rowan Trust", vec![]),
    ] {
        let org = organisation(
            app,
            json!({"name": name, "kind": "local_charity", "leadership": answered(&codes)}),
        )
        .await;
        join(app, &org, year.0, year.1, year.2).await;
        ids.push(org);
    }
    let consultation = id(&created(
        &app.post_json(
            "/api/v1/consultations",
            &json!({"title": "Call for evidence", "kind": "call_for_evidence", "status": "open"}),
        )
        .await,
    ));
    let group = id(&created(
        &app.post_json(
            "/api/v1/expert-groups",
            &json!({"name": "Policy group", "kind": "working_group", "status": "active"}),
        )
        .await,
    ));
    (consultation, group, ids.try_into().unwrap())
}

pub(crate) async fn person(app: &TestApp, n: usize) -> String {
    id(&created(
        &app.post_json(
            "/api/v1/contacts",
            &json!({"given_name": "Person", "family_name": format!("Number {n}")}),
        )
        .await,
    ))
}

db_test!(
    async fn participation_holds_respondents_against_the_active_membership(app) {
        let (consultation, _, [oak, _, rowan]) = participation_fixture(&app).await;
        let respond = format!("/api/v1/consultations/{consultation}/responses");
        created(&app.post_json(&respond, &json!({"organisation_id": oak, "attribution": "anonymous"})).await);
        created(&app.post_json(&respond, &json!({"organisation_id": rowan})).await);
        let report = ok(&app.get(&format!("/api/v1/reports/participation?consultation={consultation}&as_of=2026-06-30&dimension=leadership")).await);
        assert_eq!(report["organisations"], 2);
        assert_eq!(report["individuals"], 0, "nobody in their own right: nothing to hide");
        assert_eq!(report["total"], 2);
        let leadership = dimension(&report, "leadership");
        assert_eq!(leadership["participants"], json!({"members": 2, "answered": 2}));
        assert_eq!(leadership["active_members"], json!({"members": 3, "answered": 3}));
        // Oak (DEI010100) is one of two respondents (50.0%) and one of three members (33.3%).
        assert_fields(row(leadership, "DEI010100"), json!({"participants": 1, "participant_share": 50.0, "member_share": 33.3, "difference_points": 16.7, "ratio": 1.5}));
        // Pine did not respond: its community is missing from the evidence.
        assert_fields(row(leadership, "DEI010300"), json!({"participants": 0, "participant_share": 0.0, "member_share": 33.3, "difference_points": -33.3, "ratio": 0.0}));

        let (headers, rows) = export(&app, &format!("/api/v1/reports/participation?consultation={consultation}&as_of=2026-06-30&dimension=leadership")).await;
        assert_eq!(headers[..4], ["dimension", "code", "label", "participants"]);
        assert!(rows.iter().any(|r| cell(&headers, r, "code") == "DEI010100" && cell(&headers, r, "participant_share") == "50"));
        let svg = chart(&app, &format!("/api/v1/reports/participation?consultation={consultation}&as_of=2026-06-30")).await;
        assert!(svg.contains("Who took part"), "{svg}");
    }
);

db_test!(
    async fn a_few_people_in_their_own_right_are_counted_but_never_shown(app) {
        let (consultation, group, [oak, _, _]) = participation_fixture(&app).await;
        let respond = format!("/api/v1/consultations/{consultation}/responses");
        created(&app.post_json(&respond, &json!({"organisation_id": oak})).await);
        let mut people = Vec::new();
        for n in 0..5 {
            people.push(person(&app, n).await);
        }
        for someone in &people[..2] {
            created(&app.post_json(&respond, &json!({"contact_id": someone})).await);
        }
        let path = format!("/api/v1/reports/participation?consultation={consultation}&as_of=2026-06-30&dimension=kind");
        let report = ok(&app.get(&path).await);
        assert_eq!(report["individuals"], json!(null), "two people could be recognised");
        assert_eq!(report["individuals_suppressed"], true);
        assert_eq!(report["total"], json!(null), "the total would give them away");
        assert_eq!(report["organisations"], 1);
        for someone in &people[2..] {
            created(&app.post_json(&respond, &json!({"contact_id": someone})).await);
        }
        let report = ok(&app.get(&path).await);
        assert_eq!((report["individuals"].clone(), report["total"].clone()), (json!(5), json!(6)));
        assert_eq!(report["individuals_suppressed"], false);

        // A group's organisation members on the day, and its people, counted the same way.
        let members = format!("/api/v1/expert-groups/{group}/members");
        created(&app.post_json(&members, &json!({"organisation_id": oak, "role": "chair", "joined_on": "2026-01-01"})).await);
        created(&app.post_json(&members, &json!({"contact_id": people[0], "role": "member", "joined_on": "2026-01-01"})).await);
        let report = ok(&app.get(&format!("/api/v1/reports/participation?expert_group={group}&as_of=2026-06-30")).await);
        assert_eq!(report["expert_group_id"], group.as_str());
        assert_eq!(report["organisations"], 1);
        assert_eq!(report["individuals_suppressed"], true);
        let before = ok(&app.get(&format!("/api/v1/reports/participation?expert_group={group}&as_of=2025-06-30")).await);
        assert_eq!(before["organisations"], 0, "nobody had joined yet");
    }
);

db_test!(
    async fn participation_needs_exactly_one_known_consultation_or_group(app) {
        let (consultation, group, _) = participation_fixture(&app).await;
        app.get("/api/v1/reports/participation").await.problem(400);
        app.get(&format!("/api/v1/reports/participation?consultation={consultation}&expert_group={group}")).await.problem(400);
        app.get("/api/v1/reports/participation?consultation=not-a-uuid").await.problem(400);
        let unknown = uuid::Uuid::now_v7();
        app.get(&format!("/api/v1/reports/participation?consultation={unknown}")).await.problem(404);
        app.get(&format!("/api/v1/reports/participation?expert_group={unknown}")).await.problem(404);
    }
);

db_test!(
    async fn the_trend_composes_the_membership_at_each_date_oldest_first(app) {
        fixture(&app).await;
        let trend = ok(&app.get("/api/v1/reports/composition/trend?at=2025-07-20&at=2025-06-30&dimension=kind").await);
        let compositions = trend["compositions"].as_array().unwrap();
        assert_eq!(compositions.len(), 2);
        // Each date answers as the single report does for it.
        for (index, date) in ["2025-06-30", "2025-07-20"].iter().enumerate() {
            let single = composition(&app, &format!("as_of={date}&dimension=kind")).await;
            assert_eq!(compositions[index], single, "{date}");
        }
        let (headers, rows) = export(&app, "/api/v1/reports/composition/trend?at=2025-06-30&at=2025-07-20&dimension=kind").await;
        assert_eq!(headers[..2], ["as_of", "dimension"]);
        assert_eq!(rows.len(), 2 * KINDS.len());
        for query in ["", "at=2025-13-01", "at=2025-06-30&at=2025-06-30", "at=-5000-01-01", "at=2025-06-30&colour=red"] {
            app.get(&format!("/api/v1/reports/composition/trend?{query}")).await.problem(400);
        }
        let thirteen: Vec<String> = (1..=13).map(|d| format!("at=2025-01-{d:02}")).collect();
        app.get(&format!("/api/v1/reports/composition/trend?{}", thirteen.join("&"))).await.problem(400);
    }
);

/// A second seat for the same member in `group` from `joined_on` (the first still held on that
/// day): through the API while the store allows it, else written straight to the table, as
/// seats recorded before overlapping seats were refused would be (past the database's
/// trigger, which now refuses them too).
async fn second_seat(app: &TestApp, group: &str, party: (&str, &str), joined_on: &str) {
    let members = format!("/api/v1/expert-groups/{group}/members");
    let added = app
        .post_json(
            &members,
            &json!({party.0: party.1, "role": "member", "joined_on": joined_on}),
        )
        .await;
    if added.status == StatusCode::CREATED {
        return;
    }
    assert_eq!(added.status, StatusCode::CONFLICT, "{}", added.text());
    // The rule refuses it now: write it as a seat kept from before the rule was enforced,
    // past the database's own guard.
    use diesel::connection::SimpleConnection;
    let database = convene::db::Database::connect(&app.db.url, 1).unwrap();
    let mut conn = database.connection().unwrap();
    let column = if party.0 == "organisation_id" {
        "organisation_id"
    } else {
        "contact_id"
    };
    let insert = format!(
        "INSERT INTO expert_group_members (id, group_id, {column}, role, joined_on, created_at, updated_at) \
         VALUES ('{}', '{group}', '{}', 'member', '{joined_on}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);",
        uuid::Uuid::now_v7(),
        party.1
    );
    let guarded = |sql: &str| format!("BEGIN; {sql} COMMIT;");
    match &app.db.url {
        convene::config::DatabaseUrl::Postgres(_) => conn.batch_execute(&guarded(&format!(
            "ALTER TABLE expert_group_members DISABLE TRIGGER expert_group_members_no_overlap; {insert} \
             ALTER TABLE expert_group_members ENABLE TRIGGER expert_group_members_no_overlap;"
        ))),
        convene::config::DatabaseUrl::Sqlite(_) => {
            use diesel::prelude::*;
            #[derive(QueryableByName)]
            struct Trigger {
                #[diesel(sql_type = diesel::sql_types::Text)]
                sql: String,
            }
            let triggers: Vec<Trigger> = diesel::sql_query(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'expert_group_members'",
            )
            .load(&mut **conn)
            .unwrap();
            let drop = "DROP TRIGGER expert_group_members_no_overlap_insert; \
                        DROP TRIGGER expert_group_members_no_overlap_update;";
            let restore: String = triggers.iter().map(|t| format!("{};", t.sql)).collect();
            conn.batch_execute(&guarded(&format!("{drop} {insert} {restore}")))
        }
    }
    .expect("a seat written past the guard");
}

db_test!(
    async fn a_group_counts_people_not_seats(app) {
        let (consultation, group, [oak, pine, _]) = participation_fixture(&app).await;
        let members = format!("/api/v1/expert-groups/{group}/members");
        let mut people = Vec::new();
        for n in 0..5 {
            people.push(person(&app, n).await);
        }
        // The first person and Oak chair until 31 March, then stay on as members from that day.
        created(&app.post_json(&members, &json!({"contact_id": people[0], "role": "chair", "joined_on": "2026-01-01", "left_on": "2026-03-31"})).await);
        created(&app.post_json(&members, &json!({"organisation_id": oak, "role": "co_chair", "joined_on": "2026-01-01", "left_on": "2026-03-31"})).await);
        for someone in &people[1..] {
            created(&app.post_json(&members, &json!({"contact_id": someone, "role": "member", "joined_on": "2026-01-01"})).await);
        }
        created(&app.post_json(&members, &json!({"organisation_id": pine, "role": "member", "joined_on": "2026-01-01"})).await);
        second_seat(&app, &group, ("contact_id", &people[0]), "2026-03-31").await;
        second_seat(&app, &group, ("organisation_id", &oak), "2026-03-31").await;
        let report = ok(&app.get(&format!("/api/v1/reports/participation?expert_group={group}&as_of=2026-03-31")).await);
        assert_eq!(report["individuals"], 5, "five people, whatever seats they hold");
        assert_eq!(report["organisations"], 2, "Oak once, with two seats");
        assert_eq!(report["total"], 7);
        // After the change of role each holds one seat: the same people.
        let later = ok(&app.get(&format!("/api/v1/reports/participation?expert_group={group}&as_of=2026-06-30")).await);
        assert_eq!((later["individuals"].clone(), later["organisations"].clone()), (json!(5), json!(2)));

        // A consultation counts each respondent once: a person who writes their organisation's
        // response and also answers in their own right is one person and one organisation.
        let respond = format!("/api/v1/consultations/{consultation}/responses");
        created(&app.post_json(&respond, &json!({"organisation_id": oak, "contact_id": people[0]})).await);
        for someone in &people {
            created(&app.post_json(&respond, &json!({"contact_id": someone})).await);
        }
        app.post_json(&respond, &json!({"contact_id": people[0]})).await.problem(409);
        let report = ok(&app.get(&format!("/api/v1/reports/participation?consultation={consultation}&as_of=2026-06-30")).await);
        assert_eq!((report["individuals"].clone(), report["organisations"].clone()), (json!(5), json!(1)));
    }
);
