//! The HTTP layer: one file per resource (DTOs, handlers, `#[utoipa::path]`), plus the
//! conventions they share (bodies, lists, conditional requests, audited single-record
//! operations in `resource`, error responses).

pub mod access_log;
pub mod api_keys;
pub mod audit;
pub mod audited;
pub mod auth;
pub mod benchmarks;
pub mod body;
pub mod changes;
pub mod charts;
pub mod conditional;
pub mod consultations;
pub mod contacts;

pub mod csv;
pub mod duplicates;
pub mod expert_groups;
pub mod health;
pub mod idempotency;
pub mod imports;
pub mod limits;
pub mod list;
pub mod membership;
pub mod merge;
pub mod organisations;
pub mod paging;
pub mod profile;
pub mod reports;
pub mod request_id;
pub mod resource;
pub mod responses;
pub mod routes;
pub mod schemas;
pub mod spec;
pub mod taxonomies;
pub mod users;
pub mod validation;
pub mod webhooks;

use utoipa::OpenApi;

use crate::domain::FieldError;
use crate::error::ApiError;

/// An id from the path: a UUID, compared in its canonical lower-case form.
pub fn path_id(raw: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(raw)
        .map(|id| id.to_string())
        .map_err(|_| ApiError::BadRequest {
            detail: "id: must be a UUID".to_owned(),
            errors: vec![FieldError::new("id", "invalid", "must be a UUID")],
        })
}

/// The parts of the OpenAPI document that are not operations; the operations are collected
/// from the same `.service()` calls that register the routes (see `routes::register`).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Convene",
        description = "Membership CRM for alliances whose members are organisations. Every error is an RFC 9457 problem (`application/problem+json`).",
        license(name = "MIT", identifier = "MIT"),
    ),
    tags(
        (name = "auth", description = "Signing in and out, and your own account"),
        (name = "users", description = "Staff accounts (admins only)"),
        (name = "api-keys", description = "Read-only keys for integrations (admins only)"),
        (name = "organisations", description = "Member, prospect and former member organisations"),
        (name = "membership", description = "Applications, periods, renewals, withdrawals and reinstatements"),
        (name = "contacts", description = "People, their affiliations to organisations, and their consent per purpose"),
        (name = "expert-groups", description = "Issue-specific groups the alliance convenes, and their members over time"),
        (name = "consultations", description = "Consultations, calls for evidence and events: invitations, responses and participation"),
        (name = "imports", description = "Organisations and contacts from a spreadsheet (CSV), all or nothing"),
        (name = "webhooks", description = "Signed deliveries of the change feed's events to integrations (admins only)"),
        (name = "changes", description = "The change feed: every committed change in commit order, for integrations to follow"),
        (name = "audit", description = "The audit trail: every change, who made it and when (each record's history is listed with its resource)"),
        (name = "reports", description = "Diversity-gap reporting: composition, gaps against benchmarks and targets, expertise coverage"),
        (name = "taxonomies", description = "Community codes and expertise areas organisations are coded against"),
        (name = "health", description = "Liveness and readiness"),
    ),
    components(
        schemas(crate::error::Problem),
        responses(
            responses::BadRequest,
            responses::NotFound,
            responses::Unauthorized,
            responses::Forbidden,
            responses::TooManyRequests,
            responses::NotAcceptable,
            responses::Conflict,
            responses::PreconditionFailed,
            responses::PayloadTooLarge,
            responses::UnsupportedMediaType,
            responses::ValidationFailed,
            responses::Unavailable,
            responses::Gone,
        )
    )
)]
pub struct ApiDoc;

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::validation as rules;

    /// The patterns clients read in the OpenAPI document are the ones the server applies.
    #[test]
    fn documented_patterns_are_the_enforced_ones() {
        let document = serde_json::to_value(super::routes::openapi()).unwrap();
        let organisation = [
            ("name", rules::SINGLE_LINE),
            ("charity_number", rules::CHARITY_NUMBER),
            ("company_number", rules::COMPANY_NUMBER),
            ("website", rules::WEBSITE),
            ("phone", rules::PHONE),
            ("postcode", rules::POSTCODE),
            ("description", rules::MULTI_LINE),
        ];
        let name_only = [("name", rules::SINGLE_LINE)];
        let contact = [
            ("given_name", rules::SINGLE_LINE),
            ("family_name", rules::SINGLE_LINE),
            ("phone", rules::PHONE),
            ("job_title", rules::SINGLE_LINE),
            ("pronouns", rules::SINGLE_LINE),
        ];
        let schemas: [(&str, &[(&str, &str)]); 7] = [
            ("CreateOrganisationRequest", &organisation),
            ("UpdateOrganisationRequest", &organisation),
            ("CreateUserRequest", &name_only),
            ("UpdateUserRequest", &name_only),
            ("CreateApiKeyRequest", &name_only),
            ("CreateContactRequest", &contact),
            ("UpdateContactRequest", &contact),
        ];
        for (schema, expected) in schemas {
            let properties = &document["components"]["schemas"][schema]["properties"];
            for (field, pattern) in expected {
                let property = &properties[field];
                let documented = property["pattern"]
                    .as_str()
                    .or_else(|| {
                        property["oneOf"]
                            .as_array()?
                            .iter()
                            .find_map(|s: &Value| s["pattern"].as_str())
                    })
                    .unwrap_or_else(|| panic!("{schema}.{field} documents a pattern"));
                assert_eq!(documented, *pattern, "{schema}.{field}");
            }
        }
    }
}
