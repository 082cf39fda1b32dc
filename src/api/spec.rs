//! What every operation of the OpenAPI document shares, written into it once after the
//! derive macros: the standard error responses, the body types `PATCH` takes, servers, and
//! the field patterns in place of their names.

use std::collections::BTreeMap;
use utoipa::openapi::header::Header;
use utoipa::openapi::path::{Operation, ParameterIn};

use utoipa::openapi::schema::{
    AdditionalProperties, ArrayItems, Object, OneOfBuilder, Schema, Type,
};
use utoipa::openapi::server::Server;
use utoipa::openapi::{OpenApi, Ref, RefOr};

use crate::api::body::{JSON_TYPES, MERGE_PATCH};
use crate::api::validation;

/// Where the operations live, relative to wherever the document was fetched from.
const SERVER: &str = "/";

/// Adds to every operation the failures that follow from its shape alone, so that a handler
/// documents only the answers that are its own:
///
/// - 400 where a request carries input (a parameter or a body), and 503 on every operation
///   under `/api/v1` (each reads the database; the health checks document their own);
/// - 413, 415 and 422 where it takes a body, 412 where it takes `If-Match`;
/// - 406 where a success is offered in more than one media type.
///
/// And the `Link` header of every list that pages.
///
/// Also: `PATCH` bodies may be sent as `application/json` as well as merge patch (both are
/// read alike), operations open to anyone say so with `security: []`, the document names
/// its server, and every pattern named after a `validation` constant becomes that regex.
pub fn document(openapi: &mut OpenApi) {
    if let Some(components) = openapi.components.as_mut() {
        components.schemas.values_mut().for_each(patterns_in);
        import_report_in_problems(&mut components.schemas);
    }
    openapi.servers = Some(vec![{
        let mut server = Server::new(SERVER);
        server.description = Some("The server this document was fetched from".to_owned());
        server
    }]);
    for (path, item) in openapi.paths.paths.iter_mut() {
        let in_api = path.starts_with("/api/v1/");
        for (operation, is_patch) in [
            (&mut item.get, false),
            (&mut item.post, false),
            (&mut item.put, false),
            (&mut item.patch, true),
            (&mut item.delete, false),
        ] {
            let Some(operation) = operation else { continue };
            if is_patch {
                accept_plain_json(operation);
            }
            standard_responses(operation, in_api);
            next_page_link(operation);
            operation_patterns(operation);
            // `rules::document` wrote the requirements of every operation that has one.
            operation.security.get_or_insert_with(Vec::new);
        }
    }
}

fn standard_responses(operation: &mut Operation, in_api: bool) {
    let has_body = operation.request_body.is_some();
    let parameters: Vec<_> = operation
        .parameters
        .iter()
        .flatten()
        .filter_map(|parameter| match parameter {
            RefOr::T(parameter) => Some((parameter.parameter_in.clone(), parameter.name.as_str())),
            RefOr::Ref(_) => None,
        })
        .collect();
    let takes_if_match = parameters
        .iter()
        .any(|(place, name)| *place == ParameterIn::Header && *name == "If-Match");
    let offers_several_types = operation
        .responses
        .responses
        .iter()
        .filter(|(status, _)| status.starts_with('2'))
        .any(|(_, response)| match response {
            RefOr::T(response) => response.content.len() > 1,
            RefOr::Ref(_) => false,
        });
    let standard = [
        ("400", "BadRequest", has_body || !parameters.is_empty()),
        ("406", "NotAcceptable", offers_several_types),
        ("412", "PreconditionFailed", takes_if_match),
        ("413", "PayloadTooLarge", has_body),
        ("415", "UnsupportedMediaType", has_body),
        ("422", "ValidationFailed", has_body),
        ("503", "Unavailable", in_api),
    ];
    for (status, response, applies) in standard {
        if applies {
            operation
                .responses
                .responses
                .entry(status.to_owned())
                .or_insert_with(|| RefOr::Ref(Ref::from_response_name(response)));
        }
    }
}

/// Every list that pages (it takes `cursor`) answers with `Link: <…>; rel="next"` while there
/// is a next page (`list::page_response`).
fn next_page_link(operation: &mut Operation) {
    let pages = operation.parameters.iter().flatten().any(|parameter| {
        matches!(parameter, RefOr::T(parameter)
            if parameter.parameter_in == ParameterIn::Query && parameter.name == "cursor")
    });
    let Some(RefOr::T(ok)) = operation.responses.responses.get_mut("200") else {
        return;
    };
    if pages {
        let mut link = Header::new(Object::with_type(Type::String));
        link.description = Some("`<…>; rel=\"next\"` when there is a next page".to_owned());
        ok.headers
            .entry("Link".to_owned())
            .or_insert(RefOr::T(link));
    }
}

/// A problem's `report` is a rejected import's `ImportReport` (or absent): `error.rs`, below
/// the API, cannot name that type itself.
fn import_report_in_problems(schemas: &mut BTreeMap<String, RefOr<Schema>>) {
    let Some(RefOr::T(Schema::Object(problem))) = schemas.get_mut("Problem") else {
        return;
    };
    let Some(RefOr::T(Schema::Object(report))) = problem.properties.get_mut("report") else {
        return;
    };
    let description = report.description.clone().unwrap_or_default();
    let mut import_report = Ref::from_schema_name("ImportReport");
    import_report.description = description;
    let typed = OneOfBuilder::new()
        .item(import_report)
        .item(Object::with_type(Type::Null))
        .build();
    problem
        .properties
        .insert("report".to_owned(), RefOr::T(Schema::OneOf(typed)));
}

/// Documents `application/json` beside `application/merge-patch+json`: the server reads both
/// (see `body::JSON_TYPES`), and generated clients send plain JSON unless told otherwise.
fn accept_plain_json(operation: &mut Operation) {
    let Some(RefOr::T(body)) = operation.request_body.as_mut() else {
        return;
    };
    let Some(merge_patch) = body.content.get(MERGE_PATCH).cloned() else {
        return;
    };
    for media_type in JSON_TYPES {
        body.content
            .entry((*media_type).to_owned())
            .or_insert_with(|| merge_patch.clone());
    }
}

/// The patterns of an operation's own parameters and inline schemas.
fn operation_patterns(operation: &mut Operation) {
    for parameter in operation.parameters.iter_mut().flatten() {
        if let RefOr::T(parameter) = parameter
            && let Some(schema) = parameter.schema.as_mut()
        {
            patterns_in(schema);
        }
    }
    if let Some(RefOr::T(body)) = operation.request_body.as_mut() {
        for content in body.content.values_mut() {
            if let RefOr::T(content) = content
                && let Some(schema) = content.schema.as_mut()
            {
                patterns_in(schema);
            }
        }
    }
}

/// Replaces each pattern that names a `validation` constant by its regex, all the way down.
fn patterns_in(schema: &mut RefOr<Schema>) {
    let RefOr::T(schema) = schema else { return };
    match schema {
        Schema::Object(object) => {
            if let Some(pattern) = object.pattern.as_mut()
                && let Some(regex) = validation::pattern(pattern)
            {
                *pattern = regex.to_owned();
            }
            object.properties.values_mut().for_each(patterns_in);
            if let Some(AdditionalProperties::RefOr(values)) =
                object.additional_properties.as_deref_mut()
            {
                patterns_in(values);
            }
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                patterns_in(items);
            }
        }
        Schema::OneOf(one_of) => one_of.items.iter_mut().for_each(patterns_in),
        Schema::AllOf(all_of) => all_of.items.iter_mut().for_each(patterns_in),
        Schema::AnyOf(any_of) => any_of.items.iter_mut().for_each(patterns_in),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// Every pattern in the document is a regex the server could apply: none is left as the
    /// name of one (a name `validation::PATTERNS` lacks, or a schema the walk missed).
    #[test]
    fn every_pattern_is_written_out() {
        fn walk(value: &Value, at: &str, found: &mut usize) {
            match value {
                Value::Object(map) => {
                    for (key, inner) in map {
                        if key == "pattern"
                            && let Some(pattern) = inner.as_str()
                        {
                            *found += 1;
                            assert!(
                                !pattern.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
                                "{at}: the pattern {pattern} is a name, not a regex"
                            );
                            assert!(regex::Regex::new(pattern).is_ok(), "{at}: {pattern}");
                        }
                        walk(inner, &format!("{at}/{key}"), found);
                    }
                }
                Value::Array(items) => items.iter().for_each(|item| walk(item, at, found)),
                _ => {}
            }
        }
        let document = serde_json::to_value(crate::api::routes::openapi()).unwrap();
        let mut found = 0;
        walk(&document, "", &mut found);
        assert!(found > 80, "{found} patterns");
    }
}
