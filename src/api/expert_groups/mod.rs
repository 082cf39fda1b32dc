//! `/api/v1/expert-groups`: the groups the alliance convenes. This file holds the group itself
//! (DTOs, list, create, read, update, delete); its members over time are in `members`, and
//! one organisation's or contact's memberships (`/organisations/{id}/expert-groups`,
//! `/contacts/{id}/expert-groups`) in `memberships`.

mod members;
mod memberships;

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

pub use members::GroupMemberResponse;
pub use memberships::GroupMembershipResponse;

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
    ListEntry, Listable, expertise_codes, group_kinds, group_statuses, timestamp,
};
use crate::api::validation::{self as rules, unique_items};
use crate::domain::audit::{self, entity};
use crate::domain::expert_groups::{
    ExpertGroup, GroupFilter, GroupKind, GroupProfile, GroupSort, GroupStatus, store,
};
use crate::domain::{DomainError, Listed};
use crate::error::ApiError;
use crate::state::AppState;

pub(super) const TAG: &str = "expert-groups";

#[derive(Debug, Serialize, ToSchema)]
pub struct ExpertGroupResponse {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(example = "Research Advisory Group")]
    pub name: String,
    pub kind: GroupKind,
    pub purpose: Option<String>,
    #[schema(schema_with = expertise_codes)]
    pub expertise: Vec<String>,
    pub status: GroupStatus,
    pub started_on: Option<NaiveDate>,
    pub ended_on: Option<NaiveDate>,
    /// Members whose membership has not ended.
    pub current_member_count: i64,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl Resource for ExpertGroup {
    type Shown = ExpertGroupResponse;
    const SUBJECT: Subject = Subject::record(entity::EXPERT_GROUP);
    const PATH: &'static str = "/api/v1/expert-groups";
    const KEY: fn(&Self) -> (&str, i64) = |r| (&r.id, r.version);
}

impl From<ExpertGroup> for ExpertGroupResponse {
    fn from(group: ExpertGroup) -> Self {
        let p = group.profile;
        Self {
            id: group.id,
            name: p.name,
            kind: p.kind,
            purpose: p.purpose,
            expertise: p.expertise,
            status: p.status,
            started_on: p.started_on,
            ended_on: p.ended_on,
            current_member_count: group.current_member_count,
            created_at: timestamp(group.created_at),
            updated_at: timestamp(group.updated_at),
        }
    }
}

/// A list entry: a group, or a tombstone when `include_deleted=true`.
pub type ExpertGroupListEntry = ListEntry<ExpertGroupResponse>;

impl Listable for ExpertGroupResponse {
    const ENTRY: &'static str = "ExpertGroupListEntry";
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExpertGroupList {
    pub data: Vec<ExpertGroupListEntry>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
    /// How many groups match the filters, with `include_total=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
}

/// A new group. Only the name and kind are required.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateExpertGroupRequest {
    #[validate(required(message = "is required"), length(min = 1, max = 200), regex(path = *rules::SINGLE_LINE_RE, message = "must be one line of text without leading or trailing spaces"))]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 200, pattern = "SINGLE_LINE")]
    pub name: Option<String>,
    #[validate(required(message = "is required"))]
    #[schema(value_type = GroupKind, required = true)]
    pub kind: Option<GroupKind>,
    #[serde(default)]
    #[validate(length(max = 5000), regex(path = *rules::MULTI_LINE_RE, message = "must not contain control characters other than line breaks and tabs"))]
    #[schema(max_length = 5000, pattern = "MULTI_LINE")]
    pub purpose: Option<String>,
    /// Active expertise area codes (422 names an unknown or retired one).
    #[serde(default)]
    #[validate(length(max = 50, message = "at most 50 expertise areas"), custom(function = unique_items))]
    #[schema(schema_with = expertise_codes)]
    pub expertise: Vec<String>,
    /// Defaults to `forming`.
    #[serde(default)]
    pub status: Option<GroupStatus>,
    #[serde(default)]
    pub started_on: Option<NaiveDate>,
    /// Not before `started_on`.
    #[serde(default)]
    pub ended_on: Option<NaiveDate>,
}

impl CreateExpertGroupRequest {
    fn into_profile(self) -> Result<GroupProfile, DomainError> {
        date_range((self.started_on, "started_on"), (self.ended_on, "ended_on"))?;
        Ok(GroupProfile {
            name: required(self.name, "name")?,
            kind: required(self.kind, "kind")?,
            purpose: self.purpose,
            expertise: self.expertise,
            status: self.status.unwrap_or(GroupStatus::Forming),
            started_on: self.started_on,
            ended_on: self.ended_on,
        })
    }
}

/// A JSON Merge Patch: fields left out keep their value, `null` clears an optional one.
/// Changing `status` must follow forming → active or closed, active → closed, closed →
/// active (409 otherwise).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateExpertGroupRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, min_length = 1, max_length = 200, pattern = "SINGLE_LINE")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = GroupKind)]
    pub kind: Option<GroupKind>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 5000, pattern = "MULTI_LINE")]
    pub purpose: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = expertise_codes)]
    pub expertise: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = GroupStatus)]
    pub status: Option<GroupStatus>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<NaiveDate>)]
    pub started_on: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<NaiveDate>)]
    pub ended_on: Option<Option<NaiveDate>>,
}

/// Rules are checked on the patched whole (as a new group would be), in `apply`.
impl Validate for UpdateExpertGroupRequest {
    fn validate(&self) -> Result<(), validator::ValidationErrors> {
        Ok(())
    }
}

impl UpdateExpertGroupRequest {
    fn apply(&self, current: &GroupProfile) -> Result<GroupProfile, DomainError> {
        let next = CreateExpertGroupRequest {
            name: Some(patched(&self.name, &current.name)),
            kind: Some(patched(&self.kind, &current.kind)),
            purpose: patched(&self.purpose, &current.purpose),
            expertise: patched(&self.expertise, &current.expertise),
            status: Some(patched(&self.status, &current.status)),
            started_on: patched(&self.started_on, &current.started_on),
            ended_on: patched(&self.ended_on, &current.ended_on),
        };
        validated(next)?.into_profile()
    }
}

query_params! {
    /// Filters and order for `GET /expert-groups`.
    pub struct ExpertGroupListParams {
        /// Most entries per page (1 to 500). Ignored by CSV, which streams every match.
        #[param(value_type = Option<u32>, minimum = 1, maximum = 500, default = 50)]
        pub limit: usize = limit,
        /// `next_cursor` from the previous page.
        #[param(value_type = Option<String>, pattern = "CURSOR")]
        pub cursor: Option<Cursor> = cursor,
        /// `name` by default; `updated_at` when `updated_since` is given.
        #[param(inline)]
        pub sort: Option<GroupSort> = parsed,
        /// Add `total`, the number of matching groups.
        pub include_total: Option<bool> = boolean,
        /// Only groups changed after this instant, for incremental sync.
        #[param(value_type = Option<String>, format = DateTime)]
        pub updated_since: Option<NaiveDateTime> = timestamp,
        /// Include deleted groups as tombstones `{id, deleted_at}`.
        pub include_deleted: Option<bool> = boolean,
        #[param(schema_with = group_kinds)]
        pub kind: Vec<GroupKind> = many,
        #[param(schema_with = group_statuses)]
        pub status: Vec<GroupStatus> = many,
        #[param(schema_with = expertise_codes)]
        pub expertise: Vec<String> = codes(&rules::EXPERTISE_CODE_RE),
        /// Case-insensitive part of the name.
        #[param(max_length = 200, pattern = "QUERY_TEXT")]
        pub q: Option<String> = text,
    }
}

const GROUP_CSV_HEADER: &[&str] = &[
    "id",
    "name",
    "kind",
    "status",
    "purpose",
    "expertise",
    "started_on",
    "ended_on",
    "current_member_count",
    "created_at",
    "updated_at",
    "deleted_at",
];

fn group_csv_record(entry: Listed<ExpertGroup>) -> Vec<String> {
    paging::listed_record(GROUP_CSV_HEADER, entry, |group| {
        let p = &group.profile;
        vec![
            group.id.clone(),
            defuse(&p.name),
            p.kind.to_string(),
            p.status.to_string(),
            defuse(p.purpose.as_deref().unwrap_or_default()),
            p.expertise.join(";"),
            csv::date(p.started_on),
            csv::date(p.ended_on),
            group.current_member_count.to_string(),
            timestamp(group.created_at),
            timestamp(group.updated_at),
            String::new(),
        ]
    })
}

/// List expert groups
///
/// Keyset-paginated and filtered; `Accept: text/csv` streams every match as CSV.
#[utoipa::path(
    tag = TAG,
    params(ExpertGroupListParams),
    responses(
        (status = 200, description = "A page of groups", body = ExpertGroupList,
         content((ExpertGroupList = "application/json"), (String = "text/csv"))),
    )
)]
#[get("/expert-groups")]
pub async fn list_expert_groups(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let format = negotiate(&req, true)?;
    let params = ExpertGroupListParams::parse(req.query_string())?;
    let filter = GroupFilter {
        kinds: params.kind,
        statuses: params.status,
        expertise: params.expertise,
        q: params.q,
        updated_since: params.updated_since,
        include_deleted: params.include_deleted.unwrap_or(false),
    };
    let sort = params.sort.unwrap_or(if filter.updated_since.is_some() {
        GroupSort::UpdatedAt
    } else {
        GroupSort::Name
    });
    let keyset = Keyset::sorted(sort.as_str(), params.cursor, params.limit)?;
    let listing = Listing::new(filter, move |conn, filter, after, limit| {
        store::list(conn, filter, sort, after, limit)
    })
    .with_total(params.include_total.unwrap_or(false), store::count);
    let csv = CsvForm {
        filename: "expert-groups.csv",
        header: GROUP_CSV_HEADER,
        record: group_csv_record,
    };
    paging::answer(&state.db, &req, format, keyset, listing, csv, |page| {
        ExpertGroupList {
            data: page
                .rows
                .into_iter()
                .map(|entry| ListEntry::new(entry, ExpertGroupResponse::from))
                .collect(),
            next_cursor: page.next_cursor,
            total: page.total,
        }
    })
    .await
}

/// Create an expert group
#[utoipa::path(
    tag = TAG,
    request_body = CreateExpertGroupRequest,
    responses(
        (status = 201, description = "Created", body = ExpertGroupResponse,
         headers(("Location" = String, description = "The new group"), ("ETag" = String, description = "Its version"))),
    )
)]
#[post("/expert-groups")]
pub async fn create_expert_group(
    state: web::Data<AppState>,
    body: JsonBody<CreateExpertGroupRequest>,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let profile = body.0.into_profile()?;
    resource::create(&state.db, audit, move |conn| store::create(conn, &profile)).await
}

/// Get an expert group
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Expert group id")),
    responses(
        (status = 200, description = "The group", body = ExpertGroupResponse,
         headers(("ETag" = String, description = "Send in If-Match to update safely"))),
        (status = 304, description = "Not modified: the If-None-Match tag is current"),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[get("/expert-groups/{id}")]
pub async fn get_expert_group(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    let group = state.db.run(move |conn| store::find(conn, &id)).await?;
    Ok(resource::read(&req, group))
}

/// Update an expert group
///
/// JSON Merge Patch; send the `ETag` you read in `If-Match` (412 when it is stale). A status
/// change the group's life does not allow is 409.
#[utoipa::path(
    tag = TAG,
    params(
        ("id" = uuid::Uuid, Path, description = "Expert group id"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "The ETag this change was based on"),
    ),
    request_body(content = UpdateExpertGroupRequest, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "Updated", body = ExpertGroupResponse, headers(("ETag" = String, description = "The new version"))),
        (status = 404, response = crate::api::responses::NotFound),
        (status = 409, response = crate::api::responses::Conflict),
    )
)]
#[patch("/expert-groups/{id}")]
pub async fn update_expert_group(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    body: JsonBody<UpdateExpertGroupRequest>,
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

/// Delete an expert group
///
/// A soft delete: the group leaves reads and lists; sync sees a tombstone.
#[utoipa::path(
    tag = TAG,
    params(
        ("id" = uuid::Uuid, Path, description = "Expert group id"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "The ETag this deletion was based on"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[delete("/expert-groups/{id}")]
pub async fn delete_expert_group(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    resource::delete::<ExpertGroup>(&state.db, audit, id, &req, store::soft_delete).await
}

pub fn configure(config: &mut ServiceConfig) {
    config
        .service(list_expert_groups)
        .service(create_expert_group)
        .service(get_expert_group)
        .service(update_expert_group)
        .service(delete_expert_group)
        .service(members::list_group_members)
        .service(members::add_group_member)
        .service(members::get_group_member)
        .service(members::update_group_member)
        .service(memberships::organisation_expert_groups)
        .service(memberships::contact_expert_groups);
}
