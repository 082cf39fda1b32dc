//! The one place operations are registered and the OpenAPI document is built: `register` adds
//! every resource's handlers (routes and documented paths from the same calls), `openapi` adds
//! what is written in after (access rules, idempotency), `operations` is the guard's table.

use std::sync::LazyLock;

use actix_web::App;
use actix_web::dev::{ServiceFactory, ServiceRequest};
use actix_web::web::Data;
use utoipa::OpenApi;
use utoipa::openapi::OpenApi as OpenApiDocument;
use utoipa_actix_web::{AppExt, UtoipaApp, scope};

use super::ApiDoc;
use crate::auth::operations::Operations;
use crate::auth::rules;

/// Registers every operation: the routes and the OpenAPI paths come from these calls alone.
pub fn register<T>(app: UtoipaApp<T>) -> UtoipaApp<T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    app.service(
        scope::scope("/api/v1")
            .configure(super::auth::configure)
            .configure(super::users::configure)
            .configure(super::api_keys::configure)
            // Before organisations: `/organisations/duplicates` is not an organisation's id.
            .configure(super::duplicates::configure)
            .configure(super::organisations::configure)
            .configure(super::merge::configure)
            .configure(super::membership::configure)
            .configure(super::taxonomies::configure)
            .configure(super::contacts::configure)
            .configure(super::expert_groups::configure)
            .configure(super::consultations::configure)
            .configure(super::reports::configure)
            .configure(super::benchmarks::configure)
            .configure(super::changes::configure)
            .configure(super::webhooks::configure)
            .configure(super::audit::configure)
            .configure(super::imports::configure),
    )
    .configure(super::health::configure)
}

/// The OpenAPI document of this build, with every operation's access rule written in.
pub fn openapi() -> OpenApiDocument {
    let mut document = register(App::new().into_utoipa_app().openapi(ApiDoc::openapi()))
        .split_for_parts()
        .1;
    rules::document(&mut document);
    // Before idempotency keys, whose 409 and 422 are added only where missing.
    super::spec::document(&mut document);
    super::idempotency::document(&mut document);
    document
}

static OPERATIONS: LazyLock<Data<Operations>> =
    LazyLock::new(|| Data::new(Operations::new(&openapi())));

/// The documented operations, for the guard (as app data) and the 404/405 fallback.
pub fn operations() -> Data<Operations> {
    OPERATIONS.clone()
}

#[cfg(test)]
mod tests {
    use actix_web::dev::ResourceDef;
    use actix_web::http::Method;

    use super::*;
    use crate::auth::operations::PathTemplate;

    #[test]
    fn a_literal_segment_wins_over_a_path_parameter() {
        let operations = operations();
        assert_eq!(
            operations.methods_at("/api/v1/reports/snapshots/compare"),
            ["GET"]
        );
        let id = "/api/v1/reports/snapshots/0192f0c4-0000-7000-8000-000000000000";
        assert_eq!(operations.methods_at(id), ["GET", "DELETE"]);
        let found = operations
            .find(&Method::GET, "/api/v1/reports/snapshots/compare")
            .unwrap();
        assert_eq!(found.operation_id, "compare_report_snapshots");
    }

    /// Every documented template, against paths that fit it, nearly fit it and do not: the
    /// answer is always actix's own (`ResourceDef`), so the guard and the router agree.
    #[test]
    fn templates_match_exactly_the_paths_actix_routes_to_them() {
        let document = openapi();
        let templates: Vec<&String> = document.paths.paths.keys().collect();
        let filled = |template: &str, value: &str| {
            let segments = template
                .split('/')
                .map(|segment| match segment.starts_with('{') {
                    true => value.to_owned(),
                    false => segment.to_owned(),
                });
            segments.collect::<Vec<_>>().join("/")
        };
        let mut paths = vec![
            String::new(),
            "/".to_owned(),
            "/api/v1".to_owned(),
            "/api/v1/".to_owned(),
        ];
        for template in &templates {
            for value in [
                "0192f0c4-0000-7000-8000-000000000000",
                "x",
                "",
                "a/b",
                "%2F",
            ] {
                let path = filled(template, value);
                paths.extend([format!("{path}/"), format!("{path}/extra"), path.clone()]);
                paths.push(path.trim_end_matches(|c| c != '/').to_owned());
            }
        }
        let mut checked = 0;
        for template in &templates {
            let ours = PathTemplate::new(template);
            let actix = ResourceDef::new(template.as_str());
            for path in &paths {
                let segments: Vec<&str> = path.split('/').collect();
                assert_eq!(
                    ours.matches(&segments),
                    actix.is_match(path),
                    "{template} against {path:?}"
                );
                checked += usize::from(actix.is_match(path));
            }
        }
        assert!(
            checked >= templates.len(),
            "every template matched its own paths"
        );
    }
}
