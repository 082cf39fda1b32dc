//! `/api/v1/reports/snapshots`: any report saved under a name, as it was computed, with who
//! saved it and when; listed, read back in any of the report's formats, and compared.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{AnyOfBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use super::TAG;
use super::run::ReportRequest;
use super::views::{Report, ReportFormat, csv_response, figure, negotiate};
use crate::api::body::{JsonBody, required};
use crate::api::conditional::created;
use crate::api::list::{Cursor, FromQuery, QueryParams, query_params};
use crate::api::paging::{self, Keyset};
use crate::api::path_id;
use crate::api::schemas::timestamp;
use crate::api::validation as rules;
use crate::auth::Principal;
use crate::domain::FieldError;
use crate::domain::audit::{self, Event, entity};
use crate::domain::reports::disclosure::Audience;
use crate::domain::reports::round;
use crate::domain::reports::snapshots::{
    self, NewSnapshot, Reader, ReportKind, Snapshot, SnapshotSummary,
};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct SnapshotCreator {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
}

/// A saved report, without its figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct SnapshotSummaryResponse {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    pub report: ReportKind,
    /// The report's query string the snapshot answered, e.g. `as_of=2026-03-31`.
    pub query: String,
    pub disclosure: Audience,
    /// A participation report that counted anonymous responses: shown only to staff and
    /// admins.
    pub includes_anonymous_responses: bool,
    pub created_by: SnapshotCreator,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<SnapshotSummary> for SnapshotSummaryResponse {
    fn from(s: SnapshotSummary) -> Self {
        Self {
            id: s.id,
            name: s.name,
            report: s.report,
            query: s.query,
            disclosure: s.audience,
            includes_anonymous_responses: s.includes_anonymous_responses,
            created_by: SnapshotCreator {
                id: s.created_by,
                name: s.created_by_name,
            },
            created_at: timestamp(s.created_at),
        }
    }
}

/// The body of a snapshot: the report's JSON as it was sent.
fn report_bodies() -> RefOr<Schema> {
    let mut any_of = AnyOfBuilder::new();
    for name in [
        "CompositionResponse",
        "CompositionTrend",
        "GapsResponse",
        "CoverageResponse",
        "ParticipationReport",
    ] {
        any_of = any_of.item(Ref::from_schema_name(name));
    }
    any_of
        .description(Some(
            "The report as it was computed; its shape is `report`'s",
        ))
        .into()
}

/// A saved report with its figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct SnapshotResponse {
    #[serde(flatten)]
    pub snapshot: SnapshotSummaryResponse,
    #[schema(schema_with = report_bodies)]
    pub body: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SnapshotList {
    pub data: Vec<SnapshotSummaryResponse>,
    pub next_cursor: Option<String>,
}

/// Save a report: it is computed now, from `query`, exactly as `GET /reports/{report}?{query}`
/// would answer, and kept as it is.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSnapshotRequest {
    #[validate(required(message = "is required"), length(min = 1, max = 200), regex(path = *rules::SINGLE_LINE_RE, message = "must be one line of text without leading or trailing spaces"))]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 200, pattern = "SINGLE_LINE", example = "Annual report 2026: membership at 31 March")]
    pub name: Option<String>,
    #[validate(required(message = "is required"))]
    #[schema(value_type = ReportKind, required = true)]
    pub report: Option<ReportKind>,
    /// The report's query string (without `?`), e.g. `as_of=2026-03-31&disclosure=public`;
    /// default none.
    #[serde(default)]
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000, example = "as_of=2026-03-31&disclosure=public")]
    pub query: Option<String>,
}

/// A report's query problems, in a request body: 422 naming `query`.
fn query_problem(error: ApiError) -> ApiError {
    match error {
        ApiError::BadRequest { detail, errors } => ApiError::Validation {
            errors: if errors.is_empty() {
                vec![FieldError::new("query", "invalid", detail)]
            } else {
                errors
                    .into_iter()
                    .map(|e| FieldError {
                        field: format!("query.{}", e.field),
                        ..e
                    })
                    .collect()
            },
        },
        ApiError::NotFound { detail } => ApiError::Validation {
            errors: vec![FieldError::new("query", "not_found", detail)],
        },
        other => other,
    }
}

fn reader(principal: &Principal) -> Reader {
    Reader {
        sees_anonymous_responses: principal.sees_anonymous_responses(),
    }
}

/// The stored body read back; a body that no longer reads is our fault, not the caller's.
fn stored_report(snapshot: &Snapshot) -> Result<Report, ApiError> {
    Report::from_json(snapshot.summary.report, &snapshot.body).map_err(|e| {
        ApiError::internal(format!(
            "snapshot {} does not read as a {} report: {e}",
            snapshot.summary.id, snapshot.summary.report
        ))
    })
}

query_params! {
    /// Paging through snapshots, of one report when given.
    pub struct SnapshotListParams {
        pub report: Option<ReportKind> = parsed,
        #[param(value_type = Option<u32>, minimum = 1, maximum = 500, default = 50)]
        pub limit: usize = limit,
        #[param(value_type = Option<String>, pattern = "CURSOR")]
        pub cursor: Option<Cursor> = cursor,
    }
}

/// List report snapshots
///
/// Oldest first, without their figures.
#[utoipa::path(
    tag = TAG,
    params(SnapshotListParams),
    responses(
        (status = 200, description = "A page of snapshots", body = SnapshotList),
    )
)]
#[get("/reports/snapshots")]
pub async fn list_report_snapshots(
    state: web::Data<AppState>,
    req: HttpRequest,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    let params = SnapshotListParams::parse(req.query_string())?;
    let keyset = Keyset::by_id(params.cursor, params.limit)?;
    let (report, reader) = (params.report, reader(&principal));
    let listing = paging::by_id(move |conn, after, limit| {
        snapshots::list(conn, report, reader, after, limit)
    });
    paging::page(&state.db, &req, keyset, listing, |page| SnapshotList {
        data: page.rows.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    })
    .await
}

/// Save a report snapshot
///
/// Computes the report from `query` now (as its `GET` would) and keeps the result under
/// `name`, with who saved it and when. A query the report would refuse is a 422 naming it.
#[utoipa::path(
    tag = TAG,
    request_body = CreateSnapshotRequest,
    responses(
        (status = 201, description = "Saved", body = SnapshotResponse,
         headers(("Location" = String, description = "The new snapshot"))),
    )
)]
#[post("/reports/snapshots")]
pub async fn create_report_snapshot(
    state: web::Data<AppState>,
    principal: Principal,
    audit: audit::Context,
    body: JsonBody<CreateSnapshotRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let name = required(request.name, "name")?;
    let kind = required(request.report, "report")?;
    let query = request.query.unwrap_or_default().trim().to_owned();
    let asked = ReportRequest::parse(kind, &query, principal.sees_anonymous_responses())
        .map_err(query_problem)?;
    let created_by = principal.user_id()?.to_owned();
    let (audience, includes_anonymous_responses) =
        (asked.audience(), asked.includes_anonymous_responses());
    let body = asked.run(&state).await.map_err(query_problem)?.to_json()?;
    let new = NewSnapshot {
        name,
        report: kind,
        audience,
        includes_anonymous_responses,
        query,
        created_by,
        body: body.to_string(),
    };
    // The event holds the snapshot's summary; its figures are the snapshot itself.
    let saved = state
        .db
        .write(audit, move |conn, log| {
            let saved = snapshots::create(conn, &new)?;
            log.record(Event::created(
                entity::REPORT_SNAPSHOT,
                &saved.summary.id,
                &SnapshotSummaryResponse::from(saved.summary.clone()),
            ));
            Ok(saved)
        })
        .await?;
    Ok(created(
        format!("/api/v1/reports/snapshots/{}", saved.summary.id),
        SnapshotResponse {
            snapshot: saved.summary.into(),
            body,
        },
    ))
}

/// Get a report snapshot
///
/// As JSON, the snapshot with the report's figures in `body`; with `Accept: text/csv` (or
/// `image/svg+xml`, for composition, gaps and participation) the saved report itself, drawn
/// from the saved figures.
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Snapshot id")),
    responses(
        (status = 200, description = "The snapshot", body = SnapshotResponse,
         content((SnapshotResponse = "application/json"), (String = "text/csv"), (String = "image/svg+xml"))),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[get("/reports/snapshots/{id}")]
pub async fn get_report_snapshot(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    let reader = reader(&principal);
    let snapshot = state
        .db
        .run(move |conn| snapshots::find(conn, &id, reader))
        .await?;
    // What the snapshot offers depends on its report, so the format is settled after reading.
    let format = negotiate(&req, Report::offers_svg(snapshot.summary.report))?;
    let report = stored_report(&snapshot)?;
    match format {
        ReportFormat::Json => Ok(HttpResponse::Ok().json(SnapshotResponse {
            body: report.to_json()?,
            snapshot: snapshot.summary.into(),
        })),
        other => report.render(other),
    }
}

/// Delete a report snapshot
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Snapshot id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[delete("/reports/snapshots/{id}")]
pub async fn delete_report_snapshot(
    state: web::Data<AppState>,
    path: web::Path<String>,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    state
        .db
        .write(audit, move |conn, log| {
            let everyone = Reader {
                sees_anonymous_responses: true,
            };
            let before = snapshots::find(conn, &id, everyone)?.summary;
            snapshots::delete(conn, &id)?;
            log.record(Event::removed(
                entity::REPORT_SNAPSHOT,
                &id,
                &SnapshotSummaryResponse::from(before),
            ));
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// One figure of one row, in both snapshots.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComparedFigure {
    /// `members`, `share_of_members`, `share_of_answered`, `member_share`,
    /// `difference_points`, `ratio`, `participants`, `participant_share`.
    #[schema(example = "share_of_answered")]
    pub measure: String,
    /// The figure in `from` (null when absent or suppressed).
    pub from: Option<f64>,
    pub from_suppressed: bool,
    pub to: Option<f64>,
    pub to_suppressed: bool,
    /// `to` minus `from`.
    pub change: Option<f64>,
}

/// One row of the report, in both snapshots.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComparedRow {
    /// Where the row sits: a dimension (`leadership`); for gaps the source and dimension
    /// (`benchmark leadership`); for coverage the expertise area; for a trend the date and
    /// dimension.
    pub section: String,
    /// The row's code (for coverage: the region).
    pub code: String,
    pub label: String,
    pub figures: Vec<ComparedFigure>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SnapshotComparison {
    pub report: ReportKind,
    pub from: SnapshotSummaryResponse,
    pub to: SnapshotSummaryResponse,
    /// In the order of `to`, then rows found only in `from`.
    pub rows: Vec<ComparedRow>,
}

/// A report's figures flattened for comparison: (section, code) → label and measures.
struct Line {
    section: String,
    code: String,
    label: String,
    figures: Vec<(&'static str, Option<f64>, bool)>,
}

fn count(value: Option<i64>) -> Option<f64> {
    value.map(|n| n as f64)
}

fn composition_lines(
    c: &super::views::CompositionResponse,
    prefix: Option<&str>,
    out: &mut Vec<Line>,
) {
    for d in &c.dimensions {
        for r in &d.rows {
            out.push(Line {
                section: match prefix {
                    Some(date) => format!("{date} {}", d.dimension),
                    None => d.dimension.to_string(),
                },
                code: r.code.clone(),
                label: r.label.clone(),
                figures: vec![
                    ("members", count(r.members), r.suppressed),
                    ("share_of_members", r.share_of_members, r.suppressed),
                    ("share_of_answered", r.share_of_answered, r.suppressed),
                ],
            });
        }
    }
}

fn lines(report: &Report) -> Vec<Line> {
    let mut out = Vec::new();
    match report {
        Report::Composition(c) => composition_lines(c, None, &mut out),
        Report::CompositionTrend(t) => {
            for c in &t.compositions {
                composition_lines(c, Some(&c.as_of.to_string()), &mut out);
            }
        }
        Report::Gaps(g) => {
            for r in &g.rows {
                out.push(Line {
                    section: format!("{} {}", r.source, r.dimension),
                    code: r.code.clone(),
                    label: r.label.clone(),
                    figures: vec![
                        ("members", count(r.members), r.suppressed),
                        ("member_share", r.member_share, r.suppressed),
                        ("difference_points", r.difference_points, r.suppressed),
                        ("ratio", r.ratio, r.suppressed),
                    ],
                });
            }
        }
        Report::ExpertiseCoverage(c) => {
            for r in &c.rows {
                for cell in &r.cells {
                    out.push(Line {
                        section: r.expertise.clone(),
                        code: cell.region.clone(),
                        label: r.label.clone(),
                        figures: vec![("members", count(cell.members), cell.suppressed)],
                    });
                }
            }
        }
        Report::Participation(p) => {
            for d in &p.dimensions {
                for r in &d.rows {
                    out.push(Line {
                        section: d.dimension.to_string(),
                        code: r.code.clone(),
                        label: r.label.clone(),
                        figures: vec![
                            ("participants", count(r.participants), r.suppressed),
                            ("participant_share", r.participant_share, r.suppressed),
                            ("member_share", r.member_share, false),
                            ("difference_points", r.difference_points, r.suppressed),
                        ],
                    });
                }
            }
        }
    }
    out
}

/// Row by row and figure by figure, `from` against `to`.
fn compare(from: &Report, to: &Report) -> Vec<ComparedRow> {
    let before = lines(from);
    let mut by_key: HashMap<(String, String), &Line> = before
        .iter()
        .map(|line| ((line.section.clone(), line.code.clone()), line))
        .collect();
    // `line` is the row as it stands in `later`, or in `earlier` when it has gone.
    let joined = |line: &Line, earlier: Option<&Line>, later: Option<&Line>| {
        let figures = line
            .figures
            .iter()
            .enumerate()
            .map(|(i, (measure, _, _))| {
                let at = |line: Option<&Line>| {
                    line.and_then(|l| l.figures.get(i))
                        .map_or((None, false), |f| (f.1, f.2))
                };
                let (from, from_suppressed) = at(earlier);
                let (to, to_suppressed) = at(later);
                ComparedFigure {
                    measure: (*measure).to_owned(),
                    from,
                    from_suppressed,
                    to,
                    to_suppressed,
                    change: from.zip(to).map(|(a, b)| round(b - a, 2)),
                }
            })
            .collect();
        ComparedRow {
            section: line.section.clone(),
            code: line.code.clone(),
            label: line.label.clone(),
            figures,
        }
    };
    let mut rows = Vec::new();
    for line in lines(to).iter() {
        let earlier = by_key.remove(&(line.section.clone(), line.code.clone()));
        rows.push(joined(line, earlier, Some(line)));
    }
    for line in &before {
        if by_key.contains_key(&(line.section.clone(), line.code.clone())) {
            rows.push(joined(line, Some(line), None));
        }
    }
    rows
}

/// The two snapshots a comparison is between.
/// The two snapshots a comparison needs. Written out rather than with `query_params!`, whose
/// parameters are all optional: these two are required (without both, 400).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CompareParams {
    /// The earlier snapshot.
    #[param(value_type = uuid::Uuid, required = true)]
    pub from: Option<String>,
    /// The later snapshot, of the same report.
    #[param(value_type = uuid::Uuid, required = true)]
    pub to: Option<String>,
}

impl FromQuery for CompareParams {
    fn read(params: &mut QueryParams) -> Self {
        Self {
            from: params.single_with("from", snapshot_id),
            to: params.single_with("to", snapshot_id),
        }
    }
}

fn snapshot_id(raw: &str) -> Result<String, String> {
    uuid::Uuid::parse_str(raw)
        .map(|id| id.to_string())
        .map_err(|_| "must be a snapshot id (a UUID)".to_owned())
}

/// Compare two report snapshots
///
/// Row by row and figure by figure, `from` against `to` (two snapshots of the same report),
/// with the change in each figure. `Accept: text/csv` gives one line per row and figure.
#[utoipa::path(
    tag = TAG,
    params(CompareParams),
    responses(
        (status = 200, description = "The comparison", body = SnapshotComparison,
         content((SnapshotComparison = "application/json"), (String = "text/csv"))),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[get("/reports/snapshots/compare")]
pub async fn compare_report_snapshots(
    state: web::Data<AppState>,
    req: HttpRequest,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    let format = negotiate(&req, false)?;
    let params = CompareParams::parse(req.query_string())?;
    let (Some(from), Some(to)) = (params.from, params.to) else {
        return Err(ApiError::bad_request(
            "name the two snapshots: from=<id>&to=<id>",
        ));
    };
    let reader = reader(&principal);
    let (earlier, later) = state
        .db
        .run(move |conn| {
            Ok::<_, crate::domain::DomainError>((
                snapshots::find(conn, &from, reader)?,
                snapshots::find(conn, &to, reader)?,
            ))
        })
        .await?;
    if earlier.summary.report != later.summary.report {
        return Err(ApiError::BadRequest {
            detail: format!(
                "to: a {} snapshot cannot be compared with a {} snapshot",
                later.summary.report, earlier.summary.report
            ),
            errors: vec![FieldError::new(
                "to",
                "different_report",
                format!("must be a {} snapshot, like from", earlier.summary.report),
            )],
        });
    }
    let rows = compare(&stored_report(&earlier)?, &stored_report(&later)?);
    Ok(match format {
        ReportFormat::Csv => {
            let mut lines = Vec::new();
            for row in &rows {
                for f in &row.figures {
                    lines.push(vec![
                        row.section.clone(),
                        row.code.clone(),
                        crate::api::csv::defuse(&row.label),
                        f.measure.clone(),
                        figure(f.from, f.from_suppressed),
                        figure(f.to, f.to_suppressed),
                        figure(f.change, f.from_suppressed || f.to_suppressed),
                    ]);
                }
            }
            csv_response(
                "snapshot-comparison.csv",
                &[
                    "section", "code", "label", "measure", "from", "to", "change",
                ],
                lines,
            )
        }
        _ => HttpResponse::Ok().json(SnapshotComparison {
            report: earlier.summary.report,
            from: earlier.summary.into(),
            to: later.summary.into(),
            rows,
        }),
    })
}

pub fn configure(config: &mut ServiceConfig) {
    config
        .service(list_report_snapshots)
        .service(create_report_snapshot)
        .service(compare_report_snapshots)
        .service(get_report_snapshot)
        .service(delete_report_snapshot);
}
