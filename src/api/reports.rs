//! `/api/v1/reports/…`: the composition of the active membership, representation gaps
//! against benchmark sets and targets, and expertise coverage by region; each as JSON, CSV
//! (`Accept: text/csv`) and, for composition and gaps, an SVG chart (`Accept: image/svg+xml`).

use actix_web::http::header::{self, Header};
use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{NaiveDate, Utc};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::charts::{Bar, Chart};
use crate::api::csv::defuse;
use crate::api::list::QueryParams;
use crate::api::schemas::{community_areas, dimensions, trend_dates};
use crate::app::AppState;
use crate::auth::Principal;
use crate::domain::DomainError;
use crate::domain::organisations::Region;
use crate::domain::reports::composition::{self, CoverageRow, Population};
use crate::domain::reports::gaps::{self, GapRow, GapSource};
use crate::domain::reports::participation::{self, PeopleCount};
use crate::domain::reports::{
    Composition, Dimension, DimensionComposition, benchmarks, round, targets,
};
use crate::error::ApiError;

const TAG: &str = "reports";

/// The representations a report can be sent as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReportFormat {
    Json,
    Csv,
    Svg,
}

/// JSON, CSV or (where `svg` is offered) SVG, from `Accept`; 406 for anything else.
fn negotiate(req: &HttpRequest, svg: bool) -> Result<ReportFormat, ApiError> {
    let Ok(accept) = header::Accept::parse(req) else {
        return Err(ApiError::NotAcceptable {
            detail: "the Accept header could not be read".to_owned(),
        });
    };
    if accept.is_empty() {
        return Ok(ReportFormat::Json);
    }
    for preference in accept.ranked() {
        // `essence_str` keeps the `+xml` suffix that `subtype` leaves off.
        match preference.essence_str().split_once('/').unwrap_or_default() {
            ("*", "*") | ("application", "*") | ("application", "json") => {
                return Ok(ReportFormat::Json);
            }
            ("text", "csv") | ("text", "*") => return Ok(ReportFormat::Csv),
            ("image", "svg+xml") | ("image", "*") if svg => return Ok(ReportFormat::Svg),
            _ => {}
        }
    }
    Err(ApiError::NotAcceptable {
        detail: if svg {
            "this report is available as application/json, text/csv or image/svg+xml".to_owned()
        } else {
            "this report is available as application/json or text/csv".to_owned()
        },
    })
}

fn csv_response(filename: &str, header: &[&str], rows: Vec<Vec<String>>) -> HttpResponse {
    let mut writer = csv::Writer::from_writer(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = writer.write_record(header);
    for row in rows {
        let _ = writer.write_record(&row);
    }
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .body(writer.into_inner().unwrap_or_default())
}

fn svg_response(chart: Chart) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml; charset=utf-8")
        .body(chart.render())
}

fn number(value: Option<f64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CompositionRowResponse {
    /// A value of the dimension, or `answered_none`, `not_asked`, `prefer_not_to_say`,
    /// `unknown`, `none`.
    #[schema(example = "DEI010000")]
    pub code: String,
    pub label: String,
    /// For community codes: the code one level up.
    pub parent_code: Option<String>,
    /// Active members in the row. An organisation counts once at each level of the
    /// community hierarchy, and once under each of its regions and expertise areas.
    pub members: i64,
    /// Percentage of all active members.
    pub share_of_members: Option<f64>,
    /// Percentage of the active members who answered in this dimension; null for rows of
    /// those who did not.
    pub share_of_answered: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Denominators {
    /// All active members.
    pub members: i64,
    /// Active members who answered in this dimension (for leadership and mission: reply
    /// status `answered`; elsewhere: a value recorded).
    pub answered: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DimensionResponse {
    pub dimension: Dimension,
    pub denominators: Denominators,
    pub rows: Vec<CompositionRowResponse>,
}

impl From<&DimensionComposition> for DimensionResponse {
    fn from(d: &DimensionComposition) -> Self {
        Self {
            dimension: d.dimension,
            denominators: Denominators {
                members: d.members,
                answered: d.answered,
            },
            rows: d
                .rows
                .iter()
                .map(|row| CompositionRowResponse {
                    code: row.code.clone(),
                    label: row.label.clone(),
                    parent_code: row.parent_code.clone(),
                    members: row.members,
                    share_of_members: d.share_of_members(row),
                    share_of_answered: d.share_of_answered(row),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CompositionResponse {
    pub as_of: NaiveDate,
    /// Organisations whose membership is `current` or `grace` on `as_of`.
    pub active_members: i64,
    pub dimensions: Vec<DimensionResponse>,
}

/// The query of the composition report.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CompositionParams {
    /// The day membership is judged on (default today).
    pub as_of: Option<NaiveDate>,
    /// Dimensions to report, repeatable (default all). The SVG chart shows the first.
    #[param(schema_with = dimensions)]
    pub dimension: Vec<Dimension>,
}

/// `as_of` (default today) from a report's query.
fn as_of(params: &mut QueryParams) -> NaiveDate {
    params
        .date("as_of")
        .unwrap_or_else(|| Utc::now().date_naive())
}

fn composition_chart(composition: &Composition, dimension: &DimensionComposition) -> Chart {
    // Community charts show the top of the hierarchy; the JSON and CSV have every level.
    let bars = dimension
        .rows
        .iter()
        .filter(|row| row.parent_code.is_none())
        .map(|row| Bar {
            label: row.label.clone(),
            value: dimension.share_of_members(row),
            caption: format!("{} of {}", row.members, dimension.members),
            marker: None,
        })
        .collect();
    Chart {
        title: format!(
            "Active members by {}",
            dimension.dimension.as_str().replace('_', " ")
        ),
        subtitle: format!(
            "{} active members on {}; shares of all active members",
            composition.active_members, composition.as_of
        ),
        marker_name: "benchmark".to_owned(),
        bars,
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
        (status = 400, response = crate::api::responses::BadRequest),
        (status = 406, response = crate::api::responses::NotAcceptable),
        (status = 503, response = crate::api::responses::Unavailable),
    )
)]
#[get("/reports/composition")]
pub async fn composition_report(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let format = negotiate(&req, true)?;
    let mut params = QueryParams::parse(req.query_string())?;
    let on = as_of(&mut params);
    let mut dimensions = params.many::<Dimension>("dimension");
    params.finish()?;
    if dimensions.is_empty() {
        dimensions = Dimension::ALL.to_vec();
    }
    let grace = state.grace;
    let report = state
        .db
        .run(move |conn| composition::composition(conn, on, grace, &dimensions))
        .await?;
    Ok(match format {
        ReportFormat::Json => HttpResponse::Ok().json(CompositionResponse {
            as_of: report.as_of,
            active_members: report.active_members,
            dimensions: report.dimensions.iter().map(Into::into).collect(),
        }),
        ReportFormat::Csv => {
            let mut rows = Vec::new();
            for d in &report.dimensions {
                for row in &d.rows {
                    rows.push(vec![
                        d.dimension.to_string(),
                        row.code.clone(),
                        defuse(&row.label),
                        row.members.to_string(),
                        number(d.share_of_members(row)),
                        number(d.share_of_answered(row)),
                    ]);
                }
            }
            csv_response(
                "composition.csv",
                &[
                    "dimension",
                    "code",
                    "label",
                    "members",
                    "share_of_members",
                    "share_of_answered",
                ],
                rows,
            )
        }
        ReportFormat::Svg => match report.dimensions.first() {
            Some(first) => svg_response(composition_chart(&report, first)),
            None => return Err(ApiError::internal("a composition without dimensions")),
        },
    })
}

/// Most dates one trend may ask for.
const MAX_TREND_DATES: usize = 12;

#[derive(Debug, Serialize, ToSchema)]
pub struct CompositionTrend {
    /// One composition per date asked for, oldest first.
    pub compositions: Vec<CompositionResponse>,
}

/// The query of the composition trend.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrendParams {
    /// The dates to compose the membership on (1 to 12, repeat the parameter).
    #[param(schema_with = trend_dates)]
    pub at: Vec<NaiveDate>,
    /// Dimensions to report, repeatable (default all).
    #[param(schema_with = dimensions)]
    pub dimension: Vec<Dimension>,
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
        (status = 400, response = crate::api::responses::BadRequest),
        (status = 406, response = crate::api::responses::NotAcceptable),
        (status = 503, response = crate::api::responses::Unavailable),
    )
)]
#[get("/reports/composition/trend")]
pub async fn composition_trend(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let format = negotiate(&req, false)?;
    let mut params = QueryParams::parse(req.query_string())?;
    let mut dates = params.dates("at");
    let mut dimensions = params.many::<Dimension>("dimension");
    params.finish()?;
    if dates.is_empty() || dates.len() > MAX_TREND_DATES {
        return Err(ApiError::BadRequest {
            detail: format!(
                "at: give 1 to {MAX_TREND_DATES} dates in the years 0001 to 9999, e.g. at=2025-03-31&at=2026-03-31"
            ),
            errors: vec![crate::domain::FieldError::new(
                "at",
                "invalid",
                format!("1 to {MAX_TREND_DATES} dates, YYYY-MM-DD"),
            )],
        });
    }
    dates.sort();
    if dimensions.is_empty() {
        dimensions = Dimension::ALL.to_vec();
    }
    let grace = state.grace;
    let compositions = state
        .db
        .run(move |conn| {
            dates
                .iter()
                .map(|on| composition::composition(conn, *on, grace, &dimensions))
                .collect::<Result<Vec<_>, DomainError>>()
        })
        .await?;
    Ok(match format {
        ReportFormat::Csv => {
            let mut rows = Vec::new();
            for report in &compositions {
                for d in &report.dimensions {
                    for row in &d.rows {
                        rows.push(vec![
                            report.as_of.to_string(),
                            d.dimension.to_string(),
                            row.code.clone(),
                            defuse(&row.label),
                            row.members.to_string(),
                            number(d.share_of_members(row)),
                            number(d.share_of_answered(row)),
                        ]);
                    }
                }
            }
            csv_response(
                "composition-trend.csv",
                &[
                    "as_of",
                    "dimension",
                    "code",
                    "label",
                    "members",
                    "share_of_members",
                    "share_of_answered",
                ],
                rows,
            )
        }
        _ => HttpResponse::Ok().json(CompositionTrend {
            compositions: compositions
                .iter()
                .map(|report| CompositionResponse {
                    as_of: report.as_of,
                    active_members: report.active_members,
                    dimensions: report.dimensions.iter().map(Into::into).collect(),
                })
                .collect(),
        }),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BenchmarkSummary {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    pub source: String,
    pub year: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GapRowResponse {
    /// `benchmark` or `target`.
    #[schema(example = "benchmark")]
    pub source: String,
    pub dimension: Dimension,
    pub code: String,
    pub label: String,
    /// Active members with the code.
    pub members: i64,
    /// Their percentage of the active members who answered in the dimension.
    pub member_share: Option<f64>,
    pub benchmark_share: Option<f64>,
    pub target_share: Option<f64>,
    pub target_count: Option<i32>,
    /// `member_share` minus the benchmark or target share, in percentage points.
    pub difference_points: Option<f64>,
    /// `members` minus `target_count`.
    pub difference_count: Option<i64>,
    /// `member_share` over the benchmark or target share (`members` over `target_count`);
    /// null when that is zero.
    pub ratio: Option<f64>,
    pub met: bool,
    pub note: Option<String>,
}

impl From<GapRow> for GapRowResponse {
    fn from(row: GapRow) -> Self {
        Self {
            source: match row.source {
                GapSource::Benchmark => "benchmark",
                GapSource::Target => "target",
            }
            .to_owned(),
            dimension: row.dimension,
            code: row.code,
            label: row.label,
            members: row.members,
            member_share: row.member_share,
            benchmark_share: row.benchmark_share,
            target_share: row.target_share,
            target_count: row.target_count,
            difference_points: row.difference_points,
            difference_count: row.difference_count,
            ratio: row.ratio,
            met: row.met,
            note: row.note,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GapsResponse {
    pub as_of: NaiveDate,
    pub active_members: i64,
    pub benchmark: Option<BenchmarkSummary>,
    /// Largest shortfall first (smallest ratio).
    pub rows: Vec<GapRowResponse>,
}

/// The query of the gaps report.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GapsParams {
    /// A benchmark set to compare with.
    pub benchmark: Option<uuid::Uuid>,
    /// Include the targets staff set (default true).
    pub targets: Option<bool>,
    /// The community area benchmark shares are compared in (default `leadership`).
    #[param(schema_with = community_areas)]
    pub dimension: Option<Dimension>,
    /// The day membership is judged on (default today).
    pub as_of: Option<NaiveDate>,
}

const GAP_CSV_HEADER: &[&str] = &[
    "source",
    "dimension",
    "code",
    "label",
    "members",
    "member_share",
    "benchmark_share",
    "target_share",
    "target_count",
    "difference_points",
    "difference_count",
    "ratio",
    "met",
    "note",
];

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
        (status = 400, response = crate::api::responses::BadRequest),
        (status = 404, response = crate::api::responses::NotFound),
        (status = 406, response = crate::api::responses::NotAcceptable),
        (status = 503, response = crate::api::responses::Unavailable),
    )
)]
#[get("/reports/gaps")]
pub async fn gaps_report(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let format = negotiate(&req, true)?;
    let mut params = QueryParams::parse(req.query_string())?;
    let on = as_of(&mut params);
    let benchmark = params.single_with("benchmark", |raw| {
        uuid::Uuid::parse_str(raw)
            .map(|id| id.to_string())
            .map_err(|_| "must be a benchmark set id (a UUID)".to_owned())
    });
    let with_targets = params.boolean("targets").unwrap_or(true);
    let dimension = params.single_with("dimension", |raw| match raw.parse::<Dimension>() {
        Ok(d @ (Dimension::Leadership | Dimension::Mission)) => Ok(d),
        _ => Err("must be leadership or mission".to_owned()),
    });
    params.finish()?;
    if benchmark.is_none() && !with_targets {
        return Err(ApiError::bad_request(
            "name a benchmark set (benchmark=<id>) or include the targets (targets=true)",
        ));
    }
    let dimension = dimension.unwrap_or(Dimension::Leadership);
    let grace = state.grace;
    let (report, set, rows) = state
        .db
        .run(move |conn| {
            let set = match &benchmark {
                Some(id) => Some(benchmarks::find(conn, id)?),
                None => None,
            };
            let targets = if with_targets {
                targets::all(conn)?
            } else {
                Vec::new()
            };
            let needed = gaps::dimensions_needed(dimension, &targets);
            let report = composition::composition(conn, on, grace, &needed)?;
            let rows = gaps::gaps(&report, set.as_ref(), dimension, &targets);
            Ok::<_, DomainError>((report, set, rows))
        })
        .await?;
    Ok(match format {
        ReportFormat::Json => HttpResponse::Ok().json(GapsResponse {
            as_of: report.as_of,
            active_members: report.active_members,
            benchmark: set.map(|set| BenchmarkSummary {
                id: set.id,
                name: set.profile.name,
                source: set.profile.source,
                year: set.profile.year,
            }),
            rows: rows.into_iter().map(Into::into).collect(),
        }),
        ReportFormat::Csv => csv_response(
            "gaps.csv",
            GAP_CSV_HEADER,
            rows.into_iter()
                .map(|row| {
                    let r = GapRowResponse::from(row);
                    vec![
                        r.source,
                        r.dimension.to_string(),
                        r.code,
                        defuse(&r.label),
                        r.members.to_string(),
                        number(r.member_share),
                        number(r.benchmark_share),
                        number(r.target_share),
                        r.target_count.map(|c| c.to_string()).unwrap_or_default(),
                        number(r.difference_points),
                        r.difference_count
                            .map(|c| c.to_string())
                            .unwrap_or_default(),
                        number(r.ratio),
                        r.met.to_string(),
                        defuse(r.note.as_deref().unwrap_or_default()),
                    ]
                })
                .collect(),
        ),
        ReportFormat::Svg => {
            let title = match &set {
                Some(set) => format!("Members against {}", set.profile.name),
                None => "Members against our targets".to_owned(),
            };
            svg_response(Chart {
                title,
                subtitle: format!(
                    "{} active members on {}; shares of those who answered; count targets are in the table",
                    report.active_members, report.as_of
                ),
                marker_name: if set.is_some() {
                    "benchmark or target".to_owned()
                } else {
                    "target".to_owned()
                },
                bars: rows
                    .into_iter()
                    .filter(|row| row.target_count.is_none())
                    .map(|row| Bar {
                        caption: format!(
                            "{} members; {} {}%, {}",
                            row.members,
                            if row.benchmark_share.is_some() {
                                "benchmark"
                            } else {
                                "target"
                            },
                            number(row.benchmark_share.or(row.target_share)),
                            if row.met { "met" } else { "not met" }
                        ),
                        label: row.label,
                        value: row.member_share,
                        marker: row.benchmark_share.or(row.target_share),
                    })
                    .collect(),
            })
        }
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CoverageCell {
    #[schema(value_type = String, example = "london")]
    pub region: String,
    pub members: i64,
    /// Fewer active members than `minimum`.
    pub below_minimum: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CoverageRowResponse {
    pub expertise: String,
    pub label: String,
    /// One cell per region, in the order of `regions`.
    pub cells: Vec<CoverageCell>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CoverageResponse {
    pub as_of: NaiveDate,
    pub minimum: i64,
    #[schema(value_type = Vec<String>)]
    pub regions: Vec<String>,
    pub rows: Vec<CoverageRowResponse>,
}

/// The query of the expertise coverage report.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CoverageParams {
    /// The day membership is judged on (default today).
    pub as_of: Option<NaiveDate>,
    /// Cells with fewer active members are flagged (default 2).
    #[param(minimum = 1, maximum = 1000, default = 2)]
    pub minimum: Option<i64>,
}

impl CoverageRowResponse {
    fn new(row: CoverageRow, minimum: i64) -> Self {
        Self {
            expertise: row.expertise,
            label: row.label,
            cells: row
                .cells
                .into_iter()
                .map(|(region, members)| CoverageCell {
                    region: region.as_str().to_owned(),
                    members,
                    below_minimum: members < minimum,
                })
                .collect(),
        }
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
        (status = 400, response = crate::api::responses::BadRequest),
        (status = 406, response = crate::api::responses::NotAcceptable),
        (status = 503, response = crate::api::responses::Unavailable),
    )
)]
#[get("/reports/expertise-coverage")]
pub async fn expertise_coverage_report(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let format = negotiate(&req, false)?;
    let mut params = QueryParams::parse(req.query_string())?;
    let on = as_of(&mut params);
    let minimum = params
        .single_with("minimum", |raw| match raw.parse::<i64>() {
            Ok(n @ 1..=1000) => Ok(n),
            _ => Err("must be a whole number from 1 to 1000".to_owned()),
        })
        .unwrap_or(2);
    params.finish()?;
    let grace = state.grace;
    let rows = state
        .db
        .run(move |conn| composition::expertise_coverage(conn, on, grace))
        .await?;
    let rows: Vec<CoverageRowResponse> = rows
        .into_iter()
        .map(|row| CoverageRowResponse::new(row, minimum))
        .collect();
    let regions: Vec<String> = Region::ALL.iter().map(|r| r.as_str().to_owned()).collect();
    Ok(match format {
        ReportFormat::Csv => {
            let mut header = vec!["expertise", "label"];
            header.extend(Region::ALL.iter().map(|r| r.as_str()));
            header.push("below_minimum_regions");
            let lines = rows
                .into_iter()
                .map(|row| {
                    let mut line = vec![row.expertise, defuse(&row.label)];
                    line.extend(row.cells.iter().map(|c| c.members.to_string()));
                    line.push(
                        row.cells
                            .iter()
                            .filter(|c| c.below_minimum)
                            .map(|c| c.region.as_str())
                            .collect::<Vec<_>>()
                            .join(";"),
                    );
                    line
                })
                .collect();
            csv_response("expertise-coverage.csv", &header, lines)
        }
        _ => HttpResponse::Ok().json(CoverageResponse {
            as_of: on,
            minimum,
            regions,
            rows,
        }),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ParticipationRowResponse {
    pub code: String,
    pub label: String,
    pub parent_code: Option<String>,
    /// Participating organisations in the row.
    pub participants: i64,
    /// Their percentage of the participating organisations that answered in the dimension.
    pub participant_share: Option<f64>,
    /// The same share among the active members.
    pub member_share: Option<f64>,
    /// `participant_share` minus `member_share`, in percentage points.
    pub difference_points: Option<f64>,
    /// `participant_share` over `member_share`.
    pub ratio: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ParticipationDimension {
    pub dimension: Dimension,
    pub participants: Denominators,
    pub active_members: Denominators,
    pub rows: Vec<ParticipationRowResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ParticipationReport {
    pub as_of: NaiveDate,
    #[schema(format = Uuid)]
    pub consultation_id: Option<String>,
    #[schema(format = Uuid)]
    pub expert_group_id: Option<String>,
    /// Participating organisations.
    pub organisations: i64,
    /// People taking part in their own right; null when suppressed (1 to 4 people).
    pub individuals: Option<i64>,
    pub individuals_suppressed: bool,
    /// Organisations and individuals; null when the individuals are suppressed, so the total
    /// cannot reveal them.
    pub total: Option<i64>,
    pub dimensions: Vec<ParticipationDimension>,
}

/// The query of the participation report.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ParticipationParams {
    /// Whose responses (exactly one of `consultation` and `expert_group`).
    pub consultation: Option<uuid::Uuid>,
    /// Whose members, on `as_of`.
    pub expert_group: Option<uuid::Uuid>,
    /// The day group membership and active membership are judged on (default today).
    pub as_of: Option<NaiveDate>,
    /// Dimensions to report, repeatable (default all). The SVG chart shows the first.
    #[param(schema_with = dimensions)]
    pub dimension: Vec<Dimension>,
}

fn participation_dimensions(
    participation: &participation::Participation,
) -> Vec<ParticipationDimension> {
    participation
        .participants
        .dimensions
        .iter()
        .filter_map(|p| {
            let m = participation.members.dimension(p.dimension)?;
            Some(ParticipationDimension {
                dimension: p.dimension,
                participants: Denominators {
                    members: p.members,
                    answered: p.answered,
                },
                active_members: Denominators {
                    members: m.members,
                    answered: m.answered,
                },
                rows: p
                    .rows
                    .iter()
                    .map(|row| {
                        let participant_share = p.share_of_answered(row);
                        let member_share = m.row(&row.code).and_then(|r| m.share_of_answered(r));
                        let (difference_points, ratio) = match (participant_share, member_share) {
                            (Some(a), Some(b)) => {
                                (Some(round(a - b, 1)), (b > 0.0).then(|| round(a / b, 2)))
                            }
                            _ => (None, None),
                        };
                        ParticipationRowResponse {
                            code: row.code.clone(),
                            label: row.label.clone(),
                            parent_code: row.parent_code.clone(),
                            participants: row.members,
                            participant_share,
                            member_share,
                            difference_points,
                            ratio,
                        }
                    })
                    .collect(),
            })
        })
        .collect()
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
        (status = 400, response = crate::api::responses::BadRequest),
        (status = 404, response = crate::api::responses::NotFound),
        (status = 406, response = crate::api::responses::NotAcceptable),
        (status = 503, response = crate::api::responses::Unavailable),
    )
)]
#[get("/reports/participation")]
pub async fn participation_report(
    state: web::Data<AppState>,
    req: HttpRequest,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    let format = negotiate(&req, true)?;
    let mut params = QueryParams::parse(req.query_string())?;
    let on = as_of(&mut params);
    let id = |raw: &str| {
        uuid::Uuid::parse_str(raw)
            .map(|id| id.to_string())
            .map_err(|_| "must be a UUID".to_owned())
    };
    let consultation = params.single_with("consultation", id);
    let group = params.single_with("expert_group", id);
    let mut dimensions = params.many::<Dimension>("dimension");
    params.finish()?;
    if dimensions.is_empty() {
        dimensions = Dimension::ALL.to_vec();
    }
    let population = match (consultation, group) {
        (Some(consultation_id), None) => Population::Respondents {
            consultation_id,
            with_anonymous: principal.sees_anonymous_responses(),
        },
        (None, Some(group_id)) => Population::GroupMembers { group_id },
        _ => {
            return Err(ApiError::bad_request(
                "name exactly one of consultation=<id> and expert_group=<id>",
            ));
        }
    };
    let grace = state.grace;
    let asked = population.clone();
    let report = state
        .db
        .run(move |conn| participation::participation(conn, &asked, on, grace, &dimensions))
        .await?;
    let (individuals, suppressed) = match report.individuals {
        PeopleCount::Shown(n) => (Some(n), false),
        PeopleCount::Suppressed => (None, true),
    };
    let body = ParticipationReport {
        as_of: on,
        consultation_id: match &population {
            Population::Respondents {
                consultation_id, ..
            } => Some(consultation_id.clone()),
            _ => None,
        },
        expert_group_id: match &population {
            Population::GroupMembers { group_id } => Some(group_id.clone()),
            _ => None,
        },
        organisations: report.organisations,
        individuals,
        individuals_suppressed: suppressed,
        total: individuals.map(|n| n + report.organisations),
        dimensions: participation_dimensions(&report),
    };
    Ok(match format {
        ReportFormat::Json => HttpResponse::Ok().json(body),
        ReportFormat::Csv => {
            let mut rows = Vec::new();
            for d in &body.dimensions {
                for r in &d.rows {
                    rows.push(vec![
                        d.dimension.to_string(),
                        r.code.clone(),
                        defuse(&r.label),
                        r.participants.to_string(),
                        number(r.participant_share),
                        number(r.member_share),
                        number(r.difference_points),
                        number(r.ratio),
                    ]);
                }
            }
            csv_response(
                "participation.csv",
                &[
                    "dimension",
                    "code",
                    "label",
                    "participants",
                    "participant_share",
                    "member_share",
                    "difference_points",
                    "ratio",
                ],
                rows,
            )
        }
        ReportFormat::Svg => {
            let Some(first) = body.dimensions.first() else {
                return Err(ApiError::internal(
                    "a participation report without dimensions",
                ));
            };
            svg_response(Chart {
                title: format!(
                    "Who took part, by {}",
                    first.dimension.as_str().replace('_', " ")
                ),
                subtitle: format!(
                    "{} organisations against {} active members on {}; shares of those who answered",
                    body.organisations, first.active_members.members, body.as_of
                ),
                marker_name: "active members".to_owned(),
                bars: first
                    .rows
                    .iter()
                    .filter(|r| r.parent_code.is_none() && r.member_share.is_some())
                    .map(|r| Bar {
                        label: r.label.clone(),
                        value: r.participant_share,
                        caption: format!(
                            "{} organisations; members {}%",
                            r.participants,
                            number(r.member_share)
                        ),
                        marker: r.member_share,
                    })
                    .collect(),
            })
        }
    })
}

pub fn configure(config: &mut ServiceConfig) {
    config
        .service(participation_report)
        .service(composition_trend)
        .service(composition_report)
        .service(gaps_report)
        .service(expertise_coverage_report);
}
