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
                });
            }
        }
    }
    operations
});

/// The documented operation `method path` would reach, if any.
pub fn find(method: &Method, path: &str) -> Option<&'static Operation> {
    OPERATIONS
        .iter()
        .find(|operation| operation.method == method && operation.resource.is_match(path))
}

/// The methods documented at `path`; empty when no documented path matches.
pub fn methods_at(path: &str) -> Vec<String> {
    OPERATIONS
        .iter()
        .filter(|operation| operation.resource.is_match(path))
        .map(|operation| operation.method.to_string())
        .collect()
}
