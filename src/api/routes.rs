//! The documented operations as a table of (method, path template, operation id), built from
//! the OpenAPI document. The guard uses it to find a request's operation before routing; the
//! fallback uses it to tell 405 (known path, other method) from 404.

use std::sync::LazyLock;

use actix_web::dev::ResourceDef;
use actix_web::http::Method;

pub struct Operation {
    pub method: Method,
    pub operation_id: String,
    resource: ResourceDef,
    /// Path parameters in the template: a literal segment wins over a parameter
    /// (`/reports/snapshots/compare` over `/reports/snapshots/{id}`), as in actix's routing.
    parameters: usize,
}

static OPERATIONS: LazyLock<Vec<Operation>> = LazyLock::new(|| {
    let document = crate::app::openapi();
    let mut operations = Vec::new();
    for (path, item) in &document.paths.paths {
        for (method, operation) in [
            (Method::GET, &item.get),
            (Method::POST, &item.post),
            (Method::PUT, &item.put),
            (Method::PATCH, &item.patch),
            (Method::DELETE, &item.delete),
        ] {
            if let Some(operation) = operation {
                operations.push(Operation {
                    method,
                    operation_id: operation.operation_id.clone().unwrap_or_default(),
                    // The same matcher actix routes with, so both agree on every path.
                    resource: ResourceDef::new(path.as_str()),
                    parameters: path.matches('{').count(),
                });
            }
        }
    }
    operations
});

/// The operations of the most specific documented path matching `path`.
fn at(path: &str) -> impl Iterator<Item = &'static Operation> {
    let matching = || {
        OPERATIONS
            .iter()
            .filter(move |operation| operation.resource.is_match(path))
    };
    let fewest = matching().map(|operation| operation.parameters).min();
    matching().filter(move |operation| Some(operation.parameters) == fewest)
}

/// The documented operation `method path` would reach, if any.
pub fn find(method: &Method, path: &str) -> Option<&'static Operation> {
    at(path).find(|operation| operation.method == method)
}

/// The methods documented at `path`; empty when no documented path matches.
pub fn methods_at(path: &str) -> Vec<String> {
    at(path)
        .map(|operation| operation.method.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_literal_segment_wins_over_a_path_parameter() {
        assert_eq!(methods_at("/api/v1/reports/snapshots/compare"), ["GET"]);
        let id = "/api/v1/reports/snapshots/0192f0c4-0000-7000-8000-000000000000";
        assert_eq!(methods_at(id), ["GET", "DELETE"]);
        let found = find(&Method::GET, "/api/v1/reports/snapshots/compare").unwrap();
        assert_eq!(found.operation_id, "compare_report_snapshots");
    }
}
