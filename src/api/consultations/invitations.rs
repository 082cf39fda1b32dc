//! `/consultations/{id}/invitations`: who was invited to a consultation (an organisation, or
//! a whole expert group's members), and whether they responded and attended.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::TAG;
use crate::api::body::JsonBody;
use crate::api::csv;
use crate::api::list::{FromQuery, PageParams, negotiate};
use crate::api::paging::{self, CsvForm, Keyset};
use crate::api::path_id;
use crate::api::profile::{Either, one_of};
use crate::api::schemas::timestamp;
use crate::auth::Principal;
use crate::domain::audit::{self, Event, entity};
use crate::domain::consultations::store::{self, Invitee};
use crate::domain::consultations::{Attribution, Invitation, Party};
use crate::error::ApiError;
use crate::state::AppState;

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
    let request = body.0;
    let invitee = match one_of(
        (request.organisation_id, "organisation_id"),
        (request.expert_group_id, "expert_group_id"),
    )? {
        Either::First(organisation) => Invitee::Organisation(organisation.to_string()),
        Either::Second(group) => Invitee::Group(group.to_string()),
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
    let keyset = Keyset::by_id(page.cursor, page.limit)?;
    let sees = principal.sees_anonymous_responses();
    let listing =
        paging::by_id(move |conn, after, limit| store::invitations(conn, &id, after, limit));
    let csv = CsvForm {
        filename: "invitations.csv",
        header: INVITATION_CSV_HEADER,
        record: move |invitation| invitation_csv_record(InvitationResponse::new(invitation, sees)),
    };
    paging::answer(&state.db, &req, format, keyset, listing, csv, |page| {
        InvitationList {
            data: page
                .rows
                .into_iter()
                .map(|invitation| InvitationResponse::new(invitation, sees))
                .collect(),
            next_cursor: page.next_cursor,
        }
    })
    .await
}

fn invitation_csv_record(i: InvitationResponse) -> Vec<String> {
    vec![
        i.id,
        i.organisation_id.unwrap_or_default(),
        i.contact_id.unwrap_or_default(),
        i.via_group_id.unwrap_or_default(),
        i.invited_at,
        csv::flag(i.responded),
        csv::flag(i.attended),
    ]
}
