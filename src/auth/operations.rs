//! The documented operations as a table of (method, path template, operation id), built from
//! an OpenAPI document. The guard uses it to find a request's operation before routing; the
//! fallback uses it to tell 405 (known path, other method) from 404.

use actix_web::http::Method;
use utoipa::openapi::OpenApi;

pub struct Operation {
    pub method: Method,
    pub operation_id: String,
    template: PathTemplate,
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
                        template: PathTemplate::new(path),
                        parameters: path.matches('{').count(),
                    });
                }
            }
        }
        Self(operations)
    }

    /// The operations of the most specific documented path matching `path`.
    fn at(&self, path: &str) -> Vec<&Operation> {
        let segments: Vec<&str> = path.split('/').collect();
        let matching: Vec<&Operation> = self
            .0
            .iter()
            .filter(|operation| operation.template.matches(&segments))
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

/// A documented path such as `/api/v1/organisations/{id}`, matched segment by segment: a
/// literal segment must be equal, a parameter takes any one non-empty segment. This is what
/// actix's `ResourceDef` does with these templates (a parameter is `[^/]+`), without a regex:
/// every request is matched against every operation, and the regexes were 9% of the
/// service's time on a single read. The path is split once, and a template compares its
/// segment count, then its segments from the last (where paths differ) to the first.
pub struct PathTemplate(Vec<Segment>);

enum Segment {
    Literal(String),
    Parameter,
}

impl PathTemplate {
    pub fn new(template: &str) -> Self {
        Self(
            template
                .split('/')
                .map(
                    |segment| match segment.starts_with('{') && segment.ends_with('}') {
                        true => Segment::Parameter,
                        false => Segment::Literal(segment.to_owned()),
                    },
                )
                .collect(),
        )
    }

    /// Whether the path split at its slashes, `segments`, fits the template.
    pub fn matches(&self, segments: &[&str]) -> bool {
        self.0.len() == segments.len()
            && self
                .0
                .iter()
                .zip(segments)
                .rev()
                .all(|(segment, part)| match segment {
                    Segment::Literal(literal) => literal == part,
                    Segment::Parameter => !part.is_empty(),
                })
    }
}
