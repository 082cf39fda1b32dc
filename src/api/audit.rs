//! `/api/v1/audit-events` (admins) and each record's history (staff): the audit trail as
//! written by every change, newest first.

use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::NaiveDateTime;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::list::{Cursor, FromQuery, PageParams, query_params};
use crate::api::paging::{self, Keyset, Listing, Paged};
use crate::api::path_id;
use crate::api::schemas::{entity_types, timestamp};
use crate::domain::FieldError;
use crate::domain::audit::store::{self, Filter, Record};
use crate::domain::audit::{ActorType, StoredEvent, entity};
use crate::error::ApiError;
use crate::state::AppState;

const TAG: &str = "audit";

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventResponse {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = DateTime)]
    pub occurred_at: String,
    pub actor_type: ActorType,
    /// The user or API key; null for a failed sign-in or the service itself.
    pub actor_id: Option<String>,
    /// `create`, `update`, `delete`, or what was done (`membership.renew`,
    /// `affiliation.create`, `consent.record`, `sign_in`, `sign_in_failed`, `export`, `erase`…).
    #[schema(example = "update")]
    pub action: String,
    #[schema(example = "organisation")]
    pub entity_type: String,
    /// The record's id (a code for taxonomy entries); null when unknown (a sign-in attempt
    /// on no account).
    pub entity_id: Option<String>,
    /// The person the event is about, when it is about one.
    #[schema(format = Uuid)]
    pub contact_id: Option<String>,
    /// Each changed field with its value before and after (`{"name": {"before": "A",
    /// "after": "B"}}`). Secrets are never recorded; after an erasure the person's values
    /// read `[erased]`.
    #[schema(value_type = BTreeMap<String, FieldChange>)]
    pub changes: serde_json::Value,
    /// The `X-Request-Id` of the request that made the change.
    pub request_id: Option<String>,
}

/// One field's change in an audit event (the shape of each entry of `changes`): its value
/// before and after, null where there was none.
#[derive(ToSchema)]
#[allow(dead_code)] // only its OpenAPI description is used; `changes` is sent as stored
pub struct FieldChange {
    #[schema(value_type = Value)]
    pub before: serde_json::Value,
    #[schema(value_type = Value)]
    pub after: serde_json::Value,
}

impl From<StoredEvent> for AuditEventResponse {
    fn from(event: StoredEvent) -> Self {
        Self {
            id: event.id,
            occurred_at: timestamp(event.occurred_at),
            actor_type: event.actor_type,
            actor_id: event.actor_id,
            action: event.action,
            entity_type: event.entity_type,
            entity_id: event.entity_id,
            contact_id: event.contact_id,
            changes: event.changes,
            request_id: event.request_id,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventList {
    pub data: Vec<AuditEventResponse>,
    pub next_cursor: Option<String>,
    /// All the events the filters match, with `include_total=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
}

query_params! {
    /// Filters of the audit trail; repeat a parameter for OR within it.
    pub struct AuditEventParams {
        #[param(schema_with = entity_types)]
        pub entity_type: Vec<String> = many,
        pub entity_id: Option<String> = text,
        #[param(value_type = Option<Vec<ActorType>>)]
        pub actor_type: Vec<ActorType> = many,
        pub actor_id: Option<String> = text,
        #[param(value_type = Option<Vec<String>>)]
        pub action: Vec<String> = many,
        /// The events one request wrote (its `X-Request-Id`).
        pub request_id: Option<String> = text,
        /// Events at or after this time.
        #[param(value_type = Option<String>, format = DateTime)]
        pub since: Option<NaiveDateTime> = timestamp,
        /// Events before this time.
        #[param(value_type = Option<String>, format = DateTime)]
        pub until: Option<NaiveDateTime> = timestamp,
        /// Add `total`, the number of events matching the filters.
        pub include_total: Option<bool> = boolean,
        #[param(value_type = Option<u32>, minimum = 1, maximum = 500, default = 50)]
        pub limit: usize = limit,
        #[param(value_type = Option<String>, pattern = "CURSOR")]
        pub cursor: Option<Cursor> = cursor,
    }
}

fn read_filter(params: AuditEventParams) -> Result<Filter, ApiError> {
    let filter = Filter {
        entity_id: params.entity_id,
        actor_type: params.actor_type,
        actor_id: params.actor_id,
        action: params
            .action
            .into_iter()
            .filter(|a| a.len() <= 64)
            .collect(),
        request_id: params.request_id,
        since: params.since,
        until: params.until,
        entity_type: params.entity_type,
    };
    if let Some(unknown) = filter
        .entity_type
        .iter()
        .find(|t| !entity::ALL.contains(&t.as_str()))
    {
        return Err(ApiError::BadRequest {
            detail: format!("entity_type: {unknown:?} is not a kind of record"),
            errors: vec![FieldError::new(
                "entity_type",
                "invalid",
                format!("must be one of: {}", entity::ALL.join(", ")),
            )],
        });
    }
    Ok(filter)
}

/// List audit events
///
/// Every change, newest first: who (user or API key), what (action, record, each changed
/// field before and after), when, and the request it came in.
#[utoipa::path(
    tag = TAG,
    params(AuditEventParams),
    responses(
        (status = 200, description = "A page of events", body = AuditEventList),
    )
)]
#[get("/audit-events")]
pub async fn list_audit_events(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let params = AuditEventParams::parse(req.query_string())?;
    let include_total = params.include_total.unwrap_or(false);
    let keyset = Keyset::by_id(params.cursor.clone(), params.limit)?;
    let filter = read_filter(params)?;
    let listing = Listing::new(filter, |conn, filter, before, limit| {
        store::list(conn, filter, before.map(|(_, id)| id.as_str()), limit)
    })
    .with_total(include_total, store::count);
    paging::page(&state.db, &req, keyset, listing, events_page).await
}

fn events_page(page: Paged<StoredEvent>) -> AuditEventList {
    AuditEventList {
        data: page.rows.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
        total: page.total,
    }
}

/// The history of the record at `path` (404 for a record that never existed).
async fn history(
    state: web::Data<AppState>,
    req: HttpRequest,
    entity_type: &'static str,
    id: &str,
    exists: fn(&mut crate::db::DbConn, &str) -> Result<bool, crate::domain::DomainError>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(id)?;
    let page = PageParams::parse(req.query_string())?;
    let keyset = Keyset::by_id(page.cursor, page.limit)?;
    let listing = paging::by_id(move |conn, before, limit| {
        if !exists(conn, &id)? {
            return Err(crate::domain::DomainError::NotFound("record"));
        }
        let record = Record {
            entity_type,
            entity_id: id.clone(),
        };
        store::history(conn, &record, before, limit)
    });
    paging::page(&state.db, &req, keyset, listing, events_page).await
}

// The tag is the record's, so generated clients file the history with its resource.
#[utoipa::path(
    tag = "organisations",
    summary = "History of an organisation (membership actions included)",
    description = "Every recorded change to an organisation (membership actions included), newest first; deleted records keep their history.",
    params(("id" = uuid::Uuid, Path, description = "Record id"), PageParams),
    responses(
        (status = 200, description = "A page of events", body = AuditEventList),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[get("/organisations/{id}/history")]
pub async fn organisation_history(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    history(
        state,
        req,
        entity::ORGANISATION,
        &path,
        crate::domain::organisations::ever_existed,
    )
    .await
}

// The tag is the record's, so generated clients file the history with its resource.
#[utoipa::path(
    tag = "contacts",
    summary = "History of a contact (with their group memberships and responses)",
    description = "Every recorded change to a contact (with their group memberships and responses), newest first; deleted records keep their history.",
    params(("id" = uuid::Uuid, Path, description = "Record id"), PageParams),
    responses(
        (status = 200, description = "A page of events", body = AuditEventList),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[get("/contacts/{id}/history")]
pub async fn contact_history(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    history(
        state,
        req,
        entity::CONTACT,
        &path,
        crate::domain::contacts::store::ever_existed,
    )
    .await
}

// The tag is the record's, so generated clients file the history with its resource.
#[utoipa::path(
    tag = "expert-groups",
    summary = "History of an expert group (members included)",
    description = "Every recorded change to an expert group (members included), newest first; deleted records keep their history.",
    params(("id" = uuid::Uuid, Path, description = "Record id"), PageParams),
    responses(
        (status = 200, description = "A page of events", body = AuditEventList),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[get("/expert-groups/{id}/history")]
pub async fn expert_group_history(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    history(
        state,
        req,
        entity::EXPERT_GROUP,
        &path,
        crate::domain::expert_groups::store::ever_existed,
    )
    .await
}

// The tag is the record's, so generated clients file the history with its resource.
#[utoipa::path(
    tag = "consultations",
    summary = "History of a consultation (invitations and responses included)",
    description = "Every recorded change to a consultation (invitations and responses included), newest first; deleted records keep their history.",
    params(("id" = uuid::Uuid, Path, description = "Record id"), PageParams),
    responses(
        (status = 200, description = "A page of events", body = AuditEventList),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[get("/consultations/{id}/history")]
pub async fn consultation_history(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    history(
        state,
        req,
        entity::CONSULTATION,
        &path,
        crate::domain::consultations::store::ever_existed,
    )
    .await
}

pub fn configure(config: &mut ServiceConfig) {
    config
        .service(list_audit_events)
        .service(organisation_history)
        .service(contact_history)
        .service(expert_group_history)
        .service(consultation_history);
}
