//! Listing organisations: keyset pagination, filters, sorting, totals, CSV.

use actix_web::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{Backend, TestApp, organisation};

fn names(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn create_named(app: &TestApp, names: &[&str]) {
    for name in names {
        app.create_organisation(&organisation(name)).await;
    }
}

db_test!(
    async fn pages_cover_every_organisation_once_in_order(app) {
        let all = ["delta", "Alpha", "charlie", "Bravo", "echo", "foxtrot", "Golf"];
        create_named(&app, &all).await;

        let first = app.get("/api/v1/organisations?limit=3&include_total=true").await;
        assert_eq!(first.status, StatusCode::OK);
        let page = first.json();
        assert_eq!(names(page["data"].as_array().unwrap()), ["Alpha", "Bravo", "charlie"]);
        assert_eq!(page["total"], 7);
        let cursor = page["next_cursor"].as_str().unwrap();
        let link = first.header("link").unwrap();
        assert!(link.starts_with("</api/v1/organisations?"), "{link}");
        assert!(link.contains("limit=3") && link.contains(&format!("cursor={cursor}")));
        assert!(link.ends_with("rel=\"next\""));

        let walked = app.list_all("limit=2").await;
        assert_eq!(
            names(&walked),
            ["Alpha", "Bravo", "charlie", "delta", "echo", "foxtrot", "Golf"],
            "case-insensitive name order, each once"
        );
        let backwards = app.list_all("limit=3&sort=-name").await;
        assert_eq!(names(&backwards).first().unwrap(), "Golf");
        assert_eq!(backwards.len(), 7);
        let by_creation = app.list_all("limit=2&sort=created_at").await;
        assert_eq!(names(&by_creation), all);
        let newest_first = app.list_all("limit=4&sort=-updated_at").await;
        assert_eq!(names(&newest_first).first().unwrap(), "Golf");

        let no_total = app.get("/api/v1/organisations").await.json();
        assert!(no_total.get("total").is_none());
        assert_eq!(no_total["next_cursor"], json!(null));
    }
);

db_test!(
    async fn bad_list_parameters_are_400_and_all_reported(app) {
        for query in ["limit=501", "limit=0", "limit=ten", "cursor=garbage", "sort=size", "colour=red", "kind=club", "include_total=yes", "updated_since=yesterday", "limit=1&limit=2", "expertise=astrology"] {
            let response = app.get(&format!("/api/v1/organisations?{query}")).await;
            response.problem(400);
        }
        let response = app
            .get("/api/v1/organisations?limit=900&region=atlantis&colour=red")
            .await;
        response.problem(400);
        assert_eq!(response.error_fields(), ["limit", "region", "colour"]);

        create_named(&app, &["a", "b", "c"]).await;
        let page = app.get("/api/v1/organisations?limit=1").await.json();
        let cursor = page["next_cursor"].as_str().unwrap();
        let replayed = app
            .get(&format!("/api/v1/organisations?limit=1&sort=-name&cursor={cursor}"))
            .await;
        assert_eq!(replayed.problem(400)["errors"][0]["field"], "cursor");
    }
);

db_test!(
    async fn filters_combine_or_within_a_field_and_and_across_fields(app) {
        let mut a = organisation("Alpha");
        a["kind"] = json!("national_charity");
        a["regions"] = json!(["london"]);
        a["expertise"] = json!(["mental_health"]);
        a["lived_experience_led"] = json!(false);
        a["leadership"] = json!({"reply_status": "answered", "communities": ["DEI010120"]});
        let mut b = organisation("Bravo");
        b["kind"] = json!("local_charity");
        b["regions"] = json!(["wales", "london"]);
        b["size_band"] = json!("large");
        b["leadership"] = json!({"reply_status": "answered", "communities": ["DEI090000"]});
        b["mission"] = json!({"reply_status": "answered", "communities": ["DEI010300"]});
        let c = organisation("Charlie");
        for body in [&a, &b, &c] {
            app.create_organisation(body).await;
        }

        let cases: &[(&str, &[&str])] = &[
            ("kind=national_charity", &["Alpha"]),
            ("kind=national_charity&kind=local_charity", &["Alpha", "Bravo"]),
            ("region=london", &["Alpha", "Bravo"]),
            ("region=london&kind=local_charity", &["Bravo"]),
            ("region=north_west&region=wales", &["Bravo", "Charlie"]),
            ("size_band=large", &["Bravo"]),
            ("geography_scope=regional", &["Alpha", "Bravo", "Charlie"]),
            ("expertise=mental_health&expertise=racial_justice", &["Alpha", "Bravo", "Charlie"]),
            ("expertise=mental_health", &["Alpha"]),
            ("lived_experience_led=true", &["Bravo", "Charlie"]),
            ("lived_experience_led=false", &["Alpha"]),
            // A parent code matches its descendants, at any depth.
            ("leadership=DEI010000", &["Alpha", "Charlie"]),
            ("leadership=DEI010100", &["Alpha", "Charlie"]),
            ("leadership=DEI010110", &["Charlie"]),
            ("leadership=DEI090000", &["Bravo"]),
            ("mission=DEI010000", &["Bravo"]),
            ("mission=DEI070000", &["Alpha", "Charlie"]),
            ("q=RAV", &["Bravo"]),
            ("q=a", &["Alpha", "Bravo", "Charlie"]),
            ("q=zulu", &[]),
        ];
        for (query, expected) in cases {
            let found = app.list_all(query).await;
            assert_eq!(names(&found), *expected, "{query}");
        }
        let total = app
            .get("/api/v1/organisations?region=london&include_total=true&limit=1")
            .await
            .json();
        assert_eq!(total["total"], 2, "the total counts every match, not the page");
    }
);

db_test!(
    async fn name_search_is_case_insensitive_beyond_ascii_and_literal(app) {
        create_named(&app, &["École Égalité", "100% Youth", "Under_score", "Plain"]).await;
        assert_eq!(names(&app.list_all("q=%C3%A9cole").await), ["École Égalité"]);
        assert_eq!(names(&app.list_all("q=%C3%89GALIT%C3%89").await), ["École Égalité"]);
        assert_eq!(names(&app.list_all("q=%25").await), ["100% Youth"], "% is not a wildcard");
        assert_eq!(names(&app.list_all("q=_").await), ["Under_score"], "_ is not a wildcard");
    }
);

db_test!(
    async fn csv_streams_the_whole_filtered_list(app) {
        let mut formula = organisation("=HYPERLINK(\"http://evil\")");
        formula["regions"] = json!(["london", "wales"]);
        app.create_organisation(&formula).await;
        for i in 0..520 {
            app.create_organisation(&json!({"name": format!("Org {i:03}"), "kind": "other"}))
                .await;
        }
        let request = app
            .request(Method::GET, "/api/v1/organisations?kind=grassroots_group&kind=other&limit=5")
            .insert_header(("accept", "text/csv"));
        let response = app.send(request, None).await;
        assert_eq!(response.status, StatusCode::OK);
        assert!(response.header("content-type").unwrap().starts_with("text/csv"));
        let mut reader = csv::Reader::from_reader(response.body.as_slice());
        let headers = reader.headers().unwrap().clone();
        assert_eq!(&headers[0], "id");
        assert_eq!(&headers[1], "name");
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 521, "every match, across several internal pages, ignoring limit");
        let first = &rows[0];
        assert_eq!(&first[1], "'=HYPERLINK(\"http://evil\")", "formulas are defused");
        let regions = headers.iter().position(|h| h == "regions").unwrap();
        assert_eq!(&first[regions], "london;wales");
        let leadership = headers.iter().position(|h| h == "leadership_communities").unwrap();
        assert_eq!(&first[leadership], "DEI010110;EXT020000");
    }
);

db_test!(
    async fn lists_answer_406_for_representations_they_do_not_have(app) {
        let request = app
            .request(Method::GET, "/api/v1/organisations")
            .insert_header(("accept", "application/xml"));
        app.send(request, None).await.problem(406);
        let request = app
            .request(Method::GET, "/api/v1/organisations")
            .insert_header(("accept", "text/csv;q=0.5, application/json"));
        let response = app.send(request, None).await;
        assert_eq!(response.header("content-type").unwrap(), "application/json");
    }
);

/// PostgreSQL plans a prepared statement for its first five runs, then keeps a generic plan
/// unless that looks dearer than planning afresh, as it did for one id bound as an array
/// (`= ANY($1)`) and for a bound `LIMIT`: such statements were planned again at every run,
/// as much of the database's time as running them. A record's read and a list page, run
/// eight times on one connection, must each be on a cached plan by then.
#[actix_web::test]
async fn a_record_and_a_list_page_are_read_with_cached_plans() {
    use convene::db::DbConn;
    use convene::domain::organisations::{self as store, OrganisationFilter, OrganisationSort};
    use diesel::RunQueryDsl;
    use diesel::sql_types::{BigInt, Text};

    #[derive(diesel::QueryableByName, Debug)]
    struct Prepared {
        #[diesel(sql_type = Text)]
        statement: String,
        #[diesel(sql_type = BigInt)]
        generic_plans: i64,
        #[diesel(sql_type = BigInt)]
        custom_plans: i64,
    }

    let Some(app) = TestApp::spawn_if_configured(Backend::Postgres).await else {
        return;
    };
    let mut ids = Vec::new();
    for name in ["Northside Peer Voices", "Southside Trust", "Eastside Youth"] {
        ids.push(
            app.create_organisation(&organisation(name)).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let filter = OrganisationFilter {
        kinds: vec!["grassroots_group".into()],
        regions: vec!["north_west".into()],
        ..Default::default()
    };
    let mut pooled = app.state.db.connection().unwrap();
    let conn: &mut DbConn = &mut pooled;
    for round in 0..8 {
        let record = store::find(conn, &ids[round % ids.len()]).unwrap();
        assert_eq!(record.id, ids[round % ids.len()]);
        let page = store::list(conn, &filter, OrganisationSort::Name, None, 50).unwrap();
        assert_eq!(page.entries.len(), 3);
    }
    let DbConn::Postgres(pg) = conn else {
        unreachable!("a PostgreSQL test")
    };
    let prepared: Vec<Prepared> = diesel::sql_query(
        "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements",
    )
    .load(pg)
    .unwrap();
    let reads: Vec<&Prepared> = prepared
        .iter()
        .filter(|p| {
            p.statement.contains(r#"FROM "organisations""#) || p.statement.contains("UNION ALL")
        })
        .collect();
    // The record's row, its sets, the page and the page's sets.
    assert_eq!(reads.len(), 4, "{prepared:#?}");
    for read in reads {
        assert!(
            read.custom_plans <= 5 && read.generic_plans >= 3,
            "planned at every run: {read:#?}"
        );
    }
}
