//! The documented operations as a table of (method, path template, operation id), built from
//! an OpenAPI document. The guard uses it to find a request's operation before routing; the
//! fallback uses it to tell 405 (known path, other method) from 404.

use actix_web::dev::ResourceDef;
use actix_web::http::Method;
use utoipa::openapi::OpenApi;

pub struct Operation {
    pub method: Method,
    pub operation_id: String,
    resource: ResourceDef,
    /// Path parameters in the template: a literal segment wins over a parameter
    /// (`/reports/snapshots/compare` over `/reports/snapshots/{id}`), as in actix's routing.
    parameters: usize,
}

/// Every operation of one OpenAPI document. The guard is given it (as app data) by whoever
/// builds the document, so it needs nothing from the layers that register the routes.
pub struct Operations(Vec<Operation>);

impl Operations {
    pub fn new(document: &OpenApi) -> Self {
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
        Self(operations)
    }

    /// The operations of the most specific documented path matching `path`.
    fn at(&self, path: &str) -> Vec<&Operation> {
        let matching: Vec<&Operation> = self
            .0
            .iter()
            .filter(|operation| operation.resource.is_match(path))
            .collect();
        let fewest = matching.iter().map(|operation| operation.parameters).min();
        matching
            .into_iter()
            .filter(|operation| Some(operation.parameters) == fewest)
            .collect()
    }

    /// The documented operation `method path` would reach, if any.
    pub fn find(&self, method: &Method, path: &str) -> Option<&Operation> {
        self.at(path)
            .into_iter()
            .find(|operation| operation.method == method)
    }

    /// The methods documented at `path`; empty when no documented path matches.
    pub fn methods_at(&self, path: &str) -> Vec<String> {
        self.at(path)
            .into_iter()
            .map(|operation| operation.method.to_string())
            .collect()
    }
}
