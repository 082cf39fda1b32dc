//! Imports from CSV: the alliance's published member list, every column, all-or-nothing
//! failure that leaves the database as it was, dry runs, re-imports that change nothing,
//! spreadsheet encodings, limits, and the audit trail.

use actix_web::http::{Method, StatusCode};
use diesel::RunQueryDsl;
use serde_json::{Value, json};

use crate::audit::every_text_value;
use crate::db_test;
use crate::helpers::{TestApp, TestResponse};

async fn import(app: &TestApp, what: &str, query: &str, body: &[u8]) -> TestResponse {
    let request = app
        .request(Method::POST, &format!("/api/v1/imports/{what}{query}"))
        .insert_header(("content-type", "text/csv"));
    app.send(request, Some(body.to_vec())).await
}

fn ok(response: &TestResponse) -> Value {
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.json()
}

/// The alliance's published member list (names only), copied as it is (CRLF line endings
/// included) from `../shared/data/member-organisations.csv`.
fn member_list() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/member-organisations.csv"
    ))
    .expect("the alliance's member list is in tests/fixtures")
}

async fn organisation_names(app: &TestApp) -> Vec<String> {
    let list = app
        .get("/api/v1/organisations?limit=500&sort=name")
        .await
        .json();
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap().to_owned())
        .collect()
}

db_test!(
    async fn the_alliances_member_list_imports_cleanly_and_again_changes_nothing(app) {
        let file = member_list();
        let members = String::from_utf8_lossy(&file).lines().skip(1).filter(|l| !l.trim().is_empty()).count();
        let first = ok(&import(&app, "organisations", "", &file).await);
        assert_eq!((first["created"].as_u64(), first["updated"].as_u64(), first["unchanged"].as_u64()),
                   (Some(members as u64), Some(0), Some(0)), "{first}");
        assert!(first["errors"].as_array().unwrap().is_empty());
        let names = organisation_names(&app).await;
        assert_eq!(names.len(), members);
        assert!(names.iter().any(|n| n == "Abianda"));
        let created = app.get(&format!("/api/v1/organisations/{}", first["results"][0]["id"].as_str().unwrap())).await.json();
        assert_eq!(created["kind"], "other", "kind defaults to other");

        let again = ok(&import(&app, "organisations", "", &file).await);
        assert_eq!((again["created"].as_u64(), again["unchanged"].as_u64()), (Some(0), Some(members as u64)), "{again}");
        assert_eq!(again["matched_by"], json!({"name": members}));
        assert_eq!(organisation_names(&app).await.len(), members, "re-importing creates nothing");
    }
);

const FULL: &str = "external_id,name,kind,size_band,charity_number,company_number,website,email,phone,postcode,description,geography_scope,regions,expertise,leadership_reply_status,leadership_communities,mission_reply_status,mission_communities,lived_experience_led\n\
ORG-1,Northside Peer Voices,grassroots_group,small,1161226,,https://northside.example.org,hello@northside.example.org,0161 496 0000,m1 1ae,Young people speaking up,regional,north_west;london,participation_voice;racial_justice,answered,DEI010100;EXT020000,answered,DEI070200,yes\n\
ORG-2,Southside Trust,National charity,,,09876543,,,,,,,,,,,,,no\n";

db_test!(
    async fn every_column_is_read_as_the_api_reads_it_and_rows_match_by_their_rule(app) {
        let first = ok(&import(&app, "organisations", "", FULL.as_bytes()).await);
        assert_eq!(first["created"], 2, "{first}");
        let id = first["results"][0]["id"].as_str().unwrap().to_owned();
        let read = app.get(&format!("/api/v1/organisations/{id}")).await;
        let stored_etag = read.header("etag");
        let stored = read.json();
        for (field, expected) in [
            ("kind", json!("grassroots_group")), ("size_band", json!("small")), ("charity_number", json!("1161226")),
            ("postcode", json!("M1 1AE")), ("regions", json!(["london", "north_west"])),
            ("expertise", json!(["participation_voice", "racial_justice"])),
            ("leadership", json!({"reply_status": "answered", "communities": ["DEI010100", "EXT020000"]})),
            ("mission", json!({"reply_status": "answered", "communities": ["DEI070200"]})),
            ("lived_experience_led", json!(true)),
        ] {
            let mut got = stored[field].clone();
            if let Some(values) = got.as_array_mut() {
                values.sort_by_key(|v| v.to_string());
            }
            if let Some(codes) = got.get_mut("communities").and_then(Value::as_array_mut) {
                codes.sort_by_key(|v| v.to_string());
            }
            assert_eq!(got, expected, "{field}");
        }
        let second = app.get(&format!("/api/v1/organisations/{}", first["results"][1]["id"].as_str().unwrap())).await.json();
        assert_eq!((second["kind"].as_str(), second["lived_experience_led"].as_bool()), (Some("national_charity"), Some(false)));

        let again = ok(&import(&app, "organisations", "", FULL.as_bytes()).await);
        assert_eq!(again["unchanged"], 2, "{again}");
        // Sets are sets: the same regions, expertise and codes in another order change nothing.
        let reordered = FULL.replace("north_west;london", "london;north_west")
            .replace("participation_voice;racial_justice", "racial_justice;participation_voice")
            .replace("DEI010100;EXT020000", "EXT020000;DEI010100");
        let report = ok(&import(&app, "organisations", "", reordered.as_bytes()).await);
        assert_eq!(report["unchanged"], 2, "{report}");
        let version = app.get(&format!("/api/v1/organisations/{id}")).await.header("etag");
        assert_eq!(version, stored_etag, "not even the version moved");
        assert_eq!(again["matched_by"], json!({"external_id": 2}));

        // An external id whose organisation was deleted names the one the next import makes.
        let southside = first["results"][1]["id"].as_str().unwrap().to_owned();
        assert_eq!(app.delete(&format!("/api/v1/organisations/{southside}"), None).await.status, StatusCode::NO_CONTENT);
        let recreated = ok(&import(&app, "organisations", "", FULL.as_bytes()).await);
        assert_eq!((recreated["created"].as_u64(), recreated["unchanged"].as_u64()), (Some(1), Some(1)), "{recreated}");
        let again = ok(&import(&app, "organisations", "", FULL.as_bytes()).await);
        assert_eq!(again["matched_by"], json!({"external_id": 2}), "and it is found by its external id again: {again}");

        // No external id: found by charity number, then company number; a changed cell updates.
        let by_numbers = "name,charity_number,company_number,phone\nNorthside Peer Voices,1161226,,0161 496 0001\nSouthside Trust,,09876543,\n";
        let report = ok(&import(&app, "organisations", "", by_numbers.as_bytes()).await);
        assert_eq!((report["updated"].as_u64(), report["unchanged"].as_u64()), (Some(1), Some(1)), "{report}");
        assert_eq!(report["results"][0]["matched_by"], "charity_number");
        assert_eq!(report["results"][1]["matched_by"], "company_number");
        assert_eq!(app.get(&format!("/api/v1/organisations/{id}")).await.json()["phone"], "0161 496 0001");
        // The update is in the organisation's history, as an import.
        let history = app.get(&format!("/api/v1/organisations/{id}/history")).await.json();
        assert_eq!(history["data"][0]["action"], "import.update");
        assert_eq!(history["data"][0]["changes"]["phone"]["after"], "0161 496 0001");
    }
);

db_test!(
    async fn one_bad_row_writes_nothing_and_every_bad_row_is_reported(app) {
        app.create_organisation(&json!({"name": "Already Here", "kind": "other", "charity_number": "1111111"})).await;
        let second = app.create_organisation(&json!({"name": "Second", "kind": "other"})).await;
        let before = every_text_value(&app);
        // Row 5 is found by its id and would take the charity number of another organisation.
        let file = format!("id,name,kind,charity_number,regions,leadership_communities,lived_experience_led\n\
                    ,Good Org,other,,london,,\n\
                    ,,spaceship,12,atlantis,DEI999999,perhaps\n\
                    ,Another Good,other,,,,\n\
                    {},Second,other,1111111,,,\n", second["id"].as_str().unwrap());
        let rejected = import(&app, "organisations", "", file.as_bytes()).await;
        let problem = rejected.problem(422);
        assert_eq!(problem["type"], "/problems/import-rejected");
        let errors = problem["report"]["errors"].as_array().unwrap();
        let cells: Vec<(u64, &str)> = errors.iter().map(|e| (e["row"].as_u64().unwrap(), e["column"].as_str().unwrap())).collect();
        for expected in [(3, "name"), (3, "kind"), (3, "charity_number"), (3, "lived_experience_led"), (5, "charity_number")] {
            assert!(cells.contains(&expected), "{expected:?} missing from {cells:?}");
        }
        let kind = errors.iter().find(|e| e["column"] == "kind").unwrap();
        assert_eq!(kind["value"], "spaceship");
        assert!(kind["message"].as_str().unwrap().len() > 5);
        assert!(cells.iter().all(|(row, _)| *row == 3 || *row == 5), "good rows have no problems: {cells:?}");
        assert_eq!(every_text_value(&app), before, "the database is exactly as it was");

        // The next run, once the file is mended, goes in.
        let mended = "name,kind\nGood Org,other\nAnother Good,other\n";
        assert_eq!(ok(&import(&app, "organisations", "", mended.as_bytes()).await)["created"], 2);
    }
);

db_test!(
    async fn a_dry_run_reports_what_would_happen_and_writes_nothing(app) {
        let before = every_text_value(&app);
        let report = ok(&import(&app, "organisations", "?dry_run=true", FULL.as_bytes()).await);
        assert_eq!((report["dry_run"].as_bool(), report["created"].as_u64()), (Some(true), Some(2)), "{report}");
        assert_eq!(every_text_value(&app), before);
        let bad = import(&app, "organisations", "?dry_run=true", b"name,kind\nX,spaceship\n").await;
        assert_eq!(bad.problem(422)["report"]["dry_run"], true);
        import(&app, "organisations", "?dry_run=maybe", FULL.as_bytes()).await.problem(400);
    }
);

db_test!(
    async fn spreadsheet_files_are_read_the_way_staff_would_hope(app) {
        // Windows-1252 from older Excel, Windows line endings, empty columns and rows at the edges.
        let file = b"Name,Kind,,\r\nO\x92Brien \x96 Youth Trust,Local charity,,\r\n,,,\r\n";
        let report = ok(&import(&app, "organisations", "", file).await);
        assert_eq!(report["encoding"], "windows1252");
        let names = organisation_names(&app).await;
        assert_eq!(names, vec!["O’Brien – Youth Trust"]);
        // UTF-8 with a byte-order mark, and tab-separated.
        let report = ok(&import(&app, "organisations", "", "\u{feff}name\tkind\nCafé Voices\tother\n".as_bytes()).await);
        assert_eq!(report["encoding"], "utf8");
        assert!(organisation_names(&app).await.contains(&"Café Voices".to_owned()));
        // What the file cannot be is said at once: unknown headings, values under no heading.
        let problem = import(&app, "organisations", "", b"name,colour,\nA,red,stray\n").await.problem(422);
        let columns: Vec<&str> = problem["report"]["errors"].as_array().unwrap().iter().map(|e| e["column"].as_str().unwrap()).collect();
        assert_eq!(columns, vec!["colour", ""]);
        import(&app, "organisations", "", b"").await.problem(422);
    }
);

db_test!(
    async fn imports_refuse_other_media_types_and_files_over_the_limits(app) {
        let request = app.request(Method::POST, "/api/v1/imports/organisations").insert_header(("content-type", "application/json"));
        app.send(request, Some(b"{}".to_vec())).await.problem(415);
        let mut many = b"name\n".to_vec();
        for n in 0..50_001 {
            many.extend_from_slice(format!("Org {n}\n").as_bytes());
        }
        import(&app, "organisations", "", &many).await.problem(413);
        // Over the import limit (2 MiB on test servers, IMPORT_BODY_LIMIT_MIB), under which a
        // file larger than other bodies' 1 MiB is taken.
        let mut big = b"name,description\n".to_vec();
        while big.len() < 1536 * 1024 {
            big.extend_from_slice(format!("Org {},{}\n", big.len(), "d".repeat(4000)).as_bytes());
        }
        assert!(import(&app, "organisations", "?dry_run=true", &big).await.status.is_success());
        let huge = vec![b'a'; 3 * 1024 * 1024];
        import(&app, "organisations", "", &huge).await.problem(413);
        assert!(organisation_names(&app).await.is_empty());
        let viewer = app.token_for("viewer").await;
        let request = app.as_(Some(&viewer)).request(Method::POST, "/api/v1/imports/organisations").insert_header(("content-type", "text/csv"));
        app.as_(Some(&viewer)).send(request, Some(b"name\nA\n".to_vec())).await.problem(403);
    }
);

db_test!(
    async fn contacts_import_matches_by_email_and_is_audited(app) {
        let file = "external_id,given_name,family_name,email,job_title\n\
                    P-1,Amara,Okafor,amara@northside.example.org,Director\n\
                    ,Ben,Ito,ben@southside.example.org,\n";
        let first = import(&app, "contacts", "", file.as_bytes()).await;
        let report = ok(&first);
        assert_eq!(report["created"], 2, "{report}");
        let again = ok(&import(&app, "contacts", "", file.as_bytes()).await);
        assert_eq!(again["unchanged"], 2);
        assert_eq!(again["matched_by"], json!({"email": 1, "external_id": 1}));
        let changed = "given_name,family_name,email,job_title\nAmara,Okafor,AMARA@northside.example.org,Chair\n";
        let report = ok(&import(&app, "contacts", "", changed.as_bytes()).await);
        assert_eq!((report["updated"].as_u64(), report["results"][0]["matched_by"].as_str()), (Some(1), Some("email")));

        let request_id = first.header("x-request-id").unwrap();
        let events = app.get(&format!("/api/v1/audit-events?request_id={request_id}")).await.json();
        let actions: Vec<&str> = events["data"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions.iter().filter(|a| **a == "import.create").count(), 2);
        assert!(actions.contains(&"import"), "{actions:?}");
        let bad = import(&app, "contacts", "", b"given_name,family_name,email\nA,B,not-an-email\n").await.problem(422);
        assert_eq!(bad["report"]["errors"][0]["column"], "email");
    }
);

/// Whether a row or cell problem at `row` in `column` is in a rejected import's report.
fn reported(problem: &Value, row: u64, column: &str) -> bool {
    problem["report"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["row"] == row && e["column"] == column)
}

db_test!(
    async fn a_nul_in_any_cell_is_a_row_error_before_anything_is_matched(app) {
        app.create_organisation(&json!({"name": "Matched", "kind": "other", "charity_number": "1161226"})).await;
        app.post_json("/api/v1/contacts", &json!({"given_name": "A", "family_name": "B", "email": "a@example.org"})).await;
        let before = every_text_value(&app);
        for (what, file, column) in [
            ("organisations", &b"name,kind\nnul\0name,other\n"[..], "name"),
            ("organisations", b"name,charity_number\nMatched,1161\x00226\n", "charity_number"),
            ("organisations", b"name,company_number\nMatched,0987\0\n", "company_number"),
            ("organisations", b"name,description\nMatched,a\0b\n", "description"),
            ("contacts", b"given_name,family_name,email\nA,B,a\0@example.org\n", "email"),
        ] {
            for query in ["?dry_run=true", ""] {
                let problem = import(&app, what, query, file).await.problem(422);
                assert!(reported(&problem, 2, column), "{what} {column}{query}: {problem}");
                assert!(problem["report"]["errors"][0]["message"].as_str().unwrap().contains("NUL"));
            }
        }
        // The other rows are still checked, and every problem is reported together.
        let problem = import(&app, "organisations", "", b"name,kind\nnul\0name,other\nGood,other\nBad,spaceship\n").await.problem(422);
        let rows: Vec<(u64, &str)> = problem["report"]["errors"].as_array().unwrap().iter()
            .map(|e| (e["row"].as_u64().unwrap(), e["column"].as_str().unwrap())).collect();
        assert_eq!(rows, vec![(2, "name"), (4, "kind")]);
        assert_eq!(every_text_value(&app), before, "nothing was written");
    }
);

db_test!(
    async fn an_unclosed_quote_and_an_id_that_names_nothing_are_row_errors(app) {
        let before = every_text_value(&app);
        // The quote on row 3 would swallow the rest of the file into one name.
        let problem = import(&app, "organisations", "", b"name,kind\nFirst,other\n\"Second,other\nThird,other\n").await.problem(422);
        assert!(reported(&problem, 3, "name"), "{problem}");
        assert!(problem["report"]["errors"][0]["message"].as_str().unwrap().contains("quote"));
        assert_eq!(every_text_value(&app), before);

        let stored = app.create_organisation(&json!({"name": "Stored", "kind": "other"})).await;
        let id = stored["id"].as_str().unwrap();
        let deleted = app.create_organisation(&json!({"name": "Deleted", "kind": "other"})).await;
        let deleted = deleted["id"].as_str().unwrap();
        assert_eq!(app.delete(&format!("/api/v1/organisations/{deleted}"), None).await.status, StatusCode::NO_CONTENT);
        let before = every_text_value(&app);
        let file = format!("id,name,kind\nnot-a-uuid,Made Up,other\n{deleted},Deleted,other\n0193a000-0000-7000-8000-000000000000,Elsewhere,other\n{id},Stored,other\n");
        let problem = import(&app, "organisations", "", file.as_bytes()).await.problem(422);
        let rows: Vec<(u64, &str)> = problem["report"]["errors"].as_array().unwrap().iter()
            .map(|e| (e["row"].as_u64().unwrap(), e["column"].as_str().unwrap())).collect();
        assert_eq!(rows, vec![(2, "id"), (3, "id"), (4, "id")], "{problem}");
        assert_eq!(every_text_value(&app), before, "no record was made for any of them");
        // An id written in capitals (as a spreadsheet may) still names its record.
        let report = ok(&import(&app, "organisations", "", format!("id,name\n{},Stored\n", id.to_uppercase()).as_bytes()).await);
        assert_eq!((report["unchanged"].as_u64(), report["results"][0]["matched_by"].as_str()), (Some(1), Some("id")));

        let contact = app.post_json("/api/v1/contacts", &json!({"given_name": "A", "family_name": "B"})).await.json();
        let problem = import(&app, "contacts", "", b"id,given_name,family_name\n12345,A,B\n").await.problem(422);
        assert!(reported(&problem, 2, "id"), "{problem}");
        let file = format!("id,given_name,family_name\n{},A,C\n", contact["id"].as_str().unwrap());
        assert_eq!(ok(&import(&app, "contacts", "", file.as_bytes()).await)["updated"], 1);
    }
);

/// A list's own CSV export, through the API.
async fn export(app: &TestApp, what: &str) -> Vec<u8> {
    let response = app
        .send(
            app.request(Method::GET, &format!("/api/v1/{what}?limit=500"))
                .insert_header(("accept", "text/csv")),
            None,
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.text().into_bytes()
}

db_test!(
    async fn a_lists_own_csv_export_imports_again_every_row_unchanged(app) {
        let awkward = [
            json!({"name": "=Formula Friends", "kind": "grassroots_group", "size_band": "small", "phone": "+44 161 496 0000",
                   "description": "-minus first, then \"quotes\", commas; and\nlines", "website": "https://formula.example.org",
                   "email": "hello@formula.example.org", "charity_number": "1161226", "postcode": "M1 1AE",
                   "geography_scope": "regional", "regions": ["north_west", "london"], "expertise": ["racial_justice", "participation_voice"],
                   "leadership": {"reply_status": "answered", "communities": ["DEI010100", "EXT020000"]},
                   "mission": {"reply_status": "prefer_not_to_say"}, "lived_experience_led": true}),
            json!({"name": "@Handle Collective", "kind": "other", "description": "'=already quoted", "phone": "+44 (0)20 7946 0000"}),
            json!({"name": "+Plus Trust", "kind": "local_charity", "description": "'plain apostrophe", "lived_experience_led": false}),
            json!({"name": "-Minus Group", "kind": "other", "company_number": "09876543", "mission": {"reply_status": "answered", "communities": ["DEI070200"]}}),
        ];
        for body in &awkward {
            app.create_organisation(body).await;
        }
        for body in [
            json!({"given_name": "=Ada", "family_name": "-Lovelace", "email": "ada@example.org", "phone": "+44 161 496 0001", "job_title": "@Chair", "pronouns": "she/her"}),
            json!({"given_name": "+Ben", "family_name": "'=Quoted", "job_title": "-", "pronouns": "'they"}),
            json!({"given_name": "Cleo", "family_name": "Plain"}),
        ] {
            assert_eq!(app.post_json("/api/v1/contacts", &body).await.status, StatusCode::CREATED, "{body}");
        }
        let organisations = export(&app, "organisations").await;
        assert!(String::from_utf8_lossy(&organisations).contains("'+44 161 496 0000"), "the export defuses");
        let contacts = export(&app, "contacts").await;
        let before = every_text_value(&app);
        for query in ["?dry_run=true", ""] {
            let report = ok(&import(&app, "organisations", query, &organisations).await);
            assert_eq!((report["unchanged"].as_u64(), report["updated"].as_u64(), report["created"].as_u64()),
                       (Some(4), Some(0), Some(0)), "{report}");
            assert_eq!(report["matched_by"], json!({"id": 4}));
            let report = ok(&import(&app, "contacts", query, &contacts).await);
            assert_eq!((report["unchanged"].as_u64(), report["updated"].as_u64(), report["created"].as_u64()),
                       (Some(3), Some(0), Some(0)), "{report}");
        }
        // Sorted: locking a row to compare it rewrites it in place on PostgreSQL, which may
        // change the order a table is read back in, not its values.
        let outside_the_trail = |values: Vec<(String, String)>| {
            let mut kept: Vec<_> = values.into_iter().filter(|(column, _)| !column.starts_with("audit_events.")).collect();
            kept.sort();
            kept
        };
        let (after, before) = (outside_the_trail(every_text_value(&app)), outside_the_trail(before));
        assert_eq!(after, before, "nothing but the import's own audit event changed");
    }
);

db_test!(
    async fn an_email_is_one_address_whether_its_domain_is_in_unicode_or_punycode(app) {
        let created = app.post_json("/api/v1/contacts", &json!({"given_name": "Jürgen", "family_name": "Brück", "email": "Jurgen@Bücher.example"})).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
        let created = created.json();
        assert_eq!(created["email"], "Jurgen@Bücher.example", "kept as written");
        let again = app.post_json("/api/v1/contacts", &json!({"given_name": "J", "family_name": "B", "email": "jurgen@xn--bcher-kva.example"})).await;
        assert_eq!(again.problem(409)["errors"][0]["field"], "email");
        let other = app.post_json("/api/v1/contacts", &json!({"given_name": "K", "family_name": "B", "email": "k@xn--bcher-kva.example"})).await.json();
        let id = other["id"].as_str().unwrap();
        let moved = app.patch_json(&format!("/api/v1/contacts/{id}"), &json!({"email": "JURGEN@BÜCHER.EXAMPLE"}), None).await;
        assert_eq!(moved.status, StatusCode::CONFLICT, "{}", moved.text());

        let report = ok(&import(&app, "contacts", "", "given_name,family_name,email\nJürgen,Brück,jurgen@xn--bcher-kva.example\n".as_bytes()).await);
        assert_eq!((report["results"][0]["matched_by"].as_str(), report["results"][0]["id"].as_str()), (Some("email"), created["id"].as_str()), "{report}");
        assert_eq!(report["created"], 0);

        // A contact stored before emails were compared this way gets its key at start-up.
        let mut conn = app.state.db.connection().unwrap();
        diesel::sql_query("UPDATE contacts SET email_match_key = NULL").execute(&mut **conn).unwrap();
        assert!(convene::domain::contacts::store::key_emails(&mut conn).unwrap() >= 2);
        drop(conn);
        let again = app.post_json("/api/v1/contacts", &json!({"given_name": "J", "family_name": "B", "email": "jurgen@xn--bcher-kva.example"})).await;
        again.problem(409);
    }
);

/// Each row's outcome and matching rule, in file order.
fn outcomes(report: &Value) -> Vec<(String, String)> {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["outcome"].as_str().unwrap().to_owned(),
                r["matched_by"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect()
}

db_test!(
    async fn a_row_sees_what_the_rows_before_it_did_within_a_chunk_and_across_chunks(app) {
        let stored = app.create_organisation(&json!({"name": "Stored X", "kind": "other", "charity_number": "1111111"})).await;
        let x = stored["id"].as_str().unwrap();
        let mut file = format!(
            "id,name,kind,charity_number\n\
             ,Alpha,other,2222222\n\
             ,Alpha Renamed,other,2222222\n\
             {x},Stored X,other,9999999\n\
             ,Freed Number,other,1111111\n\
             ,Alpha Renamed,other,\n");
        // Rows are read a thousand at a time: the last row is in the second chunk.
        for n in 0..1_000 {
            file.push_str(&format!(",Filler {n:04},other,\n"));
        }
        file.push_str(",Alpha Renamed,other,3333333\n");
        let report = ok(&import(&app, "organisations", "", file.as_bytes()).await);
        let seen = outcomes(&report);
        let expected: Vec<(String, String)> = [
            ("created", "-"),
            ("updated", "charity_number"), // the record row 2 created, by the number it was given
            ("updated", "id"),             // the stored record gives up 1111111 …
            ("created", "-"),              // … so a new one may take it
            ("updated", "name"),           // row 3's new name, and its number cleared
        ]
        .iter()
        .map(|(o, m)| (o.to_string(), m.to_string()))
        .collect();
        assert_eq!(seen[..5], expected[..], "{report}");
        assert_eq!(seen.last().unwrap(), &("updated".to_owned(), "name".to_owned()), "across the chunk boundary");
        assert_eq!((report["created"].as_u64(), report["updated"].as_u64()), (Some(1_002), Some(4)));
        let alpha = report["results"][0]["id"].as_str().unwrap();
        for r in [1, 4, 1_005] {
            assert_eq!(report["results"][r]["id"], alpha, "row {} updated Alpha", r + 2);
        }
        let read = app.get(&format!("/api/v1/organisations/{alpha}")).await;
        let (etag, alpha_now) = (read.header("etag"), read.json());
        assert_eq!((alpha_now["name"].as_str(), alpha_now["charity_number"].as_str()), (Some("Alpha Renamed"), Some("3333333")));
        assert_eq!(etag.as_deref(), Some("\"4\""), "created, then three updates");
        let x_now = app.get(&format!("/api/v1/organisations/{x}")).await.json();
        assert_eq!(x_now["charity_number"], "9999999");
        let history = app.get(&format!("/api/v1/audit-events?entity_type=organisation&entity_id={alpha}&limit=50")).await.json();
        let actions: Vec<&str> = history["data"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions.iter().filter(|a| **a == "import.update").count(), 3, "{actions:?}");
        assert_eq!(actions.iter().filter(|a| **a == "import.create").count(), 1, "{actions:?}");

        // Numbers are unique among the rows' records too: a row may not take a number an
        // earlier row gave, nor one stored, and then nothing is written.
        let before = every_text_value(&app);
        let file = format!(
            "id,name,kind,charity_number,company_number\n\
             {alpha},Alpha Renamed,other,9999999,\n\
             ,Gives 01234567,other,,01234567\n\
             {x},Stored X,other,9999999,01234567\n\
             ,Fine,other,5555555,\n");
        let problem = import(&app, "organisations", "", file.as_bytes()).await.problem(422);
        let rows: Vec<(u64, &str)> = problem["report"]["errors"].as_array().unwrap().iter()
            .map(|e| (e["row"].as_u64().unwrap(), e["column"].as_str().unwrap())).collect();
        assert_eq!(rows, vec![(2, "charity_number"), (4, "company_number")], "{problem}");
        assert_eq!(every_text_value(&app), before, "nothing was written");
    }
);

db_test!(
    async fn contacts_rows_see_the_emails_the_rows_before_them_gave_and_freed(app) {
        let stored = app.post_json("/api/v1/contacts", &json!({"given_name": "Sam", "family_name": "Stored", "email": "sam@example.org"})).await.json();
        let sam = stored["id"].as_str().unwrap();
        let file = format!(
            "id,given_name,family_name,email\n\
             ,Ada,New,ada@example.org\n\
             ,Ada,Renamed,ADA@example.org\n\
             {sam},Sam,Stored,sam.new@example.org\n\
             ,Other,Person,sam@example.org\n");
        let report = ok(&import(&app, "contacts", "", file.as_bytes()).await);
        let seen: Vec<(String, String)> = outcomes(&report);
        let expected: Vec<(String, String)> = [("created", "-"), ("updated", "email"), ("updated", "id"), ("created", "-")]
            .iter().map(|(o, m)| (o.to_string(), m.to_string())).collect();
        assert_eq!(seen, expected, "{report}");

        let before = every_text_value(&app);
        let file = format!("id,given_name,family_name,email\n{sam},Sam,Stored,ada@example.org\n");
        let problem = import(&app, "contacts", "", file.as_bytes()).await.problem(422);
        assert!(reported(&problem, 2, "email"), "{problem}");
        assert_eq!(every_text_value(&app), before);
    }
);
