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
    let document = super::routes::openapi();
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

/// Every fixed word of the API's paths (`api`, `v1`, `organisations`, `membership`…).
static PATH_WORDS: LazyLock<BTreeSet<String>> = LazyLock::new(|| {
    let document = super::routes::openapi();
    let mut words: BTreeSet<String> = document
        .paths
        .paths
        .keys()
        .flat_map(|path| path.split('/'))
        .filter(|word| !word.starts_with('{'))
        .map(str::to_owned)
        .collect();
    words.insert("docs".to_owned());
    words
});

/// The path with every segment that is not a fixed word of the API, an id or a taxonomy code
/// written `*`: a mistyped or misused path (`/contacts/ada@example.org`) may hold a person.
fn path_without_values(path: &str) -> String {
    let mut previous = "";
    let segments: Vec<&str> = path
        .split('/')
        .map(|segment| {
            let code = matches!(previous, "communities" | "expertise-areas")
                && segment.len() <= 64
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_');
            let kept = segment.is_empty()
                || PATH_WORDS.contains(segment)
                || uuid::Uuid::try_parse(segment).is_ok()
                || code;
            previous = segment;
            if kept { segment } else { UNKNOWN }
        })
        .collect();
    segments.join("/")
}

/// The access log middleware.
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
    let path = path_without_values(path);
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
        let line = request_line(
            "GET",
            "/api/v1/contacts/ada.lovelace@example.org/Lovelace",
            "",
            Version::HTTP_11,
        );
        assert_eq!(line, "GET /api/v1/contacts/*/* HTTP/1.1");
        let id = "01935c6e-7a40-7cc1-9a5e-3f1d2b8e4a10";
        assert_eq!(
            request_line(
                "GET",
                &format!("/api/v1/contacts/{id}/export"),
                "",
                Version::HTTP_11
            ),
            format!("GET /api/v1/contacts/{id}/export HTTP/1.1")
        );
        assert_eq!(
            request_line(
                "PATCH",
                "/api/v1/taxonomies/communities/EXT010100",
                "",
                Version::HTTP_11
            ),
            "PATCH /api/v1/taxonomies/communities/EXT010100 HTTP/1.1"
        );
        assert_eq!(
            request_line("POST", "/api/v1/organisations", "", Version::HTTP_2),
            "POST /api/v1/organisations HTTP/2.0"
        );
    }
}
