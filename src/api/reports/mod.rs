//! `/api/v1/reports/…`: the composition of the active membership (now and over time),
//! representation gaps against benchmark sets and targets, expertise coverage by region and
//! participation; each as JSON, CSV (`Accept: text/csv`) and, for composition, gaps and
//! participation, an SVG chart (`Accept: image/svg+xml`). `disclosure=public` publishes any
//! of them rounded and with small counts withheld; `snapshots` saves them as they were.

mod run;
pub mod snapshots;
mod views;

use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::NaiveDate;
use utoipa_actix_web::service_config::ServiceConfig;

pub use views::*;

use crate::api::list::query_params;
use crate::api::schemas::{community_areas, dimensions, trend_dates};
use crate::auth::Principal;
use crate::domain::reports::Dimension;
use crate::domain::reports::disclosure::Audience;
use crate::domain::reports::snapshots::ReportKind;
use crate::error::ApiError;
use crate::state::AppState;
use run::ReportRequest;

const TAG: &str = "reports";

/// Every report endpoint: negotiate the format, read the query, compute, render.
async fn serve(
    kind: ReportKind,
    state: &AppState,
    req: &HttpRequest,
    principal: &Principal,
) -> Result<HttpResponse, ApiError> {
    let format = negotiate(req, Report::offers_svg(kind))?;
    let request = ReportRequest::parse(
        kind,
        req.query_string(),
        principal.sees_anonymous_responses(),
    )?;
    request.run(state).await?.render(format)
}

query_params! {
    /// The query of the composition report.
    pub struct CompositionParams {
        /// The day membership is judged on (default today).
        pub as_of: Option<NaiveDate> = date,
        /// Dimensions to report, repeatable (default all). The SVG chart shows the first.
        #[param(schema_with = dimensions)]
        pub dimension: Vec<Dimension> = many,
        /// `public` for publication: counts rounded to 5, counts under 5 withheld (default
        /// `internal`).
        pub disclosure: Option<Audience> = single_with(run::audience),
    }
}

/// Composition of the active membership
///
/// Active members (`current` or `grace`) on `as_of`, by leadership and mission community, kind,
/// size band, region, expertise and lived-experience leadership: counts and shares, with those
/// who were not asked, preferred not to say or have nothing recorded as rows of their own, and
/// both denominators stated.
#[utoipa::path(
    tag = TAG,
    params(CompositionParams),
    responses(
        (status = 200, description = "The composition", body = CompositionResponse,
         content((CompositionResponse = "application/json"), (String = "text/csv"), (String = "image/svg+xml"))),
    )
)]
#[get("/reports/composition")]
pub async fn composition_report(
    state: web::Data<AppState>,
    req: HttpRequest,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    serve(ReportKind::Composition, &state, &req, &principal).await
}

query_params! {
    /// The query of the composition trend.
    pub struct TrendParams {
        /// The dates to compose the membership on (1 to 12, repeat the parameter).
        #[param(schema_with = trend_dates)]
        pub at: Vec<NaiveDate> = dates,
        /// Dimensions to report, repeatable (default all).
        #[param(schema_with = dimensions)]
        pub dimension: Vec<Dimension> = many,
        /// `public` for publication: counts rounded to 5, counts under 5 withheld (default
        /// `internal`).
        pub disclosure: Option<Audience> = single_with(run::audience),
    }
}

/// Composition over time
///
/// The composition at several dates in one call (e.g. each 31 March), oldest first, for
/// annual reports. `Accept: text/csv` gives one line per date and row.
#[utoipa::path(
    tag = TAG,
    params(TrendParams),
    responses(
        (status = 200, description = "The compositions", body = CompositionTrend,
         content((CompositionTrend = "application/json"), (String = "text/csv"))),
    )
)]
#[get("/reports/composition/trend")]
pub async fn composition_trend(
    state: web::Data<AppState>,
    req: HttpRequest,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    serve(ReportKind::CompositionTrend, &state, &req, &principal).await
}

query_params! {
    /// The query of the gaps report.
    pub struct GapsParams {
        /// A benchmark set to compare with.
        #[param(value_type = Option<uuid::Uuid>)]
        pub benchmark: Option<String> = single_with(run::uuid("a benchmark set id")),
        /// Include the targets staff set (default true).
        pub targets: Option<bool> = boolean,
        /// The community area benchmark shares are compared in (default `leadership`).
        #[param(schema_with = community_areas)]
        pub dimension: Option<Dimension> = single_with(run::community_area),
        /// The day membership is judged on (default today).
        pub as_of: Option<NaiveDate> = date,
        /// `public` for publication: counts rounded to 5, counts under 5 withheld (default
        /// `internal`).
        pub disclosure: Option<Audience> = single_with(run::audience),
    }
}

/// Representation gaps
///
/// Each share of a benchmark set (held against the members' share in `dimension`, of those who
/// answered) and each target: the member share, the benchmark or target, the difference in
/// points, the ratio and whether it is met, largest shortfall first.
#[utoipa::path(
    tag = TAG,
    params(GapsParams),
    responses(
        (status = 200, description = "The gaps", body = GapsResponse,
         content((GapsResponse = "application/json"), (String = "text/csv"), (String = "image/svg+xml"))),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[get("/reports/gaps")]
pub async fn gaps_report(
    state: web::Data<AppState>,
    req: HttpRequest,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    serve(ReportKind::Gaps, &state, &req, &principal).await
}

query_params! {
    /// The query of the expertise coverage report.
    pub struct CoverageParams {
        /// The day membership is judged on (default today).
        pub as_of: Option<NaiveDate> = date,
        /// Cells with fewer active members are flagged (default 2).
        #[param(minimum = 1, maximum = 1000, default = 2)]
        pub minimum: Option<i64> = single_with(run::minimum),
        /// `public` for publication: counts rounded to 5, counts under 5 withheld (default
        /// `internal`).
        pub disclosure: Option<Audience> = single_with(run::audience),
    }
}

/// Expertise coverage by region
///
/// Active members per expertise area and region, with the cells below `minimum` flagged: where
/// the alliance is thin. An organisation counts in every region it works in.
#[utoipa::path(
    tag = TAG,
    params(CoverageParams),
    responses(
        (status = 200, description = "The coverage grid", body = CoverageResponse,
         content((CoverageResponse = "application/json"), (String = "text/csv"))),
    )
)]
#[get("/reports/expertise-coverage")]
pub async fn expertise_coverage_report(
    state: web::Data<AppState>,
    req: HttpRequest,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    serve(ReportKind::ExpertiseCoverage, &state, &req, &principal).await
}

query_params! {
    /// The query of the participation report.
    pub struct ParticipationParams {
        /// Whose responses (exactly one of `consultation` and `expert_group`).
        #[param(value_type = Option<uuid::Uuid>)]
        pub consultation: Option<String> = single_with(run::uuid("a consultation id")),
        /// Whose members, on `as_of`.
        #[param(value_type = Option<uuid::Uuid>)]
        pub expert_group: Option<String> = single_with(run::uuid("an expert group id")),
        /// The day group membership and active membership are judged on (default today).
        pub as_of: Option<NaiveDate> = date,
        /// Dimensions to report, repeatable (default all). The SVG chart shows the first.
        #[param(schema_with = dimensions)]
        pub dimension: Vec<Dimension> = many,
        /// `public` for publication: counts rounded to 5, counts under 5 withheld (default
        /// `internal`).
        pub disclosure: Option<Audience> = single_with(run::audience),
    }
}

/// Participation against the membership
///
/// The composition of the organisations that responded to a consultation, or of an expert
/// group's organisation members, beside the active membership, with the difference per row.
/// Viewers and API keys get the named responses only, so no anonymous respondent can be
/// described.
/// People taking part in their own right are counted, never described, and a count of 1 to 4
/// is suppressed (with the total, which would reveal it).
#[utoipa::path(
    tag = TAG,
    params(ParticipationParams),
    responses(
        (status = 200, description = "The participation report", body = ParticipationReport,
         content((ParticipationReport = "application/json"), (String = "text/csv"), (String = "image/svg+xml"))),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[get("/reports/participation")]
pub async fn participation_report(
    state: web::Data<AppState>,
    req: HttpRequest,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    serve(ReportKind::Participation, &state, &req, &principal).await
}

pub fn configure(config: &mut ServiceConfig) {
    config
        .service(participation_report)
        .service(composition_trend)
        .service(composition_report)
        .service(gaps_report)
        .service(expertise_coverage_report);
    snapshots::configure(config);
}
