//! `/api/v1/consultations`: consultations and the evidence gathered through them: who was
//! invited (organisations, or whole expert groups), who responded, who attended, and the
//! participation figures; and `/organisations/{id}/consultations`, one member's history.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use crate::api::audited::Subject;
use crate::api::body::{JsonBody, field_errors, nullable, present};
use crate::api::conditional::{created_tagged, tagged, tagged_unless_current, version_check};
use crate::api::csv::{self, defuse};
use crate::api::list::{
    Cursor, Format, FromQuery, PageParams, by_id_after, negotiate, next_by_id, page_response,
    query_params,
};
use crate::api::path_id;
use crate::api::resource::{self, Resource};
use crate::api::schemas::{
    ListEntry, Listable, consultation_kinds, consultation_statuses, expertise_codes, timestamp,
};
use crate::api::validation::{self as rules, unique_items};
use crate::auth::Principal;
use crate::domain::audit::{self, Event, entity};
use crate::domain::consultations::store::{self, Invitee, ResponseFilter};
use crate::domain::consultations::{
    Attribution, Consultation, ConsultationFilter, ConsultationKind, ConsultationProfile,
    ConsultationSort, ConsultationStatus, HistoryEntry, Invitation, Participation, Party, Response,
    ResponseFields, anonymous_responses_disclosed,
};
use crate::domain::{DomainError, FieldError, Gone, Listed, now};
use crate::error::ApiError;
use crate::state::AppState;

const TAG: &str = "consultations";

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
        let required = |field: &str| {
            DomainError::Invalid(vec![FieldError::new(field, "required", "is required")])
        };
        if let (Some(opens), Some(closes)) = (self.opens_on, self.closes_on)
            && closes < opens
        {
            return Err(DomainError::Invalid(vec![FieldError::new(
                "closes_on",
                "invalid",
                "must not be before opens_on",
            )]));
        }
        Ok(ConsultationProfile {
            title: self.title.ok_or_else(|| required("title"))?,
            kind: self.kind.ok_or_else(|| required("kind"))?,
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
            title: Some(self.title.clone().unwrap_or_else(|| current.title.clone())),
            kind: Some(self.kind.unwrap_or(current.kind)),
            summary: self
                .summary
                .clone()
                .unwrap_or_else(|| current.summary.clone()),
            expertise: self
                .expertise
                .clone()
                .unwrap_or_else(|| current.expertise.clone()),
            lead_group_id: match self.lead_group_id {
                Some(lead) => lead,
                None => current
                    .lead_group_id
                    .as_deref()
                    .and_then(|id| uuid::Uuid::parse_str(id).ok()),
            },
            opens_on: self.opens_on.unwrap_or(current.opens_on),
            closes_on: self.closes_on.unwrap_or(current.closes_on),
            status: Some(self.status.unwrap_or(current.status)),
            external_url: self
                .external_url
                .clone()
                .unwrap_or_else(|| current.external_url.clone()),
        };
        next.validate()
            .map_err(|errors| DomainError::Invalid(field_errors(&errors)))?;
        next.into_profile()
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
    match entry {
        Listed::Deleted(Gone { id, deleted_at, .. }) => {
            let mut row = vec![String::new(); CONSULTATION_CSV_HEADER.len()];
            row[0] = id;
            row[CONSULTATION_CSV_HEADER.len() - 1] = timestamp(deleted_at);
            row
        }
        Listed::Live(consultation) => {
            let c = ConsultationResponse::from(*consultation);
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
        }
    }
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
    let sort = params.sort;
    let include_total = params.include_total.unwrap_or(false);
    let filter = ConsultationFilter {
        kinds: params.kind,
        statuses: params.status,
        expertise: params.expertise,
        lead_groups: params.lead_group.iter().map(ToString::to_string).collect(),
        q: params.q,
        updated_since: params.updated_since,
        include_deleted: params.include_deleted.unwrap_or(false),
    };
    let sort = sort.unwrap_or(if filter.updated_since.is_some() {
        ConsultationSort::UpdatedAt
    } else {
        ConsultationSort::Title
    });
    let after = match params.cursor {
        Some(cursor) => Some(cursor.for_sort(sort.as_str())?),
        None => None,
    };
    if format == Format::Csv {
        return csv::attachment(
            state.db.clone(),
            "consultations.csv",
            CONSULTATION_CSV_HEADER,
            after,
            move |conn, after| {
                let (entries, next) = store::list(conn, &filter, sort, after.as_ref(), csv::PAGE)?;
                Ok((
                    entries.into_iter().map(consultation_csv_record).collect(),
                    next,
                ))
            },
        )
        .await;
    }
    let limit = params.limit;
    let ((entries, next), total) = state
        .db
        .run(move |conn| {
            let page = store::list(conn, &filter, sort, after.as_ref(), limit)?;
            let total = match include_total {
                true => Some(store::count(conn, &filter)?),
                false => None,
            };
            Ok::<_, DomainError>((page, total))
        })
        .await?;
    let next_cursor = next.map(|(key, id)| Cursor::after(sort.as_str(), key, id));
    let data = entries
        .into_iter()
        .map(|entry| ListEntry::new(entry, ConsultationResponse::from))
        .collect();
    Ok(page_response(
        &req,
        next_cursor.as_deref(),
        ConsultationList {
            data,
            next_cursor: next_cursor.clone(),
            total,
        },
    ))
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

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationResponse {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Uuid)]
    pub consultation_id: String,
    #[schema(format = Uuid)]
    pub organisation_id: Option<String>,
    #[schema(format = Uuid)]
    pub contact_id: Option<String>,
    /// The expert group whose members were invited together, when it came that way.
    #[schema(format = Uuid)]
    pub via_group_id: Option<String>,
    #[schema(format = DateTime)]
    pub invited_at: String,
    /// Whether the invitee has responded. Viewers and API keys, who may not see anonymous
    /// responses, get `true` for a named response and null otherwise.
    pub responded: Option<bool>,
    /// Whether they attended (events); null when unknown or withheld.
    pub attended: Option<bool>,
}

impl InvitationResponse {
    fn new(invitation: Invitation, sees_anonymous: bool) -> Self {
        // A caller who may not see anonymous responses learns only of named ones: "no
        // response" and "an anonymous response" both read as unknown, or the difference
        // would name the anonymous respondent.
        let (responded, attended) = match invitation.response {
            Some((Attribution::Named, attended)) => (Some(true), attended),
            _ if !sees_anonymous => (None, None),
            Some((_, attended)) => (Some(true), attended),
            None => (Some(false), None),
        };
        Self {
            organisation_id: invitation.party.organisation_id().map(str::to_owned),
            contact_id: invitation.party.contact_id().map(str::to_owned),
            id: invitation.id,
            consultation_id: invitation.consultation_id,
            via_group_id: invitation.via_group_id,
            invited_at: timestamp(invitation.invited_at),
            responded,
            attended,
        }
    }
}

/// Invite one organisation, or a whole expert group (exactly one of the two). A group
/// invitation invites its members as they stand now.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    #[serde(default)]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub organisation_id: Option<uuid::Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub expert_group_id: Option<uuid::Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InviteResult {
    /// The invitations made now.
    pub invited: Vec<InvitationResponse>,
    /// Organisations and contacts skipped because they were already invited.
    pub already_invited: Vec<PartyRef>,
}

/// An organisation or a contact.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartyRef {
    #[schema(format = Uuid)]
    pub organisation_id: Option<String>,
    #[schema(format = Uuid)]
    pub contact_id: Option<String>,
}

impl From<Party> for PartyRef {
    fn from(party: Party) -> Self {
        Self {
            organisation_id: party.organisation_id().map(str::to_owned),
            contact_id: party.contact_id().map(str::to_owned),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationList {
    pub data: Vec<InvitationResponse>,
    pub next_cursor: Option<String>,
}

/// Invite to a consultation
///
/// Invites an organisation, or every current member (organisations and contacts) of an
/// expert group, each invitation recording the group. Those already invited are skipped.
/// A published consultation takes no more invitations (409).
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Consultation id")),
    request_body = InviteRequest,
    responses(
        (status = 201, description = "The invitations made, and those skipped", body = InviteResult),
        (status = 404, response = crate::api::responses::NotFound),
        (status = 409, response = crate::api::responses::Conflict),
    )
)]
#[post("/consultations/{id}/invitations")]
pub async fn invite_to_consultation(
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: JsonBody<InviteRequest>,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    let invitee = match (body.0.organisation_id, body.0.expert_group_id) {
        (Some(organisation), None) => Invitee::Organisation(organisation.to_string()),
        (None, Some(group)) => Invitee::Group(group.to_string()),
        _ => {
            return Err(ApiError::Validation {
                errors: vec![FieldError::new(
                    "organisation_id",
                    "one_of",
                    "give exactly one of organisation_id and expert_group_id",
                )],
            });
        }
    };
    let result = state
        .db
        .write(audit, move |conn, log| {
            let (invited, skipped) = store::invite(conn, &id, &invitee)?;
            let result = InviteResult {
                invited: invited
                    .into_iter()
                    .map(|i| InvitationResponse::new(i, true))
                    .collect(),
                already_invited: skipped.into_iter().map(Into::into).collect(),
            };
            log.record(
                Event::new("invitation.create", entity::CONSULTATION, &id).detail(
                    "invited",
                    serde_json::Value::Null,
                    audit::snapshot(&result.invited),
                ),
            );
            Ok(result)
        })
        .await?;
    Ok(HttpResponse::Created().json(result))
}

const INVITATION_CSV_HEADER: &[&str] = &[
    "id",
    "organisation_id",
    "contact_id",
    "via_group_id",
    "invited_at",
    "responded",
    "attended",
];

/// List a consultation's invitations
///
/// Who was invited, how, and whether they responded and attended. `Accept: text/csv`
/// streams them as CSV.
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Consultation id"), PageParams),
    responses(
        (status = 200, description = "A page of invitations", body = InvitationList,
         content((InvitationList = "application/json"), (String = "text/csv"))),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[get("/consultations/{id}/invitations")]
pub async fn list_invitations(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    let format = negotiate(&req, true)?;
    let id = path_id(&path)?;
    let page = PageParams::parse(req.query_string())?;
    let (after, limit) = (by_id_after(page.cursor)?, page.limit);
    let sees = principal.sees_anonymous_responses();
    if format == Format::Csv {
        let checked = id.clone();
        state
            .db
            .run(move |conn| store::find(conn, &checked))
            .await?;
        return csv::attachment(
            state.db.clone(),
            "invitations.csv",
            INVITATION_CSV_HEADER,
            after,
            move |conn, after| {
                let (invitations, next) =
                    store::invitations(conn, &id, after.as_deref(), csv::PAGE)?;
                let rows = invitations
                    .into_iter()
                    .map(|i| {
                        let i = InvitationResponse::new(i, sees);
                        vec![
                            i.id,
                            i.organisation_id.unwrap_or_default(),
                            i.contact_id.unwrap_or_default(),
                            i.via_group_id.unwrap_or_default(),
                            i.invited_at,
                            csv::flag(i.responded),
                            csv::flag(i.attended),
                        ]
                    })
                    .collect();
                Ok((rows, next.map(|(_, id)| id)))
            },
        )
        .await;
    }
    let (invitations, next) = state
        .db
        .run(move |conn| store::invitations(conn, &id, after.as_deref(), limit))
        .await?;
    let next_cursor = next_by_id(next);
    Ok(page_response(
        &req,
        next_cursor.as_deref(),
        InvitationList {
            data: invitations
                .into_iter()
                .map(|i| InvitationResponse::new(i, sees))
                .collect(),
            next_cursor: next_cursor.clone(),
        },
    ))
}

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
    let (after, limit) = (by_id_after(params.cursor)?, params.limit);
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
    if format == Format::Csv {
        // The disclosure check above has already answered 404 for an unknown consultation.
        return csv::attachment(
            state.db.clone(),
            "responses.csv",
            RESPONSE_CSV_HEADER,
            after,
            move |conn, after| {
                let (responses, next) =
                    store::responses(conn, &id, &filter, after.as_deref(), csv::PAGE)?;
                let rows = responses
                    .into_iter()
                    .map(|r| {
                        let r = ResponseRecord::new(r, sees);
                        vec![
                            r.id,
                            r.organisation_id.unwrap_or_default(),
                            r.contact_id.unwrap_or_default(),
                            r.attribution.to_string(),
                            csv::flag(r.attended),
                            r.submitted_at,
                            defuse(r.summary.as_deref().unwrap_or_default()),
                        ]
                    })
                    .collect();
                Ok((rows, next.map(|(_, id)| id)))
            },
        )
        .await;
    }
    let (responses, next) = state
        .db
        .run(move |conn| store::responses(conn, &id, &filter, after.as_deref(), limit))
        .await?;
    let next_cursor = next_by_id(next);
    Ok(page_response(
        &req,
        next_cursor.as_deref(),
        ResponseList {
            data: responses
                .into_iter()
                .map(|r| ResponseRecord::new(r, sees))
                .collect(),
            next_cursor: next_cursor.clone(),
        },
    ))
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
        .run(move |conn| {
            let response = store::response(conn, &id, &response_id)?;
            // A response the caller may not learn of is as good as absent.
            if response.fields.attribution == Attribution::Anonymous
                && !store::anonymous_responses_disclosed_to(conn, &id, sees, threshold)?
            {
                return Err(DomainError::NotFound("response"));
            }
            Ok(response)
        })
        .await?;
    Ok(tagged_unless_current(&req, response.version, || {
        ResponseRecord::new(response, sees)
    }))
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

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitedCounts {
    pub total: i64,
    pub organisations: i64,
    pub contacts: i64,
}

/// Null, with the participation's `suppressed`, where they would single out an anonymous
/// respondent.
#[derive(Debug, Serialize, ToSchema)]
pub struct RespondedCounts {
    pub total: Option<i64>,
    /// Responses from organisations (with or without the contact who wrote them).
    pub organisations: Option<i64>,
    /// Responses from people in their own right.
    pub contacts: Option<i64>,
    /// Of all responses, those given anonymously.
    pub anonymous: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ParticipationResponse {
    #[schema(format = Uuid)]
    pub consultation_id: String,
    pub invited: InvitedCounts,
    pub responded: RespondedCounts,
    /// Responses marked as attended (events and roundtables).
    pub attended: Option<i64>,
    /// Invitees who responded, over invitees (0 to 1); null when nobody was invited.
    pub response_rate: Option<f64>,
    /// Invited organisations that responded, over invited organisations; null when none.
    pub organisation_response_rate: Option<f64>,
    /// True when the figures that count responses (`responded`, `attended` and the rates)
    /// are withheld: for a viewer or API key, fewer invitees of a kind than
    /// `REPORT_SUPPRESSION_THRESHOLD` (but some) have no named response, so those figures
    /// could tell which of them answered anonymously.
    pub suppressed: bool,
}

fn rate(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| ((part as f64 / whole as f64) * 10_000.0).round() / 10_000.0)
}

impl ParticipationResponse {
    /// The figures as a caller sees them: all of them when `disclosed`, else only the
    /// invitations, which the caller can list anyway.
    fn new(consultation_id: String, p: Participation, disclosed: bool) -> Self {
        let invited = p.invited_organisations + p.invited_contacts;
        let shown = |n: i64| disclosed.then_some(n);
        Self {
            consultation_id,
            invited: InvitedCounts {
                total: invited,
                organisations: p.invited_organisations,
                contacts: p.invited_contacts,
            },
            responded: RespondedCounts {
                total: shown(p.responded_organisations + p.responded_contacts),
                organisations: shown(p.responded_organisations),
                contacts: shown(p.responded_contacts),
                anonymous: shown(p.anonymous_responses),
            },
            attended: shown(p.attended),
            response_rate: rate(p.invitees_responded, invited).filter(|_| disclosed),
            organisation_response_rate: rate(
                p.invited_organisations_responded,
                p.invited_organisations,
            )
            .filter(|_| disclosed),
            suppressed: !disclosed,
        }
    }
}

/// Participation in a consultation
///
/// Who was invited, who responded, who attended, and the response rates. For viewers and
/// API keys the figures that count responses are withheld (`suppressed`) while they could
/// single out an anonymous respondent; staff and admins always get them.
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Consultation id")),
    responses(
        (status = 200, description = "The figures", body = ParticipationResponse),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[get("/consultations/{id}/participation")]
pub async fn consultation_participation(
    state: web::Data<AppState>,
    path: web::Path<String>,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    let counted = id.clone();
    let participation = state
        .db
        .run(move |conn| store::participation(conn, &counted))
        .await?;
    let disclosed = anonymous_responses_disclosed(
        principal.sees_anonymous_responses(),
        participation.hidden,
        state.suppression_threshold,
    );
    Ok(HttpResponse::Ok().json(ParticipationResponse::new(id, participation, disclosed)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsultationSummary {
    #[schema(format = Uuid)]
    pub id: String,
    pub title: String,
    pub kind: ConsultationKind,
    pub status: ConsultationStatus,
    pub opens_on: Option<NaiveDate>,
    pub closes_on: Option<NaiveDate>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEntryResponse {
    pub consultation: ConsultationSummary,
    /// When it was invited; null when it responded without an invitation.
    #[schema(format = DateTime)]
    pub invited_at: Option<String>,
    #[schema(format = Uuid)]
    pub via_group_id: Option<String>,
    /// Whether it responded. Viewers and API keys get `true` for a named response and null
    /// otherwise; consultations it answered only anonymously are left out for them.
    pub responded: Option<bool>,
    pub attended: Option<bool>,
    #[schema(format = DateTime)]
    pub submitted_at: Option<String>,
}

impl HistoryEntryResponse {
    fn new(entry: HistoryEntry, sees_anonymous: bool) -> Self {
        // As for invitations: without sight of anonymous responses, only named ones show.
        let (responded, attended, submitted_at) = match entry.response {
            Some((Attribution::Named, attended, at)) => (Some(true), attended, Some(timestamp(at))),
            _ if !sees_anonymous => (None, None, None),
            Some((_, attended, at)) => (Some(true), attended, Some(timestamp(at))),
            None => (Some(false), None, None),
        };
        Self {
            consultation: ConsultationSummary {
                id: entry.consultation_id,
                title: entry.title,
                kind: entry.kind,
                status: entry.status,
                opens_on: entry.opens_on,
                closes_on: entry.closes_on,
            },
            invited_at: entry.invited_at.map(timestamp),
            via_group_id: entry.via_group_id,
            responded,
            attended,
            submitted_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryList {
    pub data: Vec<HistoryEntryResponse>,
    pub next_cursor: Option<String>,
}

const HISTORY_CSV_HEADER: &[&str] = &[
    "consultation_id",
    "title",
    "kind",
    "status",
    "opens_on",
    "closes_on",
    "invited_at",
    "via_group_id",
    "responded",
    "attended",
    "submitted_at",
];

/// An organisation's consultation history
///
/// Every consultation it was invited to or responded to, whether it responded and attended.
/// `Accept: text/csv` streams it as CSV.
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Organisation id"), PageParams),
    responses(
        (status = 200, description = "A page of its consultations", body = HistoryList,
         content((HistoryList = "application/json"), (String = "text/csv"))),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[get("/organisations/{id}/consultations")]
pub async fn organisation_consultations(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    let format = negotiate(&req, true)?;
    let id = path_id(&path)?;
    let page = PageParams::parse(req.query_string())?;
    let (after, limit) = (by_id_after(page.cursor)?, page.limit);
    let sees = principal.sees_anonymous_responses();
    if format == Format::Csv {
        let checked = id.clone();
        state
            .db
            .run(move |conn| store::history(conn, &checked, false, None, 1))
            .await?;
        return csv::attachment(
            state.db.clone(),
            "consultations.csv",
            HISTORY_CSV_HEADER,
            after,
            move |conn, after| {
                let (entries, next) = store::history(conn, &id, sees, after.as_deref(), csv::PAGE)?;
                let rows = entries
                    .into_iter()
                    .map(|e| {
                        let e = HistoryEntryResponse::new(e, sees);
                        vec![
                            e.consultation.id,
                            defuse(&e.consultation.title),
                            e.consultation.kind.to_string(),
                            e.consultation.status.to_string(),
                            csv::date(e.consultation.opens_on),
                            csv::date(e.consultation.closes_on),
                            e.invited_at.unwrap_or_default(),
                            e.via_group_id.unwrap_or_default(),
                            csv::flag(e.responded),
                            csv::flag(e.attended),
                            e.submitted_at.unwrap_or_default(),
                        ]
                    })
                    .collect();
                Ok((rows, next.map(|(_, id)| id)))
            },
        )
        .await;
    }
    let (entries, next) = state
        .db
        .run(move |conn| store::history(conn, &id, sees, after.as_deref(), limit))
        .await?;
    let next_cursor = next_by_id(next);
    Ok(page_response(
        &req,
        next_cursor.as_deref(),
        HistoryList {
            data: entries
                .into_iter()
                .map(|e| HistoryEntryResponse::new(e, sees))
                .collect(),
            next_cursor: next_cursor.clone(),
        },
    ))
}

pub fn configure(config: &mut ServiceConfig) {
    config
        .service(list_consultations)
        .service(create_consultation)
        .service(get_consultation)
        .service(update_consultation)
        .service(delete_consultation)
        .service(invite_to_consultation)
        .service(list_invitations)
        .service(create_response)
        .service(list_responses)
        .service(get_response)
        .service(update_response)
        .service(consultation_participation)
        .service(organisation_consultations);
}
