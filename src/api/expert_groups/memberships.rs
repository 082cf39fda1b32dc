//! `/organisations/{id}/expert-groups` and `/contacts/{id}/expert-groups`: one member's
//! memberships of groups, past and present, each with the group it is in.

use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::TAG;
use super::members::{GroupMemberResponse, MemberListParams, member_list_query};
use crate::api::csv::{self, defuse};
use crate::api::list::negotiate;
use crate::api::paging::{self, CsvForm};
use crate::api::path_id;
use crate::domain::expert_groups::{GroupKind, GroupStatus, Membership, Party, Tenure, store};
use crate::error::ApiError;
use crate::state::AppState;

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
    let (tenure, keyset) = member_list_query(&req, Tenure::All)?;
    let listing = paging::by_id(move |conn, after, limit| {
        store::memberships_of(conn, &party, tenure, after, limit)
    });
    let csv = CsvForm {
        filename: "expert-groups.csv",
        header: MEMBERSHIP_CSV_HEADER,
        record: membership_csv_record,
    };
    paging::answer(&state.db, &req, format, keyset, listing, csv, |page| {
        GroupMembershipList {
            data: page.rows.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
        }
    })
    .await
}

fn membership_csv_record(membership: Membership) -> Vec<String> {
    let m = GroupMembershipResponse::from(membership);
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
