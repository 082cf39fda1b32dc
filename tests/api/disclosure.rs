//! `disclosure=internal|public` on every report: in public, counts of 1 to 4 are withheld
//! (`null` with `suppressed: true`, `[c]` in CSV), the rest rounded to the nearest 5 (halves
//! up), shares computed from the published counts, and where a dimension's rows add up to
//! the members, a lone withheld row takes the next smallest with it. People taking part in
//! their own right are protected for every audience. Hand-counted fixtures throughout.

use actix_web::http::StatusCode;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::TestApp;
use crate::reports::{
    REGIONS, answered, assert_close, cell, chart, composition, create_benchmark, create_target,
    created, dimension, export, gap, id, join, ok, organisation, person, row,
};

/// The day every figure here is taken on; every fixture membership runs through 2025.
const AS_OF: &str = "2025-06-30";

/// Thirty organisations, all full members through 2025, numbered 0 to 29, so that on
/// 2025-06-30 (exact → published):
///
/// - kind: local_charity 0–12 (13 → 15), grassroots_group 13–20 (8 → 10), academic 21–27
///   (7, the partner of national_charity: withheld), national_charity 28–29 (2: withheld);
/// - size band: small 0–11 (12 → 10), medium 12–22 (11 → 10), micro 23–25 (3: withheld),
///   unknown 26–29 (4: withheld); two withheld, so no partner; answered 26 → 25;
/// - lived-experience led: true 0–16 (17 → 15), false 17–19 (3: withheld), unknown 20–29
///   (10, the partner: withheld); answered 20 → 20;
/// - region: london 0–11 (12 → 10), north_west 12–14 (3: withheld, no partner), none 15–29
///   (15 → 15); answered 15 → 15;
/// - expertise: racial_justice 0–14 (15 → 15), participation_voice 0–6 (7 → 5), none 15–29;
/// - leadership: DEI010110 0–5, DEI010120 6 (1: withheld), answered none 7–11 (5 → 5), not
///   asked 12–29 (18 → 20); so DEI010100 and DEI010000 7 → 5; answered 12 → 10;
/// - mission: DEI070200 0–2 (3: withheld), not asked 3–29 (27 → 25); answered 3: withheld.
async fn public_fixture(app: &TestApp) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..30 {
        let kind = match i {
            0..13 => "local_charity",
            13..21 => "grassroots_group",
            21..28 => "academic",
            _ => "national_charity",
        };
        let mut body = json!({"name": format!("Public Fixture {i:02}"), "kind": kind});
        let size = match i {
            0..12 => Some("small"),
            12..23 => Some("medium"),
            23..26 => Some("micro"),
            _ => None,
        };
        if let Some(size) = size {
            body["size_band"] = json!(size);
        }
        match i {
            0..17 => body["lived_experience_led"] = json!(true),
            17..20 => body["lived_experience_led"] = json!(false),
            _ => {}
        }
        match i {
            0..12 => body["regions"] = json!(["london"]),
            12..15 => body["regions"] = json!(["north_west"]),
            _ => {}
        }
        match i {
            0..7 => body["expertise"] = json!(["racial_justice", "participation_voice"]),
            7..15 => body["expertise"] = json!(["racial_justice"]),
            _ => {}
        }
        match i {
            0..6 => body["leadership"] = answered(&["DEI010110"]),
            6 => body["leadership"] = answered(&["DEI010120"]),
            7..12 => body["leadership"] = answered(&[]),
            _ => {}
        }
        if i < 3 {
            body["mission"] = answered(&["DEI070200"]);
        }
        let org = organisation(app, body).await;
        join(app, &org, "2024-12-01", "2025-01-01", "2025-12-31").await;
        ids.push(org);
    }
    ids
}

/// A row as published: (code, members, share of members, share of answered).
type Published<'a> = (&'a str, Option<i64>, Option<f64>, Option<f64>);

/// Each listed row as published. `None` members: withheld, so `null` with `suppressed: true`; a `None` share is `null`.
#[track_caller]
fn assert_published(dimension: &Value, expected: &[Published]) {
    for &(code, members, of_members, of_answered) in expected {
        let row = row(dimension, code);
        assert_eq!(row["members"], json!(members), "{code}: {row}");
        assert_eq!(row["suppressed"], members.is_none(), "{code}: {row}");
        for (key, share) in [
            ("share_of_members", of_members),
            ("share_of_answered", of_answered),
        ] {
            match share {
                Some(share) => assert_close(&row[key], share, &format!("{key} of {code}")),
                None => assert_eq!(row[key], json!(null), "{key} of {code}: {row}"),
            }
        }
    }
}

/// The cells of `record` from `start` on.
fn after(record: &csv::StringRecord, start: usize) -> Vec<&str> {
    record.iter().skip(start).collect()
}

fn report_path(report: &str, query: &str) -> String {
    format!("/api/v1/reports/{report}?{query}")
}

/// A consultation open for responses.
async fn consultation(app: &TestApp) -> String {
    id(&created(
        &app.post_json(
            "/api/v1/consultations",
            &json!({"title": "Call for evidence", "kind": "call_for_evidence", "status": "open"}),
        )
        .await,
    ))
}

async fn expert_group(app: &TestApp) -> String {
    id(&created(
        &app.post_json(
            "/api/v1/expert-groups",
            &json!({"name": "Policy group", "kind": "working_group", "status": "active"}),
        )
        .await,
    ))
}

db_test!(
    async fn every_report_says_whom_it_is_for_and_refuses_any_other_audience(app) {
        let consultation = consultation(&app).await;
        let reports = [
            ("composition", String::new()),
            ("composition/trend", "at=2025-06-30&".to_owned()),
            ("gaps", String::new()),
            ("expertise-coverage", String::new()),
            ("participation", format!("consultation={consultation}&")),
        ];
        for (report, required) in &reports {
            // Internal by default, and when asked for.
            for query in [required.trim_end_matches('&').to_owned(), format!("{required}disclosure=internal")] {
                let body = ok(&app.get(&report_path(report, &query)).await);
                assert_eq!(body["disclosure"], "internal", "{report}?{query}");
            }
            let public = ok(&app.get(&report_path(report, &format!("{required}disclosure=public"))).await);
            assert_eq!(public["disclosure"], "public", "{report}");
            for audience in ["secret", "PUBLIC", "", "public&disclosure=internal"] {
                let path = report_path(report, &format!("{required}disclosure={audience}"));
                let response = app.get(&path).await;
                response.problem(400);
                assert_eq!(response.error_fields(), ["disclosure"], "{path}");
            }
        }
    }
);

db_test!(
    async fn public_composition_rounds_to_5_withholds_1_to_4_and_shares_the_published_counts(app) {
        public_fixture(&app).await;
        let report = composition(&app, &format!("as_of={AS_OF}&disclosure=public")).await;
        assert_eq!(report["disclosure"], "public");
        assert_eq!(report["active_members"], 30);

        // Kind: national_charity (2) is withheld, and so is its partner, the smallest other
        // non-zero row: academic (7), not grassroots_group (8). 15 of 30 is 50.0%; 10 of 30 33.3%.
        let kind = dimension(&report, "kind");
        assert_eq!(kind["denominators"], json!({"members": 30, "answered": 30}));
        assert_published(kind, &[
            ("local_charity", Some(15), Some(50.0), Some(50.0)),
            ("grassroots_group", Some(10), Some(33.3), Some(33.3)),
            ("academic", None, None, None),
            ("national_charity", None, None, None),
            ("statutory_body", Some(0), Some(0.0), Some(0.0)),
            ("other", Some(0), Some(0.0), Some(0.0)),
        ]);

        // Size band: micro (3) and unknown (4) are withheld and protect each other. 12 → 10 and
        // 11 → 10; answered 26 → 25: 10 of 25 is 40.0% (the exact 12 of 26 would be 46.2%).
        let size = dimension(&report, "size_band");
        assert_eq!(size["denominators"], json!({"members": 30, "answered": 25}));
        assert_published(size, &[
            ("small", Some(10), Some(33.3), Some(40.0)),
            ("medium", Some(10), Some(33.3), Some(40.0)),
            ("micro", None, None, None),
            ("unknown", None, None, None),
            ("large", Some(0), Some(0.0), Some(0.0)),
        ]);

        // Lived experience: false (3) is withheld; its partner is the unknown row (10), smaller
        // than true (17 → 15). Answered 20: 15 of 20 is 75.0%, 15 of 30 is 50.0%.
        let lived = dimension(&report, "lived_experience_led");
        assert_eq!(lived["denominators"], json!({"members": 30, "answered": 20}));
        assert_published(lived, &[
            ("true", Some(15), Some(50.0), Some(75.0)),
            ("false", None, None, None),
            ("unknown", None, None, None),
        ]);

        // Region: primary suppression only. north_west (3) is withheld alone; london 12 → 10
        // is 10 of 30 = 33.3% and 10 of 15 = 66.7%.
        let region = dimension(&report, "region");
        assert_eq!(region["denominators"], json!({"members": 30, "answered": 15}));
        assert_published(region, &[
            ("london", Some(10), Some(33.3), Some(66.7)),
            ("north_west", None, None, None),
            ("unknown", Some(15), Some(50.0), None),
            ("wales", Some(0), Some(0.0), Some(0.0)),
        ]);

        // Expertise: 7 → 5 (nearer 5 than 10); 5 of 15 is 33.3%.
        let expertise = dimension(&report, "expertise");
        assert_eq!(expertise["denominators"], json!({"members": 30, "answered": 15}));
        assert_published(expertise, &[
            ("racial_justice", Some(15), Some(50.0), Some(100.0)),
            ("participation_voice", Some(5), Some(16.7), Some(33.3)),
            ("none", Some(15), Some(50.0), None),
            ("mental_health", Some(0), Some(0.0), Some(0.0)),
        ]);

        // Leadership: DEI010120 (1) is withheld alone, with no partner. 7 → 5 and 6 → 5 of the
        // 12 → 10 who answered: 50.0%; not asked 18 → 20 of 30: 66.7%.
        let leadership = dimension(&report, "leadership");
        assert_eq!(leadership["denominators"], json!({"members": 30, "answered": 10}));
        assert_published(leadership, &[
            ("DEI010000", Some(5), Some(16.7), Some(50.0)),
            ("DEI010100", Some(5), Some(16.7), Some(50.0)),
            ("DEI010110", Some(5), Some(16.7), Some(50.0)),
            ("DEI010120", None, None, None),
            ("answered_none", Some(5), Some(16.7), Some(50.0)),
            ("not_asked", Some(20), Some(66.7), None),
            ("prefer_not_to_say", Some(0), Some(0.0), None),
        ]);
        let withheld: Vec<&str> = leadership["rows"].as_array().unwrap().iter().filter(|r| r["suppressed"] == true).map(|r| r["code"].as_str().unwrap()).collect();
        assert_eq!(withheld, ["DEI010120"]);

        // Mission: only 3 answered, so the denominator itself is withheld and no share of
        // those who answered can be given; not asked 27 → 25 of 30 is 83.3%.
        let mission = dimension(&report, "mission");
        assert_eq!(mission["denominators"], json!({"members": 30, "answered": null}));
        assert_published(mission, &[
            ("DEI070000", None, None, None),
            ("DEI070200", None, None, None),
            ("not_asked", Some(25), Some(83.3), None),
            ("answered_none", Some(0), Some(0.0), None),
            ("DEI010000", Some(0), Some(0.0), None),
        ]);
    }
);

db_test!(
    async fn internal_composition_keeps_organisation_counts_exact(app) {
        public_fixture(&app).await;
        for query in [format!("as_of={AS_OF}"), format!("as_of={AS_OF}&disclosure=internal")] {
            let report = composition(&app, &query).await;
            assert_eq!(report["disclosure"], "internal");
            assert_eq!(report["active_members"], 30);
            // 13 of 30 is 43.3%, 2 of 30 6.7%.
            assert_published(dimension(&report, "kind"), &[
                ("local_charity", Some(13), Some(43.3), Some(43.3)),
                ("grassroots_group", Some(8), Some(26.7), Some(26.7)),
                ("academic", Some(7), Some(23.3), Some(23.3)),
                ("national_charity", Some(2), Some(6.7), Some(6.7)),
            ]);
            let size = dimension(&report, "size_band");
            assert_eq!(size["denominators"], json!({"members": 30, "answered": 26}));
            // 3 of 26 is 11.5%.
            assert_published(size, &[("micro", Some(3), Some(10.0), Some(11.5)), ("unknown", Some(4), Some(13.3), None)]);
            let mission = dimension(&report, "mission");
            assert_eq!(mission["denominators"], json!({"members": 30, "answered": 3}));
            assert_published(mission, &[("DEI070200", Some(3), Some(10.0), Some(100.0))]);
        }
    }
);

db_test!(
    async fn public_composition_as_csv_marks_withheld_figures_c_and_internal_csv_is_exact(app) {
        public_fixture(&app).await;
        let find = |records: &[csv::StringRecord], dimension: &str, code: &str| {
            records.iter().find(|r| &r[0] == dimension && &r[1] == code).unwrap_or_else(|| panic!("{dimension} {code}")).clone()
        };
        let (headers, records) = export(&app, &report_path("composition", &format!("as_of={AS_OF}&disclosure=public"))).await;
        assert_eq!(headers, ["dimension", "code", "label", "members", "share_of_members", "share_of_answered"]);
        for (dimension, code) in [("kind", "national_charity"), ("kind", "academic"), ("size_band", "micro"), ("leadership", "DEI010120")] {
            let line = find(&records, dimension, code);
            assert_eq!(after(&line, 3), ["[c]", "[c]", "[c]"], "{dimension} {code}");
        }
        // A withheld row with no share of those who answered still shows [c] there.
        assert_eq!(after(&find(&records, "size_band", "unknown"), 3), ["[c]", "[c]", "[c]"]);
        let local = find(&records, "kind", "local_charity");
        assert_eq!(after(&local, 3), ["15", "50", "50"]);
        let small = find(&records, "size_band", "small");
        assert_eq!(after(&small, 3), ["10", "33.3", "40"]);
        // Not withheld, no share of those who answered: an empty cell, as internally.
        assert_eq!(after(&find(&records, "region", "unknown"), 3), ["15", "50", ""]);

        let (_, records) = export(&app, &report_path("composition", &format!("as_of={AS_OF}"))).await;
        assert!(records.iter().all(|r| r.iter().all(|c| c != "[c]")), "nothing is withheld internally");
        assert_eq!(after(&find(&records, "kind", "national_charity"), 3), ["2", "6.7", "6.7"]);
        assert_eq!(after(&find(&records, "kind", "academic"), 3), ["7", "23.3", "23.3"]);
        assert_eq!(after(&find(&records, "size_band", "unknown"), 3), ["4", "13.3", ""]);
    }
);

db_test!(
    async fn a_public_chart_says_its_counts_are_rounded_and_which_are_withheld(app) {
        public_fixture(&app).await;
        let svg = chart(&app, &report_path("composition", &format!("as_of={AS_OF}&dimension=kind&disclosure=public"))).await;
        assert!(svg.contains("counts rounded to 5"), "{svg}");
        assert!(svg.contains("suppressed"), "national_charity's caption: {svg}");
        assert!(svg.contains("Local charity"), "{svg}");
        let internal = chart(&app, &report_path("composition", &format!("as_of={AS_OF}&dimension=kind"))).await;
        assert!(!internal.contains("counts rounded to 5"), "{internal}");
        assert!(!internal.contains("suppressed"), "{internal}");
    }
);

db_test!(
    async fn a_public_trend_publishes_every_date_as_the_single_report_does(app) {
        public_fixture(&app).await;
        let trend = ok(&app.get(&report_path("composition/trend", "at=2025-06-30&at=2025-07-20&dimension=kind&disclosure=public")).await);
        assert_eq!(trend["disclosure"], "public");
        let compositions = trend["compositions"].as_array().unwrap();
        assert_eq!(compositions.len(), 2);
        for (index, date) in ["2025-06-30", "2025-07-20"].iter().enumerate() {
            let single = composition(&app, &format!("as_of={date}&dimension=kind&disclosure=public")).await;
            assert_eq!(compositions[index], single, "{date}");
        }
        assert_published(dimension(&compositions[0], "kind"), &[("national_charity", None, None, None), ("local_charity", Some(15), Some(50.0), Some(50.0))]);
        let (headers, records) = export(&app, &report_path("composition/trend", "at=2025-06-30&dimension=kind&disclosure=public")).await;
        let national = records.iter().find(|r| cell(&headers, r, "code") == "national_charity").unwrap();
        assert_eq!(cell(&headers, national, "members"), "[c]");
        assert_eq!(cell(&headers, national, "share_of_members"), "[c]");
    }
);

db_test!(
    async fn public_gaps_judge_the_published_shares_and_leave_withheld_rows_undecided(app) {
        public_fixture(&app).await;
        let bench = id(&create_benchmark(&app, json!({
            "code": "disclosure_reference", "name": "Disclosure reference", "population": "Made up",
            "source": "Hand-made for the tests", "year": 2025, "verified": true,
            "shares": {"DEI010000": 60.0, "DEI010110": 40.0, "DEI010120": 5.0},
        })).await);
        create_target(&app, json!({"dimension": "leadership", "code": "DEI010120", "minimum_count": 1})).await;
        let path = report_path("gaps", &format!("benchmark={bench}&as_of={AS_OF}&disclosure=public"));
        let report = ok(&app.get(&path).await);
        assert_eq!(report["disclosure"], "public");
        assert_eq!(report["active_members"], 30);
        assert_eq!(report["rows"].as_array().unwrap().len(), 4);
        // Published: 5 of the 10 who answered, 50.0%. Against 40: +10.0 points, ratio 1.25.
        let african = gap(&report, "benchmark", "DEI010110");
        for (key, want) in [("members", json!(5)), ("suppressed", json!(false)), ("met", json!(true))] {
            assert_eq!(african[key], want, "{key}: {african}");
        }
        assert_close(&african["member_share"], 50.0, "member_share");
        assert_close(&african["difference_points"], 10.0, "difference_points");
        assert_close(&african["ratio"], 1.25, "ratio");
        // 7 → 5 of 10 is 50.0% against 60: -10.0 points, ratio 0.83, not met.
        let racial = gap(&report, "benchmark", "DEI010000");
        assert_eq!((racial["members"].clone(), racial["met"].clone()), (json!(5), json!(false)));
        assert_close(&racial["member_share"], 50.0, "member_share");
        assert_close(&racial["difference_points"], -10.0, "difference_points");
        assert_close(&racial["ratio"], 0.83, "ratio");
        // DEI010120 (1) is withheld: nothing derived from it is shown, and met is undecided.
        for source in ["benchmark", "target"] {
            let withheld = gap(&report, source, "DEI010120");
            for key in ["members", "member_share", "difference_points", "difference_count", "ratio", "met"] {
                assert_eq!(withheld[key], json!(null), "{source} {key}: {withheld}");
            }
            assert_eq!(withheld["suppressed"], true, "{withheld}");
        }
        assert_close(&gap(&report, "benchmark", "DEI010120")["benchmark_share"], 5.0, "benchmark_share");
        assert_eq!(gap(&report, "target", "DEI010120")["target_count"], 1);

        let (headers, records) = export(&app, &path).await;
        let find = |source: &str, code: &str| {
            records.iter().find(|r| cell(&headers, r, "source") == source && cell(&headers, r, "code") == code).unwrap_or_else(|| panic!("{source} {code}"))
        };
        for source in ["benchmark", "target"] {
            let line = find(source, "DEI010120");
            for column in ["members", "member_share", "difference_points", "difference_count", "ratio", "met"] {
                assert_eq!(cell(&headers, line, column), "[c]", "{source} {column}");
            }
        }
        assert_eq!(cell(&headers, find("benchmark", "DEI010120"), "benchmark_share"), "5");
        assert_eq!(cell(&headers, find("target", "DEI010120"), "target_count"), "1");
        let line = find("benchmark", "DEI010110");
        assert_eq!((cell(&headers, line, "members"), cell(&headers, line, "met")), ("5", "true"));

        // Internally the exact counts: DEI010000 7 of 12 is 58.3%, -1.7 points, ratio 0.97;
        // DEI010120 1 of 12 is 8.3%, ratio 8.3 / 5 = 1.66, met; the count target 1 of 1 is met.
        let internal = ok(&app.get(&report_path("gaps", &format!("benchmark={bench}&as_of={AS_OF}"))).await);
        assert_eq!(internal["disclosure"], "internal");
        let racial = gap(&internal, "benchmark", "DEI010000");
        assert_eq!(racial["members"], 7);
        assert_close(&racial["member_share"], 58.3, "member_share");
        assert_close(&racial["difference_points"], -1.7, "difference_points");
        assert_close(&racial["ratio"], 0.97, "ratio");
        let rare = gap(&internal, "benchmark", "DEI010120");
        assert_eq!((rare["members"].clone(), rare["suppressed"].clone(), rare["met"].clone()), (json!(1), json!(false), json!(true)));
        assert_close(&rare["ratio"], 1.66, "ratio");
        let count = gap(&internal, "target", "DEI010120");
        assert_eq!((count["difference_count"].clone(), count["met"].clone()), (json!(0), json!(true)));
    }
);

db_test!(
    async fn public_expertise_coverage_rounds_each_cell_and_flags_it_on_the_published_count(app) {
        public_fixture(&app).await;
        let query = format!("as_of={AS_OF}&minimum=11");
        let report = ok(&app.get(&report_path("expertise-coverage", &format!("{query}&disclosure=public"))).await);
        assert_eq!(report["disclosure"], "public");
        let cells = |report: &Value, area: &str| -> Vec<Value> {
            let row = report["rows"].as_array().unwrap().iter().find(|r| r["expertise"] == area).unwrap_or_else(|| panic!("{area}"));
            row["cells"].as_array().unwrap().clone()
        };
        let at = |cells: &[Value], region: &str| -> Value {
            cells[REGIONS.iter().position(|r| *r == region).unwrap()].clone()
        };
        let racial = cells(&report, "racial_justice");
        // London 12 → 10, which is below 11 as published (the exact 12 is not).
        assert_eq!(at(&racial, "london"), json!({"region": "london", "members": 10, "suppressed": false, "below_minimum": true}));
        assert_eq!(at(&racial, "north_west"), json!({"region": "north_west", "members": null, "suppressed": true, "below_minimum": null}));
        assert_eq!(at(&racial, "wales"), json!({"region": "wales", "members": 0, "suppressed": false, "below_minimum": true}));
        // 7 → 5.
        assert_eq!(at(&cells(&report, "participation_voice"), "london"), json!({"region": "london", "members": 5, "suppressed": false, "below_minimum": true}));

        let internal = ok(&app.get(&report_path("expertise-coverage", &query)).await);
        assert_eq!(internal["disclosure"], "internal");
        let racial = cells(&internal, "racial_justice");
        assert_eq!(at(&racial, "london"), json!({"region": "london", "members": 12, "suppressed": false, "below_minimum": false}));
        assert_eq!(at(&racial, "north_west"), json!({"region": "north_west", "members": 3, "suppressed": false, "below_minimum": true}));

        let (headers, records) = export(&app, &report_path("expertise-coverage", &format!("{query}&disclosure=public"))).await;
        let line = records.iter().find(|r| &r[0] == "racial_justice").unwrap();
        assert_eq!((cell(&headers, line, "london"), cell(&headers, line, "north_west"), cell(&headers, line, "wales")), ("10", "[c]", "0"));
    }
);

db_test!(
    async fn participation_withholds_a_few_people_for_everyone_and_rounds_in_public(app) {
        let ids = public_fixture(&app).await;
        let consultation = consultation(&app).await;
        let respond = format!("/api/v1/consultations/{consultation}/responses");
        // Eight organisations respond: seven local charities (0–6) and one grassroots group (13).
        for org in ids[..7].iter().chain(&ids[13..14]) {
            created(&app.post_json(&respond, &json!({"organisation_id": org})).await);
        }
        let mut people = Vec::new();
        for n in 0..9 {
            people.push(person(&app, n).await);
        }
        for someone in &people[..3] {
            created(&app.post_json(&respond, &json!({"contact_id": someone})).await);
        }
        let internal = report_path("participation", &format!("consultation={consultation}&as_of={AS_OF}&dimension=kind"));
        let public = format!("{internal}&disclosure=public");

        // Three people: withheld for every audience, with the total that would give them away.
        let report = ok(&app.get(&internal).await);
        assert_eq!(report["disclosure"], "internal");
        for (key, want) in [("organisations", json!(8)), ("organisations_suppressed", json!(false)), ("individuals", json!(null)), ("individuals_suppressed", json!(true)), ("total", json!(null))] {
            assert_eq!(report[key], want, "internal {key}");
        }
        let report = ok(&app.get(&public).await);
        assert_eq!(report["disclosure"], "public");
        for (key, want) in [("organisations", json!(10)), ("organisations_suppressed", json!(false)), ("individuals", json!(null)), ("individuals_suppressed", json!(true)), ("total", json!(null))] {
            assert_eq!(report[key], want, "public {key}");
        }

        for someone in &people[3..] {
            created(&app.post_json(&respond, &json!({"contact_id": someone})).await);
        }
        // Nine people: shown internally (total 8 + 9 = 17); in public 9 → 10, and the total is
        // the exact 17 rounded, 15 (not the published 10 + 10 = 20, nor 8 + 10 = 18 → 20).
        let report = ok(&app.get(&internal).await);
        for (key, want) in [("organisations", json!(8)), ("individuals", json!(9)), ("individuals_suppressed", json!(false)), ("total", json!(17))] {
            assert_eq!(report[key], want, "internal {key}");
        }
        let kind = dimension(&report, "kind");
        assert_eq!(kind["participants"], json!({"members": 8, "answered": 8}));
        assert_eq!((row(kind, "local_charity")["participants"].clone(), row(kind, "grassroots_group")["participants"].clone()), (json!(7), json!(1)));
        assert_eq!(row(kind, "grassroots_group")["suppressed"], false);

        let report = ok(&app.get(&public).await);
        for (key, want) in [("organisations", json!(10)), ("organisations_suppressed", json!(false)), ("individuals", json!(10)), ("individuals_suppressed", json!(false)), ("total", json!(15))] {
            assert_eq!(report[key], want, "public {key}");
        }
        // Among the respondents grassroots_group (1) is withheld and takes local_charity (7)
        // with it; the membership side is the public composition (local_charity 15 of 30).
        let kind = dimension(&report, "kind");
        assert_eq!(kind["participants"], json!({"members": 10, "answered": 10}));
        assert_eq!(kind["active_members"], json!({"members": 30, "answered": 30}));
        for code in ["local_charity", "grassroots_group"] {
            let line = row(kind, code);
            assert_eq!((line["participants"].clone(), line["suppressed"].clone()), (json!(null), json!(true)), "{code}: {line}");
            assert_eq!(line["participant_share"], json!(null), "{code}: {line}");
        }
        assert_close(&row(kind, "local_charity")["member_share"], 50.0, "member_share");
        // Zero stays zero: 0 of 10 is 0.0% against 0 of 30.
        let statutory = row(kind, "statutory_body");
        assert_eq!((statutory["participants"].clone(), statutory["suppressed"].clone()), (json!(0), json!(false)));
        assert_close(&statutory["participant_share"], 0.0, "participant_share");
        let (headers, records) = export(&app, &public).await;
        let local = records.iter().find(|r| cell(&headers, r, "code") == "local_charity").unwrap();
        assert_eq!(cell(&headers, local, "participants"), "[c]");

        // A group of two organisations and nobody in their own right: in public the two are
        // withheld, and the total with them; internally both are exact.
        let group = expert_group(&app).await;
        let members = format!("/api/v1/expert-groups/{group}/members");
        for org in &ids[..2] {
            created(&app.post_json(&members, &json!({"organisation_id": org, "role": "member", "joined_on": "2025-01-01"})).await);
        }
        let path = report_path("participation", &format!("expert_group={group}&as_of={AS_OF}"));
        let report = ok(&app.get(&path).await);
        for (key, want) in [("organisations", json!(2)), ("organisations_suppressed", json!(false)), ("individuals", json!(0)), ("individuals_suppressed", json!(false)), ("total", json!(2))] {
            assert_eq!(report[key], want, "internal {key}");
        }
        let report = ok(&app.get(&format!("{path}&disclosure=public")).await);
        for (key, want) in [("organisations", json!(null)), ("organisations_suppressed", json!(true)), ("individuals", json!(0)), ("individuals_suppressed", json!(false)), ("total", json!(null))] {
            assert_eq!(report[key], want, "public {key}");
        }
        assert_eq!(app.get(&format!("{path}&disclosure=open")).await.status, StatusCode::BAD_REQUEST);
    }
);

db_test!(
    async fn a_count_of_people_is_exact_only_where_the_caller_can_list_them(app) {
        // Two people and an organisation sit on a group; the group is invited to a
        // consultation and all three answer by name.
        let org = organisation(&app, json!({"name": "Oak Voices", "kind": "local_charity"})).await;
        let people = [person(&app, 0).await, person(&app, 1).await];
        let group = expert_group(&app).await;
        let members = format!("/api/v1/expert-groups/{group}/members");
        created(&app.post_json(&members, &json!({"organisation_id": org, "role": "chair", "joined_on": "2025-01-01"})).await);
        for someone in &people {
            created(&app.post_json(&members, &json!({"contact_id": someone, "role": "member", "joined_on": "2025-01-01"})).await);
        }
        let consultation = consultation(&app).await;
        let base = format!("/api/v1/consultations/{consultation}");
        created(&app.post_json(&format!("{base}/invitations"), &json!({"expert_group_id": group})).await);
        for body in [json!({"organisation_id": org}), json!({"contact_id": people[0]}), json!({"contact_id": people[1]})] {
            created(&app.post_json(&format!("{base}/responses"), &body).await);
        }

        let viewer = app.token_for("viewer").await;
        let key = app.api_key(&["groups:read", "consultations:read", "reports:read"]).await;
        let reports_only = app.api_key(&["reports:read"]).await;
        for credential in [&app.admin_token, &viewer, &key] {
            let caller = app.as_(Some(credential));
            // Record views: whoever may call them can list the two people, so they are exact.
            let listed = ok(&caller.get(&members).await)["data"].as_array().unwrap().len();
            assert_eq!(listed, 3);
            assert_eq!(ok(&caller.get(&format!("/api/v1/expert-groups/{group}")).await)["current_member_count"], 3);
            let invitations = ok(&caller.get(&format!("{base}/invitations")).await)["data"].as_array().unwrap().len();
            let named = ok(&caller.get(&format!("{base}/responses")).await)["data"].as_array().unwrap().len();
            assert_eq!((invitations, named), (3, 3));
            let figures = ok(&caller.get(&format!("{base}/participation")).await);
            assert_eq!(figures["invited"], json!({"total": 3, "organisations": 1, "contacts": 2}));
            assert_eq!(figures["responded"], json!({"total": 3, "organisations": 1, "contacts": 2, "anonymous": 0}));
            assert_eq!(figures["suppressed"], false);
        }
        // Reports count people in aggregate: two are withheld whoever asks, in every audience.
        for credential in [&app.admin_token, &viewer, &key, &reports_only] {
            let caller = app.as_(Some(credential));
            for population in [format!("expert_group={group}"), format!("consultation={consultation}")] {
                for audience in ["internal", "public"] {
                    let path = report_path("participation", &format!("{population}&as_of={AS_OF}&disclosure={audience}"));
                    let report = ok(&caller.get(&path).await);
                    assert_eq!((report["individuals"].clone(), report["individuals_suppressed"].clone()), (json!(null), json!(true)), "{path}");
                    assert_eq!(report["total"], json!(null), "{path}");
                }
            }
        }
        // A key that cannot list the people gets no exact count of them elsewhere either.
        let caller = app.as_(Some(&reports_only));
        assert_eq!(caller.get(&members).await.status, StatusCode::FORBIDDEN);
        assert_eq!(caller.get(&format!("{base}/participation")).await.status, StatusCode::FORBIDDEN);
    }
);
