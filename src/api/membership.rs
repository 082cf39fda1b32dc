//! `/api/v1/organisations/{id}/membership`: an organisation's membership, its periods and
//! history, and the actions that move it (apply, approve, renew, withdraw, reinstate). Each
//! action answers 409 with the reason when the current status does not allow it.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use crate::api::body::{JsonBody, required};
use crate::api::list::{FromQuery, query_params};
use crate::api::path_id;
use crate::api::schemas::timestamp;
use crate::api::validation as rules;
use crate::auth::Principal;
use crate::db::DbConn;
use crate::domain::DomainError;
use crate::domain::audit::{self, Event, entity};
use crate::domain::changes::calendar::{self, Cause};
use crate::domain::membership::{
    ActionRecord, GraceWindow, Membership, MembershipAction, MembershipStatus, Period, Request,
    Tier, store,
};
use crate::error::ApiError;
use crate::state::AppState;

const TAG: &str = "membership";

/// The day a membership is shown on, and the grace window that applies.
#[derive(Debug, Clone, Copy)]
pub struct MembershipView {
    pub on: NaiveDate,
    pub grace: GraceWindow,
}

impl MembershipView {
    pub fn today(grace: GraceWindow) -> Self {
        Self {
            on: Utc::now().date_naive(),
            grace,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct PeriodResponse {
    pub start_on: NaiveDate,
    /// The last day of the period (inclusive).
    pub end_on: NaiveDate,
}

impl From<Period> for PeriodResponse {
    fn from(period: Period) -> Self {
        Self {
            start_on: period.start_on,
            end_on: period.end_on,
        }
    }
}

/// An organisation's membership on one day, as organisations carry it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MembershipSummary {
    pub tier: Tier,
    pub status: MembershipStatus,
    /// "Member since".
    pub joined_on: Option<NaiveDate>,
    /// The period covering the day, if any.
    pub current_period: Option<PeriodResponse>,
}

impl MembershipSummary {
    /// `None` when the day is before the application.
    pub fn new(membership: &Membership, view: MembershipView) -> Option<Self> {
        Some(Self {
            status: membership.status_on(view.on, view.grace)?,
            tier: membership.tier,
            joined_on: membership.joined_on,
            current_period: membership.period_on(view.on).copied().map(Into::into),
        })
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WithdrawalResponse {
    pub withdrawn_on: NaiveDate,
    pub reinstated_on: Option<NaiveDate>,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActionResponse {
    pub action: MembershipAction,
    pub effective_on: NaiveDate,
    pub tier: Tier,
    /// The period the action added.
    pub period: Option<PeriodResponse>,
    pub reason: Option<String>,
    /// The staff member who acted.
    #[schema(format = Uuid)]
    pub actor_user_id: Option<String>,
    #[schema(format = DateTime)]
    pub recorded_at: String,
}

impl From<ActionRecord> for ActionResponse {
    fn from(record: ActionRecord) -> Self {
        Self {
            action: record.action,
            effective_on: record.effective_on,
            tier: record.tier,
            period: record.period.map(Into::into),
            reason: record.reason,
            actor_user_id: record.actor_user_id,
            recorded_at: timestamp(record.created_at),
        }
    }
}

/// The whole membership: status on `as_of`, every period, withdrawals and the actions taken.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MembershipResponse {
    #[schema(format = Uuid)]
    pub organisation_id: String,
    pub tier: Tier,
    /// Status on `as_of`; null when that day is before the application.
    pub status: Option<MembershipStatus>,
    pub as_of: NaiveDate,
    pub applied_on: NaiveDate,
    pub joined_on: Option<NaiveDate>,
    pub current_period: Option<PeriodResponse>,
    /// Oldest first; they never overlap.
    pub periods: Vec<PeriodResponse>,
    pub withdrawals: Vec<WithdrawalResponse>,
    /// The actions taken, oldest first.
    pub history: Vec<ActionResponse>,
}

impl MembershipResponse {
    fn new(membership: Membership, history: Vec<ActionRecord>, view: MembershipView) -> Self {
        Self {
            status: membership.status_on(view.on, view.grace),
            current_period: membership.period_on(view.on).copied().map(Into::into),
            organisation_id: membership.organisation_id,
            tier: membership.tier,
            as_of: view.on,
            applied_on: membership.applied_on,
            joined_on: membership.joined_on,
            periods: membership.periods.into_iter().map(Into::into).collect(),
            withdrawals: membership
                .withdrawals
                .into_iter()
                .map(|w| WithdrawalResponse {
                    withdrawn_on: w.withdrawn_on,
                    reinstated_on: w.reinstated_on,
                    reason: w.reason,
                })
                .collect(),
            history: history.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyRequest {
    #[validate(required(message = "is required"))]
    #[schema(value_type = Tier, required = true)]
    pub tier: Option<Tier>,
    /// Default today; never in the future (422).
    #[serde(default)]
    pub applied_on: Option<NaiveDate>,
}

/// Approve a pending application into its first period.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    /// Default today. A start before the application moves `applied_on` back to it.
    #[serde(default)]
    pub start_on: Option<NaiveDate>,
    /// Default a year: the day before the anniversary of `start_on` (that of 29 February
    /// is 1 March in a common year).
    #[serde(default)]
    pub end_on: Option<NaiveDate>,
    /// "Member since"; default `start_on`.
    #[serde(default)]
    pub joined_on: Option<NaiveDate>,
}

/// Add the next period. A current or grace membership continues from the day after its last
/// period; a lapsed one starts again today.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenewRequest {
    #[serde(default)]
    pub start_on: Option<NaiveDate>,
    /// Default a year from `start_on`.
    #[serde(default)]
    pub end_on: Option<NaiveDate>,
    /// Change the tier from this renewal on.
    #[serde(default)]
    pub tier: Option<Tier>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    /// Why the membership ends: kept in the history.
    #[validate(required(message = "is required"), length(min = 1, max = 1000), regex(path = *rules::MULTI_LINE_RE, message = "must not contain control characters"))]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 1000, pattern = "MULTI_LINE", example = "Merged with another member")]
    pub reason: Option<String>,
    /// The first day the membership counts as withdrawn (default today); the period running
    /// then ends the day before and later ones are removed. Never before the start of the
    /// latest period that has begun (409). One dated ahead can be cancelled until then by
    /// reinstating.
    #[serde(default)]
    pub withdrawn_on: Option<NaiveDate>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReinstateRequest {
    /// Default today (never before the withdrawal). Not allowed when cancelling a
    /// withdrawal that has not taken effect.
    #[serde(default)]
    pub start_on: Option<NaiveDate>,
    /// Default a year from `start_on`. Not allowed when cancelling.
    #[serde(default)]
    pub end_on: Option<NaiveDate>,
}

/// Runs `request` and answers with the membership as it now is.
async fn act(
    state: web::Data<AppState>,
    path: web::Path<String>,
    principal: Principal,
    audit: audit::Context,
    request: Request,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    let view = MembershipView::today(state.grace);
    let actor = principal.user_id()?.to_owned();
    let (membership, history) = state
        .db
        .write(audit, move |conn, log| {
            let before = store::load(conn, std::slice::from_ref(&id))?
                .remove(&id)
                .map(|m| MembershipResponse::new(m, Vec::new(), view));
            let membership = store::act(conn, &id, &request, view.on, view.grace, Some(&actor))?;
            let history = store::history(conn, &id)?;
            log.record(
                Event::new(
                    format!("membership.{}", request.action().as_str()),
                    entity::ORGANISATION,
                    &id,
                )
                .changes(
                    &audit::snapshot(&before),
                    &audit::snapshot(&MembershipResponse::new(
                        membership.clone(),
                        Vec::new(),
                        view,
                    )),
                ),
            );
            // After the action's own change: a status it moved today is announced once.
            let status = membership.status_on(view.on, view.grace);
            calendar::announce(conn, log.feed(), &id, status, view.on, Cause::Action)?;
            Ok((membership, history))
        })
        .await?;
    Ok(HttpResponse::Ok().json(MembershipResponse::new(membership, history, view)))
}

query_params! {
    /// The day a membership is read on.
    pub struct MembershipQuery {
        /// The day to judge the status on (default today).
        pub as_of: Option<NaiveDate> = date,
    }
}

/// An organisation's membership
///
/// Status on `as_of` (default today), every period, withdrawals and the history of actions.
#[utoipa::path(
    tag = TAG,
    params(
        ("id" = uuid::Uuid, Path, description = "Organisation id"),
        MembershipQuery,
    ),
    responses(
        (status = 200, description = "The membership", body = MembershipResponse),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[get("/organisations/{id}/membership")]
pub async fn get_membership(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    let on = MembershipQuery::parse(req.query_string())?.as_of;
    let view = MembershipView {
        on: on.unwrap_or_else(|| Utc::now().date_naive()),
        grace: state.grace,
    };
    let membership = state.db.run(move |conn| read(conn, &id, view)).await?;
    Ok(HttpResponse::Ok().json(membership))
}

/// Organisation `id`'s membership as its `GET` shows it on `view.on`.
pub fn read(
    conn: &mut DbConn,
    id: &str,
    view: MembershipView,
) -> Result<MembershipResponse, DomainError> {
    // 404 for an unknown or deleted organisation, before saying it has no membership.
    crate::domain::organisations::find(conn, id)?;
    let membership = store::load(conn, &[id.to_owned()])?
        .remove(id)
        .ok_or(DomainError::NotFound("membership"))?;
    let history = store::history(conn, id)?;
    Ok(MembershipResponse::new(membership, history, view))
}

/// Apply for membership
///
/// Starts a `pending` membership. 409 if the organisation already has one; 422 for an `applied_on` in the future.
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Organisation id")),
    request_body = ApplyRequest,
    responses(
        (status = 200, description = "The membership after the action", body = MembershipResponse),
        (status = 404, response = crate::api::responses::NotFound),
        (status = 409, response = crate::api::responses::Conflict),
    )
)]
#[post("/organisations/{id}/membership/apply")]
pub async fn apply_membership(
    state: web::Data<AppState>,
    path: web::Path<String>,
    principal: Principal,
    audit: audit::Context,
    body: JsonBody<ApplyRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = Request::Apply {
        tier: required(body.0.tier, "tier")?,
        applied_on: body.0.applied_on,
    };
    act(state, path, principal, audit, request).await
}

/// Approve an application
///
/// Adds the first period to a `pending` membership and sets `joined_on`; a `start_on` before the application moves `applied_on` back to it. 409 unless pending.
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Organisation id")),
    request_body = ApproveRequest,
    responses(
        (status = 200, description = "The membership after the action", body = MembershipResponse),
        (status = 404, response = crate::api::responses::NotFound),
        (status = 409, response = crate::api::responses::Conflict),
    )
)]
#[post("/organisations/{id}/membership/approve")]
pub async fn approve_membership(
    state: web::Data<AppState>,
    path: web::Path<String>,
    principal: Principal,
    audit: audit::Context,
    body: JsonBody<ApproveRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = Request::Approve {
        start_on: body.0.start_on,
        end_on: body.0.end_on,
        joined_on: body.0.joined_on,
    };
    act(state, path, principal, audit, request).await
}

/// Renew a membership
///
/// Adds the next period to a `current`, `grace` or `lapsed` membership; periods never overlap. 409 for pending (approve it) or withdrawn (reinstate it).
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Organisation id")),
    request_body = RenewRequest,
    responses(
        (status = 200, description = "The membership after the action", body = MembershipResponse),
        (status = 404, response = crate::api::responses::NotFound),
        (status = 409, response = crate::api::responses::Conflict),
    )
)]
#[post("/organisations/{id}/membership/renew")]
pub async fn renew_membership(
    state: web::Data<AppState>,
    path: web::Path<String>,
    principal: Principal,
    audit: audit::Context,
    body: JsonBody<RenewRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = Request::Renew {
        start_on: body.0.start_on,
        end_on: body.0.end_on,
        tier: body.0.tier,
    };
    act(state, path, principal, audit, request).await
}

/// Withdraw a membership
///
/// Ends a membership on purpose, with a reason, from `withdrawn_on`. 409 if already withdrawn, or if `withdrawn_on` is before the start of the latest period that has begun (that would remove history).
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Organisation id")),
    request_body = WithdrawRequest,
    responses(
        (status = 200, description = "The membership after the action", body = MembershipResponse),
        (status = 404, response = crate::api::responses::NotFound),
        (status = 409, response = crate::api::responses::Conflict),
    )
)]
#[post("/organisations/{id}/membership/withdraw")]
pub async fn withdraw_membership(
    state: web::Data<AppState>,
    path: web::Path<String>,
    principal: Principal,
    audit: audit::Context,
    body: JsonBody<WithdrawRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = Request::Withdraw {
        reason: required(body.0.reason, "reason")?,
        withdrawn_on: body.0.withdrawn_on,
    };
    act(state, path, principal, audit, request).await
}

/// Reinstate a withdrawn membership
///
/// Ends the withdrawal and adds a new period. A withdrawal dated ahead that has not taken effect is cancelled instead: the periods are restored exactly as they were, and the withdrawal stays on record, reinstated on its own date. 409 unless the membership is withdrawn or a withdrawal is scheduled.
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Organisation id")),
    request_body = ReinstateRequest,
    responses(
        (status = 200, description = "The membership after the action", body = MembershipResponse),
        (status = 404, response = crate::api::responses::NotFound),
        (status = 409, response = crate::api::responses::Conflict),
    )
)]
#[post("/organisations/{id}/membership/reinstate")]
pub async fn reinstate_membership(
    state: web::Data<AppState>,
    path: web::Path<String>,
    principal: Principal,
    audit: audit::Context,
    body: JsonBody<ReinstateRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = Request::Reinstate {
        start_on: body.0.start_on,
        end_on: body.0.end_on,
    };
    act(state, path, principal, audit, request).await
}

pub fn configure(config: &mut ServiceConfig) {
    config
        .service(get_membership)
        .service(apply_membership)
        .service(approve_membership)
        .service(renew_membership)
        .service(withdraw_membership)
        .service(reinstate_membership);
}
