//! `/expert-groups/{id}/members`: a group's members over time, organisations and people,
//! with their roles; a member who leaves keeps a `left_on` as history.

use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::TAG;
use crate::api::body::{JsonBody, nullable, present, required};
use crate::api::conditional::created;
use crate::api::csv;
use crate::api::list::{Cursor, FromQuery, negotiate, query_params};
use crate::api::paging::{self, CsvForm, Keyset};
use crate::api::path_id;
use crate::api::profile::{Either, one_of};
use crate::domain::audit::{self, Event, entity};
use crate::domain::expert_groups::{GroupMember, MemberFields, MemberRole, Party, Tenure, store};
use crate::error::ApiError;
use crate::state::AppState;

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

/// `status` (`default` when absent) and the page of a membership list.
pub(super) fn member_list_query(
    req: &HttpRequest,
    default: Tenure,
) -> Result<(Tenure, Keyset), ApiError> {
    let params = MemberListParams::parse(req.query_string())?;
    let keyset = Keyset::by_id(params.cursor, params.limit)?;
    Ok((params.status.unwrap_or(default), keyset))
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
    let (tenure, keyset) = member_list_query(&req, Tenure::Current)?;
    let listing =
        paging::by_id(move |conn, after, limit| store::members(conn, &id, tenure, after, limit));
    let csv = CsvForm {
        filename: "members.csv",
        header: MEMBER_CSV_HEADER,
        record: member_csv_record,
    };
    paging::answer(&state.db, &req, format, keyset, listing, csv, |page| {
        GroupMemberList {
            data: page.rows.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
        }
    })
    .await
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
    let party = match one_of(
        (request.organisation_id, "organisation_id"),
        (request.contact_id, "contact_id"),
    )? {
        Either::First(organisation) => Party::Organisation(organisation.to_string()),
        Either::Second(contact) => Party::Contact(contact.to_string()),
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
        .on_record(&after.id)
}
