//! What the OpenAPI document promises, held against the server: the query parameters it
//! lists are exactly the ones each operation accepts (walked from the document itself, so a
//! parameter documented but not read, read but not documented, or optional but marked
//! required shows up here), and the body types it lists are read.

use actix_web::http::Method;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::organisation;

/// Parameters that are documented as required because they are: without both, a comparison
/// of snapshots answers 400.
const REQUIRED: &[(&str, &str)] = &[
    ("/api/v1/reports/snapshots/compare", "from"),
    ("/api/v1/reports/snapshots/compare", "to"),
];

/// A value the parameter's schema allows (the first of a set's values, a sample of a
/// pattern); panics on a schema it does not know, so a new kind of parameter gets a sample.
fn sample(document: &Value, name: &str, schema: &Value) -> String {
    let resolve = |schema: &Value| -> Value {
        match schema["$ref"].as_str() {
            Some(reference) => {
                let name = reference.trim_start_matches("#/components/schemas/");
                document["components"]["schemas"][name].clone()
            }
            None => schema.clone(),
        }
    };
    let schema = resolve(schema);
    let schema = match schema["type"].as_str() {
        Some("array") => resolve(&schema["items"]),
        _ => schema,
    };
    let schema = &schema;
    if let Some(first) = schema["enum"].as_array().and_then(|values| values.first()) {
        return first.as_str().expect("text enums").to_owned();
    }
    let kind = schema["type"]
        .as_str()
        .or_else(|| {
            // `Option<T>` in a query comes out as `type: [T, "null"]`.
            schema["type"]
                .as_array()?
                .iter()
                .find_map(|t| t.as_str().filter(|t| *t != "null"))
        })
        .unwrap_or_else(|| panic!("{name}: a schema with a type: {schema}"));
    match (kind, schema["format"].as_str(), schema["pattern"].as_str()) {
        ("boolean", _, _) => "true".to_owned(),
        ("integer", _, _) => schema["minimum"].as_i64().unwrap_or(1).to_string(),
        ("string", Some("date"), _) => "2026-03-31".to_owned(),
        ("string", Some("date-time"), _) => "2026-03-31T10:15:00Z".to_owned(),
        ("string", Some("uuid"), _) => uuid::Uuid::now_v7().to_string(),
        ("string", _, Some(r"^[A-Za-z0-9_-]+$")) if name == "cursor" => {
            convene::api::list::Cursor::after("id", "", uuid::Uuid::now_v7().to_string())
        }
        ("string", _, Some(r"^[A-Z]{3}[0-9]{6}$")) => "DEI010110".to_owned(),
        // A change feed position: the feed's start.
        ("string", _, Some(r"^[0-9]{1,18}(\.[0-9]{1,18})?$")) => "0".to_owned(),
        ("string", _, Some(r"^[a-z][a-z0-9_]{1,62}$")) => "racial_justice".to_owned(),
        ("string", _, Some(r"^[^\u0000-\u001f\u007f-\u009f]*$")) | ("string", None, None) => {
            "north".to_owned()
        }
        _ => panic!("{name}: no sample for {schema}"),
    }
}

/// The `errors` of a 400 that name `parameter`.
fn errors_naming(body: &Value, parameter: &str) -> Vec<Value> {
    body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|error| error["field"] == parameter)
        .cloned()
        .collect()
}

/// Every GET operation with query parameters: its path (ids filled in) and parameters.
fn list_operations(document: &Value) -> Vec<(String, String, Vec<Value>)> {
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        let Some(get) = item.get("get") else { continue };
        let query: Vec<Value> = get["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "query")
            .cloned()
            .collect();
        if query.is_empty() {
            continue;
        }
        // Unknown ids: the query is read (and refused) before the record is looked up.
        let concrete = path
            .split('/')
            .map(|segment| match segment.starts_with('{') {
                true => uuid::Uuid::now_v7().to_string(),
                false => segment.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("/");
        operations.push((path.clone(), concrete, query));
    }
    assert!(operations.len() > 20, "found the lists: {operations:?}");
    operations
}

db_test!(
    async fn every_documented_query_parameter_is_accepted_and_no_other(app) {
        let document = serde_json::to_value(convene::api::routes::openapi()).unwrap();
        for (path, concrete, parameters) in list_operations(&document) {
            let required: Vec<String> = parameters
                .iter()
                .filter(|p| p["required"] == true)
                .map(|p| {
                    let name = p["name"].as_str().unwrap();
                    assert!(
                        REQUIRED.contains(&(path.as_str(), name)),
                        "{path}: {name} is optional but documented as required"
                    );
                    format!("{name}={}", sample(&document, name, &p["schema"]))
                })
                .collect();
            for parameter in &parameters {
                let name = parameter["name"].as_str().unwrap();
                let value = sample(&document, name, &parameter["schema"]);
                let mut query = required.clone();
                if parameter["required"] != true {
                    query.push(format!("{name}={}", urlencoding(&value)));
                }
                let response = app.get(&format!("{concrete}?{}", query.join("&"))).await;
                if response.status.as_u16() == 400 {
                    let body = response.json();
                    let errors = errors_naming(&body, name);
                    // A cursor made for paging by id is refused by a list sorted otherwise:
                    // refused as a cursor, not as an unknown parameter.
                    let another_sort = name == "cursor"
                        && errors.iter().all(|e| {
                            e["code"] == "invalid"
                                && e["message"].as_str().is_some_and(|m| m.contains("sort="))
                        });
                    assert!(
                        errors.is_empty() || another_sort,
                        "{path}: {name}={value} is documented but refused: {body}"
                    );
                }
            }
            let mut query = required.clone();
            query.push("undocumented_parameter=1".to_owned());
            let response = app.get(&format!("{concrete}?{}", query.join("&"))).await;
            let body = response.problem(400);
            let errors = errors_naming(&body, "undocumented_parameter");
            assert!(
                errors.iter().any(|e| e["code"] == "unknown_parameter"),
                "{path}: an undocumented parameter is refused: {body}"
            );
        }
    }
);

/// Percent-encodes what a sample may hold that a query string may not (`+` and `:`).
fn urlencoding(value: &str) -> String {
    value
        .replace('%', "%25")
        .replace('+', "%2B")
        .replace(':', "%3A")
}

db_test!(
    async fn a_patch_is_read_as_plain_json_too(app) {
        let document = serde_json::to_value(convene::api::routes::openapi()).unwrap();
        for (path, item) in document["paths"].as_object().unwrap() {
            if let Some(patch) = item.get("patch") {
                let content = &patch["requestBody"]["content"];
                assert!(
                    content.get("application/json").is_some()
                        && content.get("application/merge-patch+json").is_some(),
                    "PATCH {path} documents both body types: {content}"
                );
            }
        }

        let created = app.create_organisation(&organisation("Plain Json Trust")).await;
        let id = created["id"].as_str().unwrap();
        let read = app.get(&format!("/api/v1/organisations/{id}")).await;
        let etag = read.header("etag").unwrap();
        let request = app
            .request(Method::PATCH, &format!("/api/v1/organisations/{id}"))
            .insert_header(("content-type", "application/json"))
            .insert_header(("if-match", etag.as_str()));
        let body = json!({"name": "Plain Json Trust Renamed"}).to_string();
        let patched = app.send(request, Some(body.into_bytes())).await;
        assert_eq!(patched.status.as_u16(), 200, "{}", patched.text());
        assert_eq!(patched.json()["name"], "Plain Json Trust Renamed");
    }
);
