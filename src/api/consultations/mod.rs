//! `/api/v1/consultations`: consultations and the evidence gathered through them. This file
//! holds the consultation itself (DTOs, list, create, read, update, delete); who was invited,
//! who responded, the participation figures and one organisation's consultations
//! (`of_organisation`) each have a file.

mod invitations;
mod of_organisation;
mod participation;
mod responses;

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

pub use responses::ResponseRecord;

use crate::api::audited::Subject;
use crate::api::body::{JsonBody, nullable, present};
use crate::api::conditional::version_check;
use crate::api::csv::{self, defuse};
use crate::api::list::{Cursor, FromQuery, negotiate, query_params};
use crate::api::paging::{self, CsvForm, Keyset, Listing};
use crate::api::path_id;
use crate::api::profile::{date_range, patched, required, validated};
use crate::api::resource::{self, Resource};
use crate::api::schemas::{
    ListEntry, Listable, consultation_kinds, consultation_statuses, expertise_codes, timestamp,
};
use crate::api::validation::{self as rules, unique_items};
use crate::domain::audit::{self, entity};
use crate::domain::consultations::store;
use crate::domain::consultations::{
    Consultation, ConsultationFilter, ConsultationKind, ConsultationProfile, ConsultationSort,
    ConsultationStatus,
};
use crate::domain::{DomainError, Listed};
use crate::error::ApiError;
use crate::state::AppState;

pub(super) const TAG: &str = "consultations";

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsultationResponse {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(example = "Call for evidence: girls in the youth justice system")]
    pub title: String,
    pub kind: ConsultationKind,
    pub summary: Option<String>,
    #[schema(schema_with = expertise_codes)]
    pub expertise: Vec<String>,
    /// The expert group leading it.
    #[schema(format = Uuid)]
    pub lead_group_id: Option<String>,
    pub opens_on: Option<NaiveDate>,
    pub closes_on: Option<NaiveDate>,
    pub status: ConsultationStatus,
    pub external_url: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl Resource for Consultation {
    type Shown = ConsultationResponse;
    const SUBJECT: Subject = Subject::record(entity::CONSULTATION);
    const PATH: &'static str = "/api/v1/consultations";
    const KEY: fn(&Self) -> (&str, i64) = |r| (&r.id, r.version);
}

impl From<Consultation> for ConsultationResponse {
    fn from(consultation: Consultation) -> Self {
        let p = consultation.profile;
        Self {
            id: consultation.id,
            title: p.title,
            kind: p.kind,
            summary: p.summary,
            expertise: p.expertise,
            lead_group_id: p.lead_group_id,
            opens_on: p.opens_on,
            closes_on: p.closes_on,
            status: p.status,
            external_url: p.external_url,
            created_at: timestamp(consultation.created_at),
            updated_at: timestamp(consultation.updated_at),
        }
    }
}

/// A list entry: a consultation, or a tombstone when `include_deleted=true`.
pub type ConsultationListEntry = ListEntry<ConsultationResponse>;

impl Listable for ConsultationResponse {
    const ENTRY: &'static str = "ConsultationListEntry";
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsultationList {
    pub data: Vec<ConsultationListEntry>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
    /// How many consultations match the filters, with `include_total=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
}

/// A new consultation. Only the title and kind are required; it starts as a draft unless
/// `status` is `open`.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConsultationRequest {
    #[validate(required(message = "is required"), length(min = 1, max = 300), regex(path = *rules::SINGLE_LINE_RE, message = "must be one line of text without leading or trailing spaces"))]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 300, pattern = "SINGLE_LINE")]
    pub title: Option<String>,
    #[validate(required(message = "is required"))]
    #[schema(value_type = ConsultationKind, required = true)]
    pub kind: Option<ConsultationKind>,
    #[serde(default)]
    #[validate(length(max = 10000), regex(path = *rules::MULTI_LINE_RE, message = "must not contain control characters other than line breaks and tabs"))]
    #[schema(max_length = 10000, pattern = "MULTI_LINE")]
    pub summary: Option<String>,
    /// Active expertise area codes (422 names an unknown or retired one).
    #[serde(default)]
    #[validate(length(max = 50, message = "at most 50 expertise areas"), custom(function = unique_items))]
    #[schema(schema_with = expertise_codes)]
    pub expertise: Vec<String>,
    /// A live expert group (422 otherwise).
    #[serde(default)]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub lead_group_id: Option<uuid::Uuid>,
    #[serde(default)]
    pub opens_on: Option<NaiveDate>,
    /// Not before `opens_on`.
    #[serde(default)]
    pub closes_on: Option<NaiveDate>,
    /// `draft` (the default) or `open`; later moves go through PATCH.
    #[serde(default)]
    pub status: Option<ConsultationStatus>,
    #[serde(default)]
    #[validate(length(max = 2000), regex(path = *rules::WEBSITE_RE, message = "must be an http(s) address"))]
    #[schema(max_length = 2000, pattern = "WEBSITE")]
    pub external_url: Option<String>,
}

impl CreateConsultationRequest {
    fn into_profile(self) -> Result<ConsultationProfile, DomainError> {
        date_range((self.opens_on, "opens_on"), (self.closes_on, "closes_on"))?;
        Ok(ConsultationProfile {
            title: required(self.title, "title")?,
            kind: required(self.kind, "kind")?,
            summary: self.summary,
            expertise: self.expertise,
            lead_group_id: self.lead_group_id.map(|id| id.to_string()),
            opens_on: self.opens_on,
            closes_on: self.closes_on,
            status: self.status.unwrap_or(ConsultationStatus::Draft),
            external_url: self.external_url,
        })
    }
}

/// A JSON Merge Patch: fields left out keep their value, `null` clears an optional one.
/// `status` moves draft → open → closed → published, and closed → open reopens (409
/// otherwise).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConsultationRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, min_length = 1, max_length = 300, pattern = "SINGLE_LINE")]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = ConsultationKind)]
    pub kind: Option<ConsultationKind>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 10000, pattern = "MULTI_LINE")]
    pub summary: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = expertise_codes)]
    pub expertise: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub lead_group_id: Option<Option<uuid::Uuid>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<NaiveDate>)]
    pub opens_on: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<NaiveDate>)]
    pub closes_on: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = ConsultationStatus)]
    pub status: Option<ConsultationStatus>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 2000, pattern = "WEBSITE")]
    pub external_url: Option<Option<String>>,
}

/// Rules are checked on the patched whole (as a new consultation would be), in `apply`.
impl Validate for UpdateConsultationRequest {
    fn validate(&self) -> Result<(), validator::ValidationErrors> {
        Ok(())
    }
}

impl UpdateConsultationRequest {
    fn apply(&self, current: &ConsultationProfile) -> Result<ConsultationProfile, DomainError> {
        let next = CreateConsultationRequest {
            title: Some(patched(&self.title, &current.title)),
            kind: Some(patched(&self.kind, &current.kind)),
            summary: patched(&self.summary, &current.summary),
            expertise: patched(&self.expertise, &current.expertise),
            lead_group_id: match self.lead_group_id {
                Some(lead) => lead,
                None => current
                    .lead_group_id
                    .as_deref()
                    .and_then(|id| uuid::Uuid::parse_str(id).ok()),
            },
            opens_on: patched(&self.opens_on, &current.opens_on),
            closes_on: patched(&self.closes_on, &current.closes_on),
            status: Some(patched(&self.status, &current.status)),
            external_url: patched(&self.external_url, &current.external_url),
        };
        validated(next)?.into_profile()
    }
}

query_params! {
    /// Filters and order for `GET /consultations`.
    pub struct ConsultationListParams {
        /// Most entries per page (1 to 500). Ignored by CSV, which streams every match.
        #[param(value_type = Option<u32>, minimum = 1, maximum = 500, default = 50)]
        pub limit: usize = limit,
        /// `next_cursor` from the previous page.
        #[param(value_type = Option<String>, pattern = "CURSOR")]
        pub cursor: Option<Cursor> = cursor,
        /// `title` by default; `updated_at` when `updated_since` is given.
        #[param(inline)]
        pub sort: Option<ConsultationSort> = parsed,
        /// Add `total`, the number of matching consultations.
        pub include_total: Option<bool> = boolean,
        /// Only consultations changed after this instant, for incremental sync.
        #[param(value_type = Option<String>, format = DateTime)]
        pub updated_since: Option<NaiveDateTime> = timestamp,
        /// Include deleted consultations as tombstones `{id, deleted_at}`.
        pub include_deleted: Option<bool> = boolean,
        #[param(schema_with = consultation_kinds)]
        pub kind: Vec<ConsultationKind> = many,
        #[param(schema_with = consultation_statuses)]
        pub status: Vec<ConsultationStatus> = many,
        #[param(schema_with = expertise_codes)]
        pub expertise: Vec<String> = codes(&rules::EXPERTISE_CODE_RE),
        /// Consultations led by this expert group; repeat for several.
        pub lead_group: Vec<uuid::Uuid> = many,
        /// Case-insensitive part of the title.
        #[param(max_length = 200, pattern = "QUERY_TEXT")]
        pub q: Option<String> = text,
    }
}

const CONSULTATION_CSV_HEADER: &[&str] = &[
    "id",
    "title",
    "kind",
    "status",
    "summary",
    "expertise",
    "lead_group_id",
    "opens_on",
    "closes_on",
    "external_url",
    "created_at",
    "updated_at",
    "deleted_at",
];

fn consultation_csv_record(entry: Listed<Consultation>) -> Vec<String> {
    paging::listed_record(CONSULTATION_CSV_HEADER, entry, |consultation| {
        let c = ConsultationResponse::from(consultation);
        vec![
            c.id,
            defuse(&c.title),
            c.kind.to_string(),
            c.status.to_string(),
            defuse(c.summary.as_deref().unwrap_or_default()),
            c.expertise.join(";"),
            c.lead_group_id.unwrap_or_default(),
            csv::date(c.opens_on),
            csv::date(c.closes_on),
            defuse(c.external_url.as_deref().unwrap_or_default()),
            c.created_at,
            c.updated_at,
            String::new(),
        ]
    })
}

/// List consultations
///
/// Keyset-paginated and filtered; `Accept: text/csv` streams every match as CSV.
#[utoipa::path(
    tag = TAG,
    params(ConsultationListParams),
    responses(
        (status = 200, description = "A page of consultations", body = ConsultationList,
         content((ConsultationList = "application/json"), (String = "text/csv"))),
    )
)]
#[get("/consultations")]
pub async fn list_consultations(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let format = negotiate(&req, true)?;
    let params = ConsultationListParams::parse(req.query_string())?;
    let filter = ConsultationFilter {
        kinds: params.kind,
        statuses: params.status,
        expertise: params.expertise,
        lead_groups: params.lead_group.iter().map(ToString::to_string).collect(),
        q: params.q,
        updated_since: params.updated_since,
        include_deleted: params.include_deleted.unwrap_or(false),
    };
    let sort = params.sort.unwrap_or(if filter.updated_since.is_some() {
        ConsultationSort::UpdatedAt
    } else {
        ConsultationSort::Title
    });
    let keyset = Keyset::sorted(sort.as_str(), params.cursor, params.limit)?;
    let listing = Listing::new(filter, move |conn, filter, after, limit| {
        store::list(conn, filter, sort, after, limit)
    })
    .with_total(params.include_total.unwrap_or(false), store::count);
    let csv = CsvForm {
        filename: "consultations.csv",
        header: CONSULTATION_CSV_HEADER,
        record: consultation_csv_record,
    };
    paging::answer(&state.db, &req, format, keyset, listing, csv, |page| {
        ConsultationList {
            data: page
                .rows
                .into_iter()
                .map(|entry| ListEntry::new(entry, ConsultationResponse::from))
                .collect(),
            next_cursor: page.next_cursor,
            total: page.total,
        }
    })
    .await
}

/// Create a consultation
#[utoipa::path(
    tag = TAG,
    request_body = CreateConsultationRequest,
    responses(
        (status = 201, description = "Created", body = ConsultationResponse,
         headers(("Location" = String, description = "The new consultation"), ("ETag" = String, description = "Its version"))),
    )
)]
#[post("/consultations")]
pub async fn create_consultation(
    state: web::Data<AppState>,
    body: JsonBody<CreateConsultationRequest>,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let profile = body.0.into_profile()?;
    resource::create(&state.db, audit, move |conn| store::create(conn, &profile)).await
}

/// Get a consultation
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Consultation id")),
    responses(
        (status = 200, description = "The consultation", body = ConsultationResponse,
         headers(("ETag" = String, description = "Send in If-Match to update safely"))),
        (status = 304, description = "Not modified: the If-None-Match tag is current"),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[get("/consultations/{id}")]
pub async fn get_consultation(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    let consultation = state.db.run(move |conn| store::find(conn, &id)).await?;
    Ok(resource::read(&req, consultation))
}

/// Update a consultation
///
/// JSON Merge Patch; send the `ETag` you read in `If-Match` (412 when it is stale). A status
/// move that is not allowed is 409.
#[utoipa::path(
    tag = TAG,
    params(
        ("id" = uuid::Uuid, Path, description = "Consultation id"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "The ETag this change was based on"),
    ),
    request_body(content = UpdateConsultationRequest, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "Updated", body = ConsultationResponse, headers(("ETag" = String, description = "The new version"))),
        (status = 404, response = crate::api::responses::NotFound),
        (status = 409, response = crate::api::responses::Conflict),
    )
)]
#[patch("/consultations/{id}")]
pub async fn update_consultation(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    body: JsonBody<UpdateConsultationRequest>,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    let check = version_check(&req);
    let patch = body.0;
    resource::update(&state.db, audit, id, store::find, move |conn, id| {
        store::update(conn, id, &check, |current| patch.apply(current))
    })
    .await
}

/// Delete a consultation
///
/// A soft delete: the consultation leaves reads and lists; sync sees a tombstone.
#[utoipa::path(
    tag = TAG,
    params(
        ("id" = uuid::Uuid, Path, description = "Consultation id"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "The ETag this deletion was based on"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[delete("/consultations/{id}")]
pub async fn delete_consultation(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    resource::delete::<Consultation>(&state.db, audit, id, &req, store::soft_delete).await
}

pub fn configure(config: &mut ServiceConfig) {
    config
        .service(list_consultations)
        .service(create_consultation)
        .service(get_consultation)
        .service(update_consultation)
        .service(delete_consultation)
        .service(invitations::invite_to_consultation)
        .service(invitations::list_invitations)
        .service(responses::create_response)
        .service(responses::list_responses)
        .service(responses::get_response)
        .service(responses::update_response)
        .service(participation::consultation_participation)
        .service(of_organisation::organisation_consultations);
}
