//! The HTTP layer: one file per resource (DTOs, handlers, `#[utoipa::path]`), plus the
//! conventions they share (bodies, lists, conditional requests, error responses).

pub mod body;
pub mod conditional;
pub mod health;
pub mod list;
pub mod organisations;
pub mod responses;
pub mod schemas;
pub mod validation;

use utoipa::OpenApi;

/// The parts of the OpenAPI document that are not operations; the operations are collected
/// from the same `.service()` calls that register the routes (see `app::build_app`).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Convene",
        description = "Membership CRM for alliances whose members are organisations. Every error is an RFC 9457 problem (`application/problem+json`).",
        license(name = "MIT", identifier = "MIT"),
    ),
    tags(
        (name = "organisations", description = "Member, prospect and former member organisations"),
        (name = "health", description = "Liveness and readiness"),
    ),
    components(
        schemas(crate::error::Problem),
        responses(
            responses::BadRequest,
            responses::NotFound,
            responses::NotAcceptable,
            responses::Conflict,
            responses::PreconditionFailed,
            responses::PayloadTooLarge,
            responses::UnsupportedMediaType,
            responses::ValidationFailed,
            responses::Unavailable,
        )
    )
)]
pub struct ApiDoc;
