//! `/consultations/{id}/participation`: who was invited, who responded and attended, and the
//! response rates, with the figures that count responses withheld where they would single
//! out an anonymous respondent.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::TAG;
use crate::api::path_id;
use crate::auth::Principal;
use crate::domain::consultations::store;
use crate::domain::consultations::{Participation, anonymous_responses_disclosed};
use crate::error::ApiError;
use crate::state::AppState;

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
