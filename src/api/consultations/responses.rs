//! `/consultations/{id}/responses`: the responses a consultation received, who gave them
//! (hidden for an anonymous one from those who may not know), and attendance.

use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::TAG;
use crate::api::body::{JsonBody, nullable, present};
use crate::api::conditional::{created_tagged, tagged, tagged_unless_current, version_check};
use crate::api::csv::{self, defuse};
use crate::api::list::{Cursor, FromQuery, negotiate, query_params};
use crate::api::paging::{self, CsvForm, Keyset};
use crate::api::path_id;
use crate::api::schemas::timestamp;
use crate::api::validation as rules;
use crate::auth::Principal;
use crate::db::DbConn;
use crate::domain::audit::{self, Event, entity};
use crate::domain::consultations::store::{self, ResponseFilter};
use crate::domain::consultations::{Attribution, Response, ResponseFields};
use crate::domain::{DomainError, FieldError, now};
use crate::error::ApiError;
use crate::state::AppState;

/// A response to a consultation, as recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResponseRecord {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Uuid)]
    pub consultation_id: String,
    /// The responding organisation; null when anonymous and the caller may not know.
    #[schema(format = Uuid)]
    pub organisation_id: Option<String>,
    /// The person who responded (or wrote the organisation's response); null when
    /// anonymous and the caller may not know.
    #[schema(format = Uuid)]
    pub contact_id: Option<String>,
    pub summary: Option<String>,
    pub attribution: Attribution,
    pub attended: Option<bool>,
    #[schema(format = DateTime)]
    pub submitted_at: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl ResponseRecord {
    pub fn new(response: Response, sees_anonymous: bool) -> Self {
        let hidden = response.fields.attribution == Attribution::Anonymous && !sees_anonymous;
        Self {
            organisation_id: response.organisation_id.filter(|_| !hidden),
            contact_id: response.contact_id.filter(|_| !hidden),
            id: response.id,
            consultation_id: response.consultation_id,
            summary: response.fields.summary,
            attribution: response.fields.attribution,
            attended: response.fields.attended,
            submitted_at: timestamp(response.fields.submitted_at),
            created_at: timestamp(response.created_at),
            updated_at: timestamp(response.updated_at),
        }
    }
}

/// A response given or changed, as an event on its consultation (about its writer, when a
/// person wrote it).
fn response_event(action: &'static str, before: Option<&Response>, after: &Response) -> Event {
    let record = |r: &Response| ResponseRecord::new(r.clone(), true);
    Event::new(action, entity::CONSULTATION, &after.consultation_id)
        .changes(
            &audit::snapshot(&before.map(record)),
            &audit::snapshot(&record(after)),
        )
        .about_contact(after.contact_id.as_deref())
        .on_record(&after.id)
}

/// A response: from an organisation (`organisation_id`, optionally with the `contact_id` of
/// the person who wrote it) or from a person in their own right (`contact_id` alone).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateResponseRequest {
    #[serde(default)]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub organisation_id: Option<uuid::Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub contact_id: Option<uuid::Uuid>,
    #[serde(default)]
    #[validate(length(max = 20000), regex(path = *rules::MULTI_LINE_RE, message = "must not contain control characters other than line breaks and tabs"))]
    #[schema(max_length = 20000, pattern = "MULTI_LINE")]
    pub summary: Option<String>,
    /// `named` (the default) or `anonymous`: an anonymous respondent is never shown to
    /// viewers or API keys.
    #[serde(default)]
    pub attribution: Option<Attribution>,
    /// For events and roundtables.
    #[serde(default)]
    pub attended: Option<bool>,
    /// When it arrived; defaults to now.
    #[serde(default)]
    pub submitted_at: Option<DateTime<Utc>>,
}

/// Change a response (JSON Merge Patch).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateResponseRequest {
    #[serde(default, deserialize_with = "nullable")]
    #[validate(length(max = 20000), regex(path = *rules::MULTI_LINE_RE, message = "must not contain control characters other than line breaks and tabs"))]
    #[schema(value_type = Option<String>, max_length = 20000, pattern = "MULTI_LINE")]
    pub summary: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Attribution)]
    pub attribution: Option<Attribution>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<bool>)]
    pub attended: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = DateTime<Utc>)]
    pub submitted_at: Option<DateTime<Utc>>,
}

fn stored_time(at: DateTime<Utc>) -> chrono::NaiveDateTime {
    use chrono::{DurationRound, TimeDelta};
    let at = at.naive_utc();
    at.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(at)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResponseList {
    pub data: Vec<ResponseRecord>,
    pub next_cursor: Option<String>,
}

query_params! {
    /// Filters for a consultation's responses.
    pub struct ResponseListParams {
        #[param(value_type = Option<u32>, minimum = 1, maximum = 500, default = 50)]
        pub limit: usize = limit,
        #[param(value_type = Option<String>, pattern = "CURSOR")]
        pub cursor: Option<Cursor> = cursor,
        /// Only those who attended (`true`) or did not (`false`).
        pub attended: Option<bool> = boolean,
        #[param(inline)]
        pub attribution: Option<Attribution> = parsed,
    }
}

const RESPONSE_CSV_HEADER: &[&str] = &[
    "id",
    "organisation_id",
    "contact_id",
    "attribution",
    "attended",
    "submitted_at",
    "summary",
];

/// Record a response
///
/// Only while the consultation is open (409 otherwise). One response per respondent: the
/// organisation when given, otherwise the contact; a second is 409 (update the first).
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Consultation id")),
    request_body = CreateResponseRequest,
    responses(
        (status = 201, description = "Recorded", body = ResponseRecord,
         headers(("Location" = String, description = "The new response"), ("ETag" = String, description = "Its version"))),
        (status = 404, response = crate::api::responses::NotFound),
        (status = 409, response = crate::api::responses::Conflict),
    )
)]
#[post("/consultations/{id}/responses")]
pub async fn create_response(
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: JsonBody<CreateResponseRequest>,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    let request = body.0;
    if request.organisation_id.is_none() && request.contact_id.is_none() {
        return Err(ApiError::Validation {
            errors: vec![FieldError::new(
                "organisation_id",
                "one_of",
                "give organisation_id, contact_id or both",
            )],
        });
    }
    let organisation_id = request.organisation_id.map(|id| id.to_string());
    let contact_id = request.contact_id.map(|id| id.to_string());
    let fields = ResponseFields {
        summary: request.summary,
        attribution: request.attribution.unwrap_or(Attribution::Named),
        attended: request.attended,
        submitted_at: request.submitted_at.map(stored_time).unwrap_or_else(now),
    };
    let response = state
        .db
        .write(audit, move |conn, log| {
            let response = store::respond(
                conn,
                &id,
                organisation_id.as_deref(),
                contact_id.as_deref(),
                &fields,
            )?;
            log.record(response_event("response.create", None, &response));
            Ok(response)
        })
        .await?;
    Ok(created_tagged(
        format!(
            "/api/v1/consultations/{}/responses/{}",
            response.consultation_id, response.id
        ),
        response.version,
        ResponseRecord::new(response, true),
    ))
}

/// List a consultation's responses
///
/// Anonymous responses show no respondent to viewers and API keys, and are left out for
/// them while the invitees who did not answer by name are too few to hide among (see
/// the README's Consultations). `Accept: text/csv` streams them as CSV.
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Consultation id"), ResponseListParams),
    responses(
        (status = 200, description = "A page of responses", body = ResponseList,
         content((ResponseList = "application/json"), (String = "text/csv"))),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[get("/consultations/{id}/responses")]
pub async fn list_responses(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    let format = negotiate(&req, true)?;
    let id = path_id(&path)?;
    let params = ResponseListParams::parse(req.query_string())?;
    let keyset = Keyset::by_id(params.cursor, params.limit)?;
    let mut filter = ResponseFilter {
        attended: params.attended,
        attribution: params.attribution,
        named_only: false,
    };
    let sees = principal.sees_anonymous_responses();
    let (checked, threshold) = (id.clone(), state.suppression_threshold);
    filter.named_only = !state
        .db
        .run(move |conn| store::anonymous_responses_disclosed_to(conn, &checked, sees, threshold))
        .await?;
    // The disclosure check above has already answered 404 for an unknown consultation.
    let listing =
        paging::by_id(move |conn, after, limit| store::responses(conn, &id, &filter, after, limit));
    let csv = CsvForm {
        filename: "responses.csv",
        header: RESPONSE_CSV_HEADER,
        record: move |response| response_csv_record(ResponseRecord::new(response, sees)),
    };
    paging::answer(&state.db, &req, format, keyset, listing, csv, |page| {
        ResponseList {
            data: page
                .rows
                .into_iter()
                .map(|response| ResponseRecord::new(response, sees))
                .collect(),
            next_cursor: page.next_cursor,
        }
    })
    .await
}

fn response_csv_record(r: ResponseRecord) -> Vec<String> {
    vec![
        r.id,
        r.organisation_id.unwrap_or_default(),
        r.contact_id.unwrap_or_default(),
        r.attribution.to_string(),
        csv::flag(r.attended),
        r.submitted_at,
        defuse(r.summary.as_deref().unwrap_or_default()),
    ]
}

/// Get a response
#[utoipa::path(
    tag = TAG,
    params(
        ("id" = uuid::Uuid, Path, description = "Consultation id"),
        ("response_id" = uuid::Uuid, Path, description = "Response id"),
    ),
    responses(
        (status = 200, description = "The response", body = ResponseRecord,
         headers(("ETag" = String, description = "Send in If-Match to update safely"))),
        (status = 304, description = "Not modified: the If-None-Match tag is current"),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[get("/consultations/{id}/responses/{response_id}")]
pub async fn get_response(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    let (id, response_id) = (path_id(&path.0)?, path_id(&path.1)?);
    let (sees, threshold) = (
        principal.sees_anonymous_responses(),
        state.suppression_threshold,
    );
    let response = state
        .db
        .run(move |conn| read(conn, &id, &response_id, sees, threshold))
        .await?;
    Ok(tagged_unless_current(&req, response.version, || {
        ResponseRecord::new(response, sees)
    }))
}

/// Response `response_id` of consultation `id` as its `GET` shows it to a caller who `sees`
/// anonymous respondents or not: a response the caller may not learn of is as good as absent.
fn read(
    conn: &mut DbConn,
    id: &str,
    response_id: &str,
    sees: bool,
    threshold: i64,
) -> Result<Response, DomainError> {
    let response = store::response(conn, id, response_id)?;
    if response.fields.attribution == Attribution::Anonymous
        && !store::anonymous_responses_disclosed_to(conn, id, sees, threshold)?
    {
        return Err(DomainError::NotFound("response"));
    }
    Ok(response)
}

/// Update a response
///
/// While the consultation is open or closed (attendance is often recorded after an event);
/// draft and published consultations refuse (409). Send the `ETag` in `If-Match`.
#[utoipa::path(
    tag = TAG,
    params(
        ("id" = uuid::Uuid, Path, description = "Consultation id"),
        ("response_id" = uuid::Uuid, Path, description = "Response id"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "The ETag this change was based on"),
    ),
    request_body(content = UpdateResponseRequest, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "Updated", body = ResponseRecord, headers(("ETag" = String, description = "The new version"))),
        (status = 404, response = crate::api::responses::NotFound),
        (status = 409, response = crate::api::responses::Conflict),
    )
)]
#[patch("/consultations/{id}/responses/{response_id}")]
pub async fn update_response(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    body: JsonBody<UpdateResponseRequest>,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let (id, response_id) = (path_id(&path.0)?, path_id(&path.1)?);
    let check = version_check(&req);
    let change = body.0;
    let response = state
        .db
        .write(audit, move |conn, log| {
            let before = store::response(conn, &id, &response_id)?;
            let after = store::update_response(conn, &id, &response_id, &check, |mut fields| {
                if let Some(summary) = change.summary {
                    fields.summary = summary;
                }
                if let Some(attribution) = change.attribution {
                    fields.attribution = attribution;
                }
                if let Some(attended) = change.attended {
                    fields.attended = attended;
                }
                if let Some(at) = change.submitted_at {
                    fields.submitted_at = stored_time(at);
                }
                fields
            })?;
            log.record(response_event("response.update", Some(&before), &after));
            Ok(after)
        })
        .await?;
    Ok(tagged(
        response.version,
        ResponseRecord::new(response, true),
    ))
}
