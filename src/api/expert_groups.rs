//! `/api/v1/expert-groups`: the groups the alliance convenes and their members over time,
//! and `/organisations/{id}/expert-groups`, `/contacts/{id}/expert-groups` for one member's.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use crate::api::audited::Subject;
use crate::api::body::{JsonBody, field_errors, nullable, present, required};
use crate::api::conditional::{created, version_check};
use crate::api::csv::{self, defuse};
use crate::api::list::{
    Cursor, Format, FromQuery, by_id_after, negotiate, next_by_id, page_response, query_params,
};
use crate::api::path_id;
use crate::api::resource::{self, Resource};
use crate::api::schemas::{
    ListEntry, Listable, expertise_codes, group_kinds, group_statuses, timestamp,
};
use crate::api::validation::{self as rules, unique_items};
use crate::domain::audit::{self, Event, entity};
use crate::domain::expert_groups::{
    ExpertGroup, GroupFilter, GroupKind, GroupMember, GroupProfile, GroupSort, GroupStatus,
    MemberFields, MemberRole, Membership, Party, Tenure, store,
};
use crate::domain::{DomainError, FieldError, Gone, Listed};
use crate::error::ApiError;
use crate::state::AppState;

const TAG: &str = "expert-groups";

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
        let invalid = |field: &str| {
            DomainError::Invalid(vec![FieldError::new(field, "required", "is required")])
        };
        if let (Some(start), Some(end)) = (self.started_on, self.ended_on)
            && end < start
        {
            return Err(DomainError::Invalid(vec![FieldError::new(
                "ended_on",
                "invalid",
                "must not be before started_on",
            )]));
        }
        Ok(GroupProfile {
            name: self.name.ok_or_else(|| invalid("name"))?,
            kind: self.kind.ok_or_else(|| invalid("kind"))?,
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
            name: Some(self.name.clone().unwrap_or_else(|| current.name.clone())),
            kind: Some(self.kind.unwrap_or(current.kind)),
            purpose: self
                .purpose
                .clone()
                .unwrap_or_else(|| current.purpose.clone()),
            expertise: self
                .expertise
                .clone()
                .unwrap_or_else(|| current.expertise.clone()),
            status: Some(self.status.unwrap_or(current.status)),
            started_on: self.started_on.unwrap_or(current.started_on),
            ended_on: self.ended_on.unwrap_or(current.ended_on),
        };
        next.validate()
            .map_err(|errors| DomainError::Invalid(field_errors(&errors)))?;
        next.into_profile()
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
    match entry {
        Listed::Deleted(Gone { id, deleted_at, .. }) => {
            let mut row = vec![String::new(); GROUP_CSV_HEADER.len()];
            row[0] = id;
            row[GROUP_CSV_HEADER.len() - 1] = timestamp(deleted_at);
            row
        }
        Listed::Live(group) => {
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
        }
    }
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
    let sort = params.sort;
    let include_total = params.include_total.unwrap_or(false);
    let filter = GroupFilter {
        kinds: params.kind,
        statuses: params.status,
        expertise: params.expertise,
        q: params.q,
        updated_since: params.updated_since,
        include_deleted: params.include_deleted.unwrap_or(false),
    };
    let sort = sort.unwrap_or(if filter.updated_since.is_some() {
        GroupSort::UpdatedAt
    } else {
        GroupSort::Name
    });
    let after = match params.cursor {
        Some(cursor) => Some(cursor.for_sort(sort.as_str())?),
        None => None,
    };
    if format == Format::Csv {
        return csv::attachment(
            state.db.clone(),
            "expert-groups.csv",
            GROUP_CSV_HEADER,
            after,
            move |conn, after| {
                let (entries, next) = store::list(conn, &filter, sort, after.as_ref(), csv::PAGE)?;
                Ok((entries.into_iter().map(group_csv_record).collect(), next))
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
        .map(|entry| ListEntry::new(entry, ExpertGroupResponse::from))
        .collect();
    Ok(page_response(
        &req,
        next_cursor.as_deref(),
        ExpertGroupList {
            data,
            next_cursor: next_cursor.clone(),
            total,
        },
    ))
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

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupMemberResponse {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Uuid)]
    pub group_id: String,
    /// Set when the member is an organisation.
    #[schema(format = Uuid)]
    pub organisation_id: Option<String>,
    /// Set when the member is a person.
    #[schema(format = Uuid)]
    pub contact_id: Option<String>,
    pub role: MemberRole,
    pub joined_on: NaiveDate,
    /// The last day; null while the membership lasts.
    pub left_on: Option<NaiveDate>,
    /// Not ended as of today.
    pub current: bool,
}

impl From<GroupMember> for GroupMemberResponse {
    fn from(member: GroupMember) -> Self {
        let today = Utc::now().date_naive();
        Self {
            current: member.fields.is_current(today),
            organisation_id: member.party.organisation_id().map(str::to_owned),
            contact_id: member.party.contact_id().map(str::to_owned),
            id: member.id,
            group_id: member.group_id,
            role: member.fields.role,
            joined_on: member.fields.joined_on,
            left_on: member.fields.left_on,
        }
    }
}

/// A new member: an organisation or a contact (exactly one of the two).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddGroupMemberRequest {
    #[serde(default)]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub organisation_id: Option<uuid::Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub contact_id: Option<uuid::Uuid>,
    /// A group has at most one chair at a time (409 for a second).
    #[validate(required(message = "is required"))]
    #[schema(value_type = MemberRole, required = true)]
    pub role: Option<MemberRole>,
    /// Defaults to today.
    #[serde(default)]
    pub joined_on: Option<NaiveDate>,
    /// Not before `joined_on`.
    #[serde(default)]
    pub left_on: Option<NaiveDate>,
}

/// Change a membership (JSON Merge Patch); set `left_on` when someone leaves, so the history
/// stays.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateGroupMemberRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = MemberRole)]
    pub role: Option<MemberRole>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = NaiveDate)]
    pub joined_on: Option<NaiveDate>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<NaiveDate>)]
    pub left_on: Option<Option<NaiveDate>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupMemberList {
    pub data: Vec<GroupMemberResponse>,
    pub next_cursor: Option<String>,
}

query_params! {
    /// Which memberships, and which page of them.
    pub struct MemberListParams {
        /// `current` (not ended), `past` (ended) or `all`.
        #[param(inline)]
        pub status: Option<Tenure> = parsed,
        #[param(value_type = Option<u32>, minimum = 1, maximum = 500, default = 50)]
        pub limit: usize = limit,
        #[param(value_type = Option<String>, pattern = "CURSOR")]
        pub cursor: Option<Cursor> = cursor,
    }
}

/// `status`, `limit` and `cursor` of a membership list.
fn member_list_query(
    req: &HttpRequest,
    default: Tenure,
) -> Result<(Tenure, Option<String>, usize), ApiError> {
    let params = MemberListParams::parse(req.query_string())?;
    let after = by_id_after(params.cursor)?;
    Ok((params.status.unwrap_or(default), after, params.limit))
}

const MEMBER_CSV_HEADER: &[&str] = &[
    "id",
    "group_id",
    "organisation_id",
    "contact_id",
    "role",
    "joined_on",
    "left_on",
    "current",
];

fn member_csv_record(member: GroupMember) -> Vec<String> {
    let m = GroupMemberResponse::from(member);
    vec![
        m.id,
        m.group_id,
        m.organisation_id.unwrap_or_default(),
        m.contact_id.unwrap_or_default(),
        m.role.to_string(),
        m.joined_on.to_string(),
        csv::date(m.left_on),
        m.current.to_string(),
    ]
}

/// List a group's members
///
/// Current members by default; `status=past` gives those who left, `status=all` both.
/// `Accept: text/csv` streams them as CSV.
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Expert group id"), MemberListParams),
    responses(
        (status = 200, description = "A page of memberships", body = GroupMemberList,
         content((GroupMemberList = "application/json"), (String = "text/csv"))),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[get("/expert-groups/{id}/members")]
pub async fn list_group_members(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let format = negotiate(&req, true)?;
    let id = path_id(&path)?;
    let (tenure, after, limit) = member_list_query(&req, Tenure::Current)?;
    if format == Format::Csv {
        // Check the group first, so an unknown one is a 404 and not an empty file.
        let group = id.clone();
        state.db.run(move |conn| store::find(conn, &group)).await?;
        return csv::attachment(
            state.db.clone(),
            "members.csv",
            MEMBER_CSV_HEADER,
            after,
            move |conn, after| {
                let (members, next) =
                    store::members(conn, &id, tenure, after.as_deref(), csv::PAGE)?;
                Ok((
                    members.into_iter().map(member_csv_record).collect(),
                    next.map(|(_, id)| id),
                ))
            },
        )
        .await;
    }
    let (members, next) = state
        .db
        .run(move |conn| store::members(conn, &id, tenure, after.as_deref(), limit))
        .await?;
    let next_cursor = next_by_id(next);
    Ok(page_response(
        &req,
        next_cursor.as_deref(),
        GroupMemberList {
            data: members.into_iter().map(Into::into).collect(),
            next_cursor: next_cursor.clone(),
        },
    ))
}

/// Add a member to a group
///
/// An organisation or a contact joins with a role. A closed group, someone already a member
/// (with no `left_on`), or a second chair is a 409.
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Expert group id")),
    request_body = AddGroupMemberRequest,
    responses(
        (status = 201, description = "The new membership", body = GroupMemberResponse,
         headers(("Location" = String, description = "The new membership"))),
        (status = 404, response = crate::api::responses::NotFound),
        (status = 409, response = crate::api::responses::Conflict),
    )
)]
#[post("/expert-groups/{id}/members")]
pub async fn add_group_member(
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: JsonBody<AddGroupMemberRequest>,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    let request = body.0;
    let party = match (request.organisation_id, request.contact_id) {
        (Some(organisation), None) => Party::Organisation(organisation.to_string()),
        (None, Some(contact)) => Party::Contact(contact.to_string()),
        _ => {
            return Err(ApiError::Validation {
                errors: vec![FieldError::new(
                    "organisation_id",
                    "one_of",
                    "give exactly one of organisation_id and contact_id",
                )],
            });
        }
    };
    let fields = MemberFields {
        role: required(request.role, "role")?,
        joined_on: request.joined_on.unwrap_or_else(|| Utc::now().date_naive()),
        left_on: request.left_on,
    };
    let member = state
        .db
        .write(audit, move |conn, log| {
            let member = store::add_member(conn, &id, &party, &fields)?;
            log.record(member_event(
                "member.create",
                None,
                &GroupMemberResponse::from(member.clone()),
            ));
            Ok(member)
        })
        .await?;
    Ok(created(
        format!(
            "/api/v1/expert-groups/{}/members/{}",
            member.group_id, member.id
        ),
        GroupMemberResponse::from(member),
    ))
}

/// Get a membership
#[utoipa::path(
    tag = TAG,
    params(
        ("id" = uuid::Uuid, Path, description = "Expert group id"),
        ("member_id" = uuid::Uuid, Path, description = "Membership id"),
    ),
    responses(
        (status = 200, description = "The membership", body = GroupMemberResponse),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[get("/expert-groups/{id}/members/{member_id}")]
pub async fn get_group_member(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, member_id) = (path_id(&path.0)?, path_id(&path.1)?);
    let member = state
        .db
        .run(move |conn| store::member(conn, &id, &member_id))
        .await?;
    Ok(HttpResponse::Ok().json(GroupMemberResponse::from(member)))
}

/// Change a membership
///
/// Set `left_on` when someone leaves: the membership stays as history. The chair and
/// one-membership rules apply as when adding (409).
#[utoipa::path(
    tag = TAG,
    params(
        ("id" = uuid::Uuid, Path, description = "Expert group id"),
        ("member_id" = uuid::Uuid, Path, description = "Membership id"),
    ),
    request_body(content = UpdateGroupMemberRequest, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The changed membership", body = GroupMemberResponse),
        (status = 404, response = crate::api::responses::NotFound),
        (status = 409, response = crate::api::responses::Conflict),
    )
)]
#[patch("/expert-groups/{id}/members/{member_id}")]
pub async fn update_group_member(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: JsonBody<UpdateGroupMemberRequest>,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let (id, member_id) = (path_id(&path.0)?, path_id(&path.1)?);
    let change = body.0;
    let member = state
        .db
        .write(audit, move |conn, log| {
            let before = GroupMemberResponse::from(store::member(conn, &id, &member_id)?);
            let member = store::change_member(conn, &id, &member_id, |mut fields| {
                if let Some(role) = change.role {
                    fields.role = role;
                }
                if let Some(joined_on) = change.joined_on {
                    fields.joined_on = joined_on;
                }
                if let Some(left_on) = change.left_on {
                    fields.left_on = left_on;
                }
                fields
            })?;
            log.record(member_event(
                "member.update",
                Some(&before),
                &GroupMemberResponse::from(member.clone()),
            ));
            Ok(member)
        })
        .await?;
    Ok(HttpResponse::Ok().json(GroupMemberResponse::from(member)))
}

/// A change to a group's membership, as an event on the group (about the person, when the
/// member is one).
fn member_event(
    action: &'static str,
    before: Option<&GroupMemberResponse>,
    after: &GroupMemberResponse,
) -> Event {
    Event::new(action, entity::EXPERT_GROUP, &after.group_id)
        .changes(&audit::snapshot(&before), &audit::snapshot(after))
        .about_contact(after.contact_id.as_deref())
}

/// A membership with the group it is in.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupMembershipResponse {
    #[serde(flatten)]
    pub member: GroupMemberResponse,
    pub group: GroupSummary,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupSummary {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    pub kind: GroupKind,
    pub status: GroupStatus,
}

impl From<Membership> for GroupMembershipResponse {
    fn from(membership: Membership) -> Self {
        let group = GroupSummary {
            id: membership.member.group_id.clone(),
            name: membership.group_name,
            kind: membership.group_kind,
            status: membership.group_status,
        };
        Self {
            member: membership.member.into(),
            group,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupMembershipList {
    pub data: Vec<GroupMembershipResponse>,
    pub next_cursor: Option<String>,
}

const MEMBERSHIP_CSV_HEADER: &[&str] = &[
    "id",
    "group_id",
    "group_name",
    "group_kind",
    "group_status",
    "role",
    "joined_on",
    "left_on",
    "current",
];

async fn memberships_of(
    state: web::Data<AppState>,
    req: HttpRequest,
    party: Party,
) -> Result<HttpResponse, ApiError> {
    let format = negotiate(&req, true)?;
    let (tenure, after, limit) = member_list_query(&req, Tenure::All)?;
    if format == Format::Csv {
        let checked = party.clone();
        state
            .db
            .run(move |conn| store::memberships_of(conn, &checked, tenure, None, 1))
            .await?;
        return csv::attachment(
            state.db.clone(),
            "expert-groups.csv",
            MEMBERSHIP_CSV_HEADER,
            after,
            move |conn, after| {
                let (memberships, next) =
                    store::memberships_of(conn, &party, tenure, after.as_deref(), csv::PAGE)?;
                let rows = memberships
                    .into_iter()
                    .map(|m| {
                        let m = GroupMembershipResponse::from(m);
                        vec![
                            m.member.id,
                            m.group.id,
                            defuse(&m.group.name),
                            m.group.kind.to_string(),
                            m.group.status.to_string(),
                            m.member.role.to_string(),
                            m.member.joined_on.to_string(),
                            csv::date(m.member.left_on),
                            m.member.current.to_string(),
                        ]
                    })
                    .collect();
                Ok((rows, next.map(|(_, id)| id)))
            },
        )
        .await;
    }
    let (memberships, next) = state
        .db
        .run(move |conn| store::memberships_of(conn, &party, tenure, after.as_deref(), limit))
        .await?;
    let next_cursor = next_by_id(next);
    Ok(page_response(
        &req,
        next_cursor.as_deref(),
        GroupMembershipList {
            data: memberships.into_iter().map(Into::into).collect(),
            next_cursor: next_cursor.clone(),
        },
    ))
}

/// An organisation's expert groups
///
/// Its memberships of groups, past and present by default (`status` narrows them).
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Organisation id"), MemberListParams),
    responses(
        (status = 200, description = "A page of memberships", body = GroupMembershipList,
         content((GroupMembershipList = "application/json"), (String = "text/csv"))),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[get("/organisations/{id}/expert-groups")]
pub async fn organisation_expert_groups(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    memberships_of(state, req, Party::Organisation(id)).await
}

/// A contact's expert groups
///
/// Their memberships of groups, past and present by default (`status` narrows them).
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Contact id"), MemberListParams),
    responses(
        (status = 200, description = "A page of memberships", body = GroupMembershipList,
         content((GroupMembershipList = "application/json"), (String = "text/csv"))),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[get("/contacts/{id}/expert-groups")]
pub async fn contact_expert_groups(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    memberships_of(state, req, Party::Contact(id)).await
}

pub fn configure(config: &mut ServiceConfig) {
    config
        .service(list_expert_groups)
        .service(create_expert_group)
        .service(get_expert_group)
        .service(update_expert_group)
        .service(delete_expert_group)
        .service(list_group_members)
        .service(add_group_member)
        .service(get_group_member)
        .service(update_group_member)
        .service(organisation_expert_groups)
        .service(contact_expert_groups);
}
