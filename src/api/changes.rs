//! The change feed: every committed change to what a caller may read, in commit order, each
//! once (`domain::changes` keeps it). An event names the record and carries it as the
//! record's own `GET` shows it to this caller now, or its tombstone; the feed filters by the
//! caller's access as that `GET` would.

use std::collections::{BTreeSet, HashMap};

use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::consultations::{ConsultationResponse, ResponseRecord};
use crate::api::contacts::ContactResponse;
use crate::api::csv::{self, defuse};
use crate::api::expert_groups::{ExpertGroupResponse, GroupMemberResponse};
use crate::api::list::{Format, FromQuery, QueryParams, negotiate, query_params};
use crate::api::membership::{self, MembershipView};
use crate::api::organisations::OrganisationResponse;
use crate::api::schemas::{enum_set, timestamp};
use crate::api::taxonomies::{CommunityResponse, ExpertiseAreaResponse};
use crate::auth::{Principal, Scope};
use crate::db::DbConn;
use crate::domain::changes::store::{self, Filter, ReadError};
use crate::domain::changes::{
    Position, StoredChange, TYPE_PREFIXES, TYPES, entity, is_type_name, type_names,
};
use crate::domain::consultations::{self, Attribution};
use crate::domain::organisations::{self, Organisation};
use crate::domain::{DomainError, contacts, expert_groups, taxonomies};
use crate::error::ApiError;
use crate::state::AppState;

const TAG: &str = "changes";

/// One change, as a reader of the feed sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeEvent {
    /// Where the event stands in the feed (opaque): pass it as `after` to read on from here.
    #[schema(example = "1042.7")]
    pub position: String,
    /// The event's own id: the same however often it is read or delivered.
    #[schema(format = Uuid)]
    pub id: String,
    #[serde(rename = "type")]
    #[schema(example = "membership.status_changed")]
    pub event_type: String,
    #[schema(format = DateTime)]
    pub occurred_at: String,
    /// `organisation`, `membership`, `contact`, `expert_group`, `expert_group_member`,
    /// `consultation`, `consultation_response`, `community` or `expertise_area`.
    #[schema(example = "membership")]
    pub entity_type: String,
    /// The record's id (a code for taxonomy entries; the organisation's for a membership).
    pub entity_id: String,
    /// The record a sub-record belongs to: a seat's expert group, a response's consultation.
    pub parent_id: Option<String>,
    /// What the type alone does not say: `from`, `to`, `on` and `cause` (`action` or
    /// `calendar`) of a status move; `merged_into` of a merge.
    #[schema(value_type = Object)]
    pub detail: Map<String, Value>,
    /// The record as its own `GET` shows it to you now (not as it was when the event
    /// happened), or its tombstone `{id, deleted_at, merged_into}` once it is deleted.
    #[schema(value_type = Object)]
    pub data: Value,
}

/// A page of the feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangePage {
    pub data: Vec<ChangeEvent>,
    /// Pass as `after` for the next page. On a page shorter than `limit` it is the feed's
    /// end as of this read: poll with it to hear of new changes.
    #[schema(example = "1042.7")]
    pub next_position: String,
}

/// The feed's end now.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedPosition {
    /// Read this before a full sync, then follow the feed from it: nothing is missed.
    #[schema(example = "1042")]
    pub position: String,
}

fn types(params: &mut QueryParams, name: &str) -> Vec<String> {
    params.many::<String>(name)
}

/// `?types=` as documented: type names and prefixes.
fn types_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    enum_set(&type_names(), "Event types, or prefixes ending in a dot")
}

query_params! {
    /// Where to read from and which events.
    pub struct ChangeParams {
        /// A `position` or `next_position` this feed gave; from the oldest change kept when
        /// absent. 410 when retention has removed changes after it.
        #[param(value_type = Option<String>, pattern = r"^[0-9]{1,18}(\.[0-9]{1,18})?$")]
        pub after: Option<String> = text,
        /// Event types (`organisation.updated`), or prefixes ending in a dot
        /// (`membership.`); repeat for several. All types when absent.
        #[param(schema_with = types_schema)]
        pub types: Vec<String> = with(types),
        #[param(value_type = Option<u32>, minimum = 1, maximum = 500, default = 50)]
        pub limit: usize = limit,
    }
}

/// The entity types `principal` may read: as the records' own `GET` operations allow.
fn readable(principal: &Principal) -> Vec<&'static str> {
    const BY_SCOPE: &[(Scope, &[&str])] = &[
        (
            Scope::OrganisationsRead,
            &[
                entity::ORGANISATION,
                entity::MEMBERSHIP,
                entity::COMMUNITY,
                entity::EXPERTISE_AREA,
            ],
        ),
        (Scope::ContactsRead, &[entity::CONTACT]),
        (
            Scope::GroupsRead,
            &[entity::EXPERT_GROUP, entity::GROUP_MEMBER],
        ),
        (
            Scope::ConsultationsRead,
            &[entity::CONSULTATION, entity::RESPONSE],
        ),
    ];
    BY_SCOPE
        .iter()
        .filter(|(scope, _)| match principal {
            // Every role may read every kind of CRM record.
            Principal::User { .. } => true,
            Principal::ApiKey { scopes, .. } => scopes.contains(scope),
        })
        .flat_map(|(_, kinds)| kinds.iter().copied())
        .collect()
}

/// Splits `?types=` into exact types and prefixes, refusing any that names no type.
fn type_filter(wanted: Vec<String>, filter: &mut Filter) -> Result<(), ApiError> {
    let mut unknown = Vec::new();
    for wanted in wanted {
        match (is_type_name(&wanted), wanted.ends_with('.')) {
            (true, true) => filter.type_prefixes.push(wanted),
            (true, false) => filter.types.push(wanted),
            (false, _) => unknown.push(wanted),
        }
    }
    match unknown.is_empty() {
        true => Ok(()),
        false => Err(ApiError::BadRequest {
            detail: format!(
                "types: {} names no event type; the types are {}, and the prefixes {}",
                unknown.join(", "),
                TYPES.join(", "),
                TYPE_PREFIXES.join(", ")
            ),
            errors: vec![crate::domain::FieldError::new(
                "types",
                "invalid",
                "names no event type",
            )],
        }),
    }
}

/// Who reads the feed, for showing each record as its `GET` shows it to them.
#[derive(Debug, Clone, Copy)]
pub struct Reader {
    sees_anonymous: bool,
    threshold: i64,
    view: MembershipView,
}

impl Reader {
    /// A webhook's receiver: told of every kind of record, as an API key with every scope
    /// is (so never who answered anonymously).
    pub fn integration(state: &AppState) -> Self {
        Self {
            sees_anonymous: false,
            threshold: state.suppression_threshold,
            view: MembershipView::today(state.grace),
        }
    }
}

/// `changes` as `reader` is shown them, leaving out those they may not learn of. The
/// organisations they are about are read together (a page of an import's changes costs a
/// few statements, not a few for each).
pub fn render(
    conn: &mut DbConn,
    changes: Vec<StoredChange>,
    reader: Reader,
) -> Result<Vec<ChangeEvent>, DomainError> {
    let organisation_ids: BTreeSet<String> = changes
        .iter()
        .filter(|change| change.entity_type == entity::ORGANISATION)
        .map(|change| change.entity_id.clone())
        .collect();
    let organisation_ids: Vec<String> = organisation_ids.into_iter().collect();
    let organisations = organisations::find_many(conn, &organisation_ids)?;
    let mut events = Vec::with_capacity(changes.len());
    for change in changes {
        if let Some(data) = record(conn, &change, reader, &organisations)? {
            events.push(event(change, data));
        }
    }
    Ok(events)
}

fn shown(record: impl Serialize) -> Value {
    serde_json::to_value(record).unwrap_or(Value::Null)
}

/// The record `change` is about as its `GET` shows it to `reader`, its tombstone once it is
/// deleted, or `None` when `reader` may not learn of it at all (an anonymous response while
/// anonymous responses are not disclosed to them). `organisations` holds every live
/// organisation among the changes being rendered (`render` reads them together).
fn record(
    conn: &mut DbConn,
    change: &StoredChange,
    reader: Reader,
    organisations: &HashMap<String, Organisation>,
) -> Result<Option<Value>, DomainError> {
    let id = change.entity_id.as_str();
    let parent = change.parent_id.as_deref().unwrap_or_default();
    let found = match change.entity_type.as_str() {
        entity::ORGANISATION => organisations
            .get(id)
            .map(|organisation| shown(OrganisationResponse::new(organisation.clone(), reader.view)))
            .ok_or(DomainError::NotFound("organisation")),
        entity::MEMBERSHIP => membership::read(conn, id, reader.view).map(shown),
        entity::CONTACT => contacts::store::find(conn, id).map(|c| shown(ContactResponse::from(c))),
        entity::EXPERT_GROUP => {
            expert_groups::store::find(conn, id).map(|g| shown(ExpertGroupResponse::from(g)))
        }
        entity::GROUP_MEMBER => expert_groups::store::member(conn, parent, id)
            .map(|m| shown(GroupMemberResponse::from(m))),
        entity::CONSULTATION => {
            consultations::store::find(conn, id).map(|c| shown(ConsultationResponse::from(c)))
        }
        entity::RESPONSE if hidden(conn, change, reader)? => return Ok(None),
        entity::RESPONSE => consultations::store::response(conn, parent, id)
            .map(|r| shown(ResponseRecord::new(r, reader.sees_anonymous))),
        entity::COMMUNITY => {
            taxonomies::community(conn, id).map(|c| shown(CommunityResponse::from(c)))
        }
        entity::EXPERTISE_AREA => {
            taxonomies::expertise_area(conn, id).map(|a| shown(ExpertiseAreaResponse::from(a)))
        }
        _ => Err(DomainError::NotFound("record")),
    };
    match found {
        Ok(data) => Ok(Some(data)),
        Err(DomainError::NotFound(_)) => {
            let gone = store::gone(conn, &change.entity_type, id)?;
            let (deleted_at, merged_into) = match gone {
                Some(gone) => (gone.deleted_at, gone.merged_into),
                None => (change.occurred_at, None),
            };
            let mut tombstone = json!({"id": id, "deleted_at": timestamp(deleted_at)});
            if let Some(survivor) = merged_into {
                tombstone["merged_into"] = survivor.into();
            }
            Ok(Some(tombstone))
        }
        Err(error) => Err(error),
    }
}

/// Whether `reader` may not learn of the record `change` is about at all: an anonymous
/// response while anonymous responses are not disclosed to them (its `GET` is a 404).
fn hidden(conn: &mut DbConn, change: &StoredChange, reader: Reader) -> Result<bool, DomainError> {
    if change.entity_type != entity::RESPONSE {
        return Ok(false);
    }
    let consultation = change.parent_id.as_deref().unwrap_or_default();
    match consultations::store::response(conn, consultation, &change.entity_id) {
        Ok(response) if response.fields.attribution == Attribution::Anonymous => {
            let disclosed = consultations::store::anonymous_responses_disclosed_to(
                conn,
                consultation,
                reader.sees_anonymous,
                reader.threshold,
            )?;
            Ok(!disclosed)
        }
        _ => Ok(false),
    }
}

fn event(change: StoredChange, data: Value) -> ChangeEvent {
    ChangeEvent {
        position: change.position.to_string(),
        id: change.id,
        event_type: change.event_type,
        occurred_at: timestamp(change.occurred_at),
        entity_type: change.entity_type,
        entity_id: change.entity_id,
        parent_id: change.parent_id,
        detail: change.detail,
        data,
    }
}

impl From<ReadError> for ApiError {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::Expired => ApiError::Gone {
                detail: "changes after this position have passed the feed's retention and been removed: sync in full (the lists with include_deleted=true), then follow the feed from GET /api/v1/changes/position read before the sync".to_owned(),
            },
            ReadError::Ahead => ApiError::Conflict {
                detail: "this position is ahead of the feed's end, so this feed did not give it: the database may have been restored from a backup, or the position is another service's. Sync in full, then follow the feed from GET /api/v1/changes/position read before the sync".to_owned(),
                errors: Vec::new(),
            },
            ReadError::Domain(error) => error.into(),
        }
    }
}

const CHANGE_CSV_HEADER: &[&str] = &[
    "position",
    "id",
    "type",
    "occurred_at",
    "entity_type",
    "entity_id",
    "parent_id",
    "detail",
];

fn change_csv_record(change: StoredChange) -> Vec<String> {
    vec![
        change.position.to_string(),
        change.id,
        change.event_type,
        timestamp(change.occurred_at),
        change.entity_type,
        defuse(&change.entity_id),
        change.parent_id.unwrap_or_default(),
        defuse(&Value::Object(change.detail).to_string()),
    ]
}

/// Read the change feed
///
/// Every committed change to what you may read, in commit order, each once: keep calling
/// with the last `next_position` and you never miss or repeat a change, however long other
/// writes take. Events are filtered by your access as the records' own `GET` operations
/// are (an API key with `organisations:read` hears of organisations, memberships and
/// taxonomies, never contacts). Membership status moves by the calendar (to grace, lapsed,
/// a withdrawal taking effect) arrive as `membership.status_changed` on their day.
///
/// `Accept: text/csv` streams every change from `after` to the end of the feed, without
/// `data` (fetch the records you need).
#[utoipa::path(
    tag = TAG,
    params(ChangeParams),
    responses(
        (status = 200, description = "A page of changes", body = ChangePage,
         content((ChangePage = "application/json"), (String = "text/csv"))),
        (status = 409, description = "The position is ahead of the feed's end: not one it gave (a restored database?); sync in full", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 410, response = crate::api::responses::Gone),
    )
)]
#[get("/changes")]
pub async fn list_changes(
    state: web::Data<AppState>,
    req: HttpRequest,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    let format = negotiate(&req, true)?;
    let params = ChangeParams::parse(req.query_string())?;
    let after =
        match params.after {
            None => None,
            Some(text) => Some(text.parse::<Position>().map_err(|()| {
                ApiError::BadRequest {
                    detail:
                        "after: must be a position this feed gave (a position or next_position)"
                            .to_owned(),
                    errors: vec![crate::domain::FieldError::new(
                        "after",
                        "invalid",
                        "is not a position",
                    )],
                }
            })?),
        };
    let mut filter = Filter {
        entity_types: readable(&principal),
        ..Filter::default()
    };
    type_filter(params.types, &mut filter)?;
    let limit = params.limit as i64;
    let reader = Reader {
        sees_anonymous: principal.sees_anonymous_responses(),
        threshold: state.suppression_threshold,
        view: MembershipView::today(state.grace),
    };
    if format == Format::Csv {
        // A position past retention is a 410 before the download starts.
        if let Some(after) = after {
            let nothing = Filter::default();
            state
                .db
                .run(move |conn| store::page(conn, Some(after), 1, &nothing).map(|_| ()))
                .await?;
        }
        let export = csv::Export::start(state.db.clone(), after, move |conn, after| {
            let page =
                store::page(conn, after, csv::PAGE as i64, &filter).map_err(
                    |error| match error {
                        ReadError::Domain(error) => error,
                        // Checked before the download; retention ran since: it ends here.
                        ReadError::Expired | ReadError::Ahead => DomainError::NotFound("changes"),
                    },
                )?;
            let more = page.changes.len() == csv::PAGE;
            let mut rows = Vec::with_capacity(page.changes.len());
            for change in page.changes {
                if !hidden(conn, &change, reader)? {
                    rows.push(change_csv_record(change));
                }
            }
            Ok((rows, more.then_some(page.next)))
        })
        .await?;
        return Ok(export.respond("changes.csv", CHANGE_CSV_HEADER));
    }
    let page = state
        .db
        .run(move |conn| {
            let page = store::page(conn, after, limit, &filter)?;
            Ok::<_, ReadError>(ChangePage {
                data: render(conn, page.changes, reader)?,
                next_position: page.next.to_string(),
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// The feed's end
///
/// The position of the newest change now. An integration starting out reads it, syncs in
/// full, then follows the feed from it: every change made during the sync is in the feed
/// after this position.
#[utoipa::path(
    tag = TAG,
    responses(
        (status = 200, description = "The feed's end", body = FeedPosition),
    )
)]
#[get("/changes/position")]
pub async fn feed_position(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let extent = state
        .db
        .run(|conn| store::extent(conn).map_err(DomainError::from))
        .await?;
    Ok(HttpResponse::Ok().json(FeedPosition {
        position: Position::end_of(extent.head).to_string(),
    }))
}

pub fn configure(config: &mut ServiceConfig) {
    config.service(feed_position).service(list_changes);
}
