//! The access log's request line: method, path and the names of the query parameters, never
//! their values. A search (`q=<a name or email>`) must not outlive the erasure of its person.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use actix_web::dev::ServiceRequest;
use actix_web::middleware::Logger;

/// What a parameter the API does not document is written as: its name came from the client
/// and may itself be personal data.
const UNKNOWN: &str = "*";

/// Every query parameter name the OpenAPI document declares.
static DOCUMENTED: LazyLock<BTreeSet<String>> = LazyLock::new(|| {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::path::ParameterIn;
    let document = crate::app::openapi();
    let mut names = BTreeSet::new();
    for item in document.paths.paths.values() {
        let operations = [&item.get, &item.post, &item.put, &item.patch, &item.delete];
        let parameters = operations
            .into_iter()
            .flatten()
            .flat_map(|operation| operation.parameters.iter().flatten())
            .chain(item.parameters.iter().flatten());
        for parameter in parameters {
            if let RefOr::T(parameter) = parameter
                && matches!(parameter.parameter_in, ParameterIn::Query)
            {
                names.insert(parameter.name.clone());
            }
        }
    }
    names
});

/// The access log middleware. Paths hold only ids and fixed words, so they are kept whole.
pub fn logger() -> Logger {
    Logger::new("%a \"%{request}xi\" %s %b %Dms request_id=%{x-request-id}o")
        .custom_request_replace("request", |req: &ServiceRequest| {
            request_line(
                req.method().as_str(),
                req.path(),
                req.query_string(),
                req.version(),
            )
        })
}

/// `GET /api/v1/contacts?q&sort HTTP/1.1` for `GET /api/v1/contacts?q=Ada&sort=name`: each
/// parameter's name once, in the order sent, or `*` for a name the API does not document.
pub fn request_line(
    method: &str,
    path: &str,
    query: &str,
    version: actix_web::http::Version,
) -> String {
    let names = parameter_names(query);
    if names.is_empty() {
        format!("{method} {path} {version:?}")
    } else {
        format!("{method} {path}?{} {version:?}", names.join("&"))
    }
}

fn parameter_names(query: &str) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let raw = pair.split_once('=').map_or(pair, |(name, _)| name);
        let name = match DOCUMENTED.get(raw) {
            Some(name) => name.as_str(),
            None => UNKNOWN,
        };
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use actix_web::http::Version;

    use super::request_line;

    #[test]
    fn the_request_line_names_parameters_and_never_holds_their_values() {
        let line = request_line(
            "GET",
            "/api/v1/contacts",
            "q=Ada+Lovelace&email=ada%40example.org&q=ada@example.org&sort=name&limit=5",
            Version::HTTP_11,
        );
        assert_eq!(line, "GET /api/v1/contacts?q&*&sort&limit HTTP/1.1");
        assert!(!line.contains("Ada") && !line.contains("example.org"));
    }

    #[test]
    fn a_name_the_api_does_not_document_is_not_written() {
        let line = request_line(
            "GET",
            "/api/v1/organisations",
            "ada.lovelace@example.org&leadership=DEI010000",
            Version::HTTP_11,
        );
        assert_eq!(line, "GET /api/v1/organisations?*&leadership HTTP/1.1");
        assert_eq!(
            request_line("POST", "/api/v1/organisations", "", Version::HTTP_2),
            "POST /api/v1/organisations HTTP/2.0"
        );
    }
}
