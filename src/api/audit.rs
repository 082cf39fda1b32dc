//! `/api/v1/audit-events` (admins) and each record's history (staff): the audit trail as
//! written by every change, newest first.

use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::list::{QueryParams, by_id_query, next_by_id, page_response};
use crate::api::path_id;
use crate::api::schemas::timestamp;
use crate::app::AppState;
use crate::domain::FieldError;
use crate::domain::audit::store::{self, Filter, Record};
use crate::domain::audit::{ActorType, StoredEvent, entity};
use crate::error::ApiError;

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
    #[schema(value_type = Object)]
    pub changes: serde_json::Value,
    /// The `X-Request-Id` of the request that made the change.
    pub request_id: Option<String>,
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

/// Filters of the audit trail; repeat a parameter for OR within it.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditEventParams {
    /// `organisation`, `contact`, `expert_group`, `consultation`, `user`, `api_key`,
    /// `session`, `community`, `expertise_area`, `benchmark`, `target`, `report_snapshot`.
    pub entity_type: Option<Vec<String>>,
    pub entity_id: Option<String>,
    pub actor_type: Option<Vec<ActorType>>,
    pub actor_id: Option<String>,
    pub action: Option<Vec<String>>,
    /// The events one request wrote (its `X-Request-Id`).
    pub request_id: Option<String>,
    /// Events at or after this time.
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// Events before this time.
    #[param(format = DateTime)]
    pub until: Option<String>,
    /// Add `total`, the number of events matching the filters.
    pub include_total: Option<bool>,
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<u32>,
    #[param(pattern = r"^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

fn read_filter(params: &mut QueryParams) -> Result<Filter, ApiError> {
    let entity_type: Vec<String> = params.many("entity_type");
    let filter = Filter {
        entity_id: params.text("entity_id"),
        actor_type: params.many("actor_type"),
        actor_id: params.text("actor_id"),
        action: params
            .many::<String>("action")
            .into_iter()
            .filter(|a| a.len() <= 64)
            .collect(),
        request_id: params.text("request_id"),
        since: params.timestamp("since"),
        until: params.timestamp("until"),
        entity_type,
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
        (status = 200, description = "A page of events", body = AuditEventList,
         headers(("Link" = String, description = "`<…>; rel=\"next\"` when there is a next page"))),
        (status = 400, response = crate::api::responses::BadRequest),
        (status = 503, response = crate::api::responses::Unavailable),
    )
)]
#[get("/audit-events")]
pub async fn list_audit_events(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut filter = Err(ApiError::internal("the filter was not read"));
    let (include_total, before, limit) = by_id_query(&req, |params| {
        filter = read_filter(params);
        params.boolean("include_total").unwrap_or(false)
    })?;
    let filter = filter?;
    let (page, total) = state
        .db
        .run(move |conn| {
            let page = store::list(conn, &filter, before.as_deref(), limit)?;
            let total = match include_total {
                true => Some(store::count(conn, &filter)?),
                false => None,
            };
            Ok::<_, crate::domain::DomainError>((page, total))
        })
        .await?;
    Ok(events_page(&req, page, total))
}

fn events_page(
    req: &HttpRequest,
    (events, next): crate::domain::Page<StoredEvent>,
    total: Option<i64>,
) -> HttpResponse {
    let next_cursor = next_by_id(next);
    page_response(
        req,
        next_cursor.as_deref(),
        AuditEventList {
            data: events.into_iter().map(Into::into).collect(),
            next_cursor: next_cursor.clone(),
            total,
        },
    )
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
    let ((), before, limit) = by_id_query(&req, |_| ())?;
    let page = state
        .db
        .run(move |conn| {
            if !exists(conn, &id)? {
                return Err(crate::domain::DomainError::NotFound("record"));
            }
            let record = Record {
                entity_type,
                entity_id: id,
            };
            store::history(conn, &record, before.as_deref(), limit)
        })
        .await?;
    Ok(events_page(&req, page, None))
}

/// Paging through a record's history.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<u32>,
    #[param(pattern = r"^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

macro_rules! history_operation {
    ($name:ident, $path:literal, $entity:expr, $noun:literal, $exists:path) => {
        #[doc = concat!("History of ", $noun)]
        #[doc = ""]
        #[doc = concat!("Every recorded change to ", $noun, ", newest first; deleted records keep their history.")]
        #[utoipa::path(
            tag = TAG,
            params(("id" = uuid::Uuid, Path, description = "Record id"), HistoryParams),
            responses(
                (status = 200, description = "A page of events", body = AuditEventList,
                 headers(("Link" = String, description = "`<…>; rel=\"next\"` when there is a next page"))),
                (status = 400, response = crate::api::responses::BadRequest),
                (status = 404, response = crate::api::responses::NotFound),
                (status = 503, response = crate::api::responses::Unavailable),
            )
        )]
        #[get($path)]
        pub async fn $name(
            state: web::Data<AppState>,
            req: HttpRequest,
            path: web::Path<String>,
        ) -> Result<HttpResponse, ApiError> {
            history(state, req, $entity, &path, $exists).await
        }
    };
}

history_operation!(
    organisation_history,
    "/organisations/{id}/history",
    entity::ORGANISATION,
    "an organisation (membership actions included)",
    crate::domain::organisations::ever_existed
);
history_operation!(
    contact_history,
    "/contacts/{id}/history",
    entity::CONTACT,
    "a contact (with their group memberships and responses)",
    crate::domain::contacts::store::ever_existed
);
history_operation!(
    expert_group_history,
    "/expert-groups/{id}/history",
    entity::EXPERT_GROUP,
    "an expert group (members included)",
    crate::domain::expert_groups::store::ever_existed
);
history_operation!(
    consultation_history,
    "/consultations/{id}/history",
    entity::CONSULTATION,
    "a consultation (invitations and responses included)",
    crate::domain::consultations::store::ever_existed
);

pub fn configure(config: &mut ServiceConfig) {
    config
        .service(list_audit_events)
        .service(organisation_history)
        .service(contact_history)
        .service(expert_group_history)
        .service(consultation_history);
}
