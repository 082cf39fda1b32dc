//! The published form of every report: the JSON documents (also what a snapshot stores), and
//! the CSV and SVG drawn from them. Counts a reader may not see are `null` with a
//! `suppressed` flag in JSON and `[c]` in CSV; shares derived from them go with them.

use actix_web::http::header::{self, Header};
use actix_web::{HttpRequest, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::charts::{Bar, Chart};
use crate::api::csv::defuse;
use crate::domain::organisations::Region;
use crate::domain::reports::benchmarks::BenchmarkSet;
use crate::domain::reports::composition::CoverageRow;
use crate::domain::reports::disclosure::{Audience, Cell, Disclosure};
use crate::domain::reports::gaps::{GapRow, GapSource};
use crate::domain::reports::participation::Participation;
use crate::domain::reports::snapshots::ReportKind;
use crate::domain::reports::{Composition, Dimension, DimensionComposition, round};
use crate::error::ApiError;

/// What a suppressed figure shows as in CSV (the Government Statistical Service's mark).
const SUPPRESSED: &str = "[c]";

/// The representations a report can be sent as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Json,
    Csv,
    Svg,
}

/// JSON, CSV or (where `svg` is offered) SVG, from `Accept`; 406 for anything else.
pub fn negotiate(req: &HttpRequest, svg: bool) -> Result<ReportFormat, ApiError> {
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

pub(super) fn csv_response(
    filename: &str,
    header: &[&str],
    rows: Vec<Vec<String>>,
) -> HttpResponse {
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

/// A figure for CSV: empty when there is none, `[c]` when it is suppressed.
pub(super) fn figure<T: ToString>(value: Option<T>, suppressed: bool) -> String {
    match value {
        Some(value) => value.to_string(),
        None if suppressed => SUPPRESSED.to_owned(),
        None => String::new(),
    }
}

/// A count for a caption: the number, or "suppressed".
fn spoken(count: Option<i64>) -> String {
    count.map_or_else(|| "suppressed".to_owned(), |n| n.to_string())
}

fn percent_text(value: Option<f64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

// ---- composition -------------------------------------------------------------------------

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CompositionRowResponse {
    /// A value of the dimension, or `answered_none`, `not_asked`, `prefer_not_to_say`,
    /// `unknown`, `none`.
    #[schema(example = "DEI010000")]
    pub code: String,
    pub label: String,
    /// For community codes: the code one level up.
    pub parent_code: Option<String>,
    /// Active members in the row. An organisation counts once at each level of the
    /// community hierarchy, and once under each of its regions and expertise areas. Null
    /// when suppressed.
    pub members: Option<i64>,
    /// The count is withheld (`disclosure=public`: 1 to 4, or the partner of one that is).
    pub suppressed: bool,
    /// Percentage of all active members.
    pub share_of_members: Option<f64>,
    /// Percentage of the active members who answered in this dimension; null for rows of
    /// those who did not.
    pub share_of_answered: Option<f64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Denominators {
    /// All active members (null only when suppressed).
    pub members: Option<i64>,
    /// Active members who answered in this dimension (for leadership and mission: reply
    /// status `answered`; elsewhere: a value recorded).
    pub answered: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
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
                members: d.members.value(),
                answered: d.answered.value(),
            },
            rows: d
                .rows
                .iter()
                .map(|row| CompositionRowResponse {
                    code: row.code.clone(),
                    label: row.label.clone(),
                    parent_code: row.parent_code.clone(),
                    members: row.members.value(),
                    suppressed: row.members.is_suppressed(),
                    share_of_members: d.share_of_members(row),
                    share_of_answered: d.share_of_answered(row),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CompositionResponse {
    pub as_of: NaiveDate,
    /// Who the figures are for: `public` figures are rounded to 5 and small counts withheld.
    pub disclosure: Audience,
    /// Organisations whose membership is `current` or `grace` on `as_of` (null only when
    /// suppressed).
    pub active_members: Option<i64>,
    pub dimensions: Vec<DimensionResponse>,
}

impl CompositionResponse {
    /// `composition` as published under `disclosure`.
    pub fn new(composition: Composition, disclosure: Disclosure) -> Self {
        let published = disclosure.publish(composition);
        Self {
            as_of: published.as_of,
            disclosure: disclosure.audience,
            active_members: published.active_members.value(),
            dimensions: published.dimensions.iter().map(Into::into).collect(),
        }
    }

    fn csv_rows(&self, with_date: bool) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        for d in &self.dimensions {
            for row in &d.rows {
                let mut line = Vec::with_capacity(7);
                if with_date {
                    line.push(self.as_of.to_string());
                }
                line.extend([
                    d.dimension.to_string(),
                    row.code.clone(),
                    defuse(&row.label),
                    figure(row.members, row.suppressed),
                    figure(row.share_of_members, row.suppressed),
                    figure(row.share_of_answered, row.suppressed),
                ]);
                rows.push(line);
            }
        }
        rows
    }

    fn chart(&self) -> Option<Chart> {
        let dimension = self.dimensions.first()?;
        // Community charts show the top of the hierarchy; the JSON and CSV have every level.
        let bars = dimension
            .rows
            .iter()
            .filter(|row| row.parent_code.is_none())
            .map(|row| Bar {
                label: row.label.clone(),
                value: row.share_of_members,
                caption: format!(
                    "{} of {}",
                    spoken(row.members),
                    spoken(dimension.denominators.members)
                ),
                marker: None,
            })
            .collect();
        Some(Chart {
            title: format!(
                "Active members by {}",
                dimension.dimension.as_str().replace('_', " ")
            ),
            subtitle: format!(
                "{} active members on {}; shares of all active members{}",
                spoken(self.active_members),
                self.as_of,
                public_note(self.disclosure)
            ),
            marker_name: "benchmark".to_owned(),
            bars,
        })
    }
}

/// Said under a public chart's title, so a reader knows the figures are rounded.
fn public_note(audience: Audience) -> &'static str {
    match audience {
        Audience::Public => "; counts rounded to 5, counts under 5 withheld",
        Audience::Internal => "",
    }
}

const COMPOSITION_CSV_HEADER: &[&str] = &[
    "dimension",
    "code",
    "label",
    "members",
    "share_of_members",
    "share_of_answered",
];

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CompositionTrend {
    pub disclosure: Audience,
    /// One composition per date asked for, oldest first.
    pub compositions: Vec<CompositionResponse>,
}

// ---- gaps --------------------------------------------------------------------------------

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BenchmarkSummary {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    pub source: String,
    pub year: i32,
}

impl From<BenchmarkSet> for BenchmarkSummary {
    fn from(set: BenchmarkSet) -> Self {
        Self {
            id: set.id,
            name: set.profile.name,
            source: set.profile.source,
            year: set.profile.year,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GapRowResponse {
    /// `benchmark` or `target`.
    #[schema(example = "benchmark")]
    pub source: String,
    pub dimension: Dimension,
    pub code: String,
    pub label: String,
    /// Active members with the code (null when suppressed).
    pub members: Option<i64>,
    pub suppressed: bool,
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
    /// Null when the count it is judged on is suppressed.
    pub met: Option<bool>,
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
            members: row.members.value(),
            suppressed: row.members.is_suppressed(),
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

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GapsResponse {
    pub as_of: NaiveDate,
    pub disclosure: Audience,
    pub active_members: Option<i64>,
    pub benchmark: Option<BenchmarkSummary>,
    /// Largest shortfall first (smallest ratio).
    pub rows: Vec<GapRowResponse>,
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

impl GapsResponse {
    fn csv_rows(&self) -> Vec<Vec<String>> {
        self.rows
            .iter()
            .map(|r| {
                let hidden = r.suppressed;
                vec![
                    r.source.clone(),
                    r.dimension.to_string(),
                    r.code.clone(),
                    defuse(&r.label),
                    figure(r.members, hidden),
                    figure(r.member_share, hidden),
                    figure(r.benchmark_share, false),
                    figure(r.target_share, false),
                    figure(r.target_count, false),
                    figure(r.difference_points, hidden),
                    figure(r.difference_count, hidden),
                    figure(r.ratio, hidden),
                    figure(r.met, hidden),
                    defuse(r.note.as_deref().unwrap_or_default()),
                ]
            })
            .collect()
    }

    fn chart(&self) -> Chart {
        let title = match &self.benchmark {
            Some(set) => format!("Members against {}", set.name),
            None => "Members against our targets".to_owned(),
        };
        Chart {
            title,
            subtitle: format!(
                "{} active members on {}; shares of those who answered; count targets are in the table{}",
                spoken(self.active_members),
                self.as_of,
                public_note(self.disclosure)
            ),
            marker_name: if self.benchmark.is_some() {
                "benchmark or target".to_owned()
            } else {
                "target".to_owned()
            },
            bars: self
                .rows
                .iter()
                .filter(|row| row.target_count.is_none())
                .map(|row| Bar {
                    caption: format!(
                        "{} members; {} {}%, {}",
                        spoken(row.members),
                        if row.benchmark_share.is_some() {
                            "benchmark"
                        } else {
                            "target"
                        },
                        percent_text(row.benchmark_share.or(row.target_share)),
                        match row.met {
                            Some(true) => "met",
                            Some(false) => "not met",
                            None => "not judged (count suppressed)",
                        }
                    ),
                    label: row.label.clone(),
                    value: row.member_share,
                    marker: row.benchmark_share.or(row.target_share),
                })
                .collect(),
        }
    }
}

// ---- expertise coverage ------------------------------------------------------------------

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CoverageCell {
    #[schema(value_type = String, example = "london")]
    pub region: String,
    /// Active members (null when suppressed).
    pub members: Option<i64>,
    pub suppressed: bool,
    /// Fewer active members than `minimum` (null when the count is suppressed).
    pub below_minimum: Option<bool>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CoverageRowResponse {
    pub expertise: String,
    pub label: String,
    /// One cell per region, in the order of `regions`.
    pub cells: Vec<CoverageCell>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CoverageResponse {
    pub as_of: NaiveDate,
    pub disclosure: Audience,
    pub minimum: i64,
    #[schema(value_type = Vec<String>)]
    pub regions: Vec<String>,
    pub rows: Vec<CoverageRowResponse>,
}

impl CoverageResponse {
    pub fn new(
        as_of: NaiveDate,
        rows: Vec<CoverageRow>,
        minimum: i64,
        disclosure: Disclosure,
    ) -> Self {
        Self {
            as_of,
            disclosure: disclosure.audience,
            minimum,
            regions: Region::ALL.iter().map(|r| r.as_str().to_owned()).collect(),
            rows: rows
                .into_iter()
                .map(|row| CoverageRowResponse {
                    expertise: row.expertise,
                    label: row.label,
                    cells: row
                        .cells
                        .into_iter()
                        .map(|(region, members)| {
                            let cell = disclosure.organisations(members);
                            CoverageCell {
                                region: region.as_str().to_owned(),
                                members: cell.value(),
                                suppressed: cell.is_suppressed(),
                                below_minimum: cell.value().map(|n| n < minimum),
                            }
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    fn csv(&self) -> HttpResponse {
        let mut header = vec!["expertise", "label"];
        header.extend(self.regions.iter().map(String::as_str));
        header.push("below_minimum_regions");
        let lines = self
            .rows
            .iter()
            .map(|row| {
                let mut line = vec![row.expertise.clone(), defuse(&row.label)];
                line.extend(row.cells.iter().map(|c| figure(c.members, c.suppressed)));
                line.push(
                    row.cells
                        .iter()
                        .filter(|c| c.below_minimum == Some(true))
                        .map(|c| c.region.as_str())
                        .collect::<Vec<_>>()
                        .join(";"),
                );
                line
            })
            .collect();
        csv_response("expertise-coverage.csv", &header, lines)
    }
}

// ---- participation -----------------------------------------------------------------------

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ParticipationRowResponse {
    pub code: String,
    pub label: String,
    pub parent_code: Option<String>,
    /// Participating organisations in the row (null when suppressed).
    pub participants: Option<i64>,
    pub suppressed: bool,
    /// Their percentage of the participating organisations that answered in the dimension.
    pub participant_share: Option<f64>,
    /// The same share among the active members.
    pub member_share: Option<f64>,
    /// `participant_share` minus `member_share`, in percentage points.
    pub difference_points: Option<f64>,
    /// `participant_share` over `member_share`.
    pub ratio: Option<f64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ParticipationDimension {
    pub dimension: Dimension,
    pub participants: Denominators,
    pub active_members: Denominators,
    pub rows: Vec<ParticipationRowResponse>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ParticipationReport {
    pub as_of: NaiveDate,
    pub disclosure: Audience,
    #[schema(format = Uuid)]
    pub consultation_id: Option<String>,
    #[schema(format = Uuid)]
    pub expert_group_id: Option<String>,
    /// Participating organisations (null when suppressed, under `disclosure=public`).
    pub organisations: Option<i64>,
    pub organisations_suppressed: bool,
    /// People taking part in their own right; null when suppressed (1 to 4 people).
    pub individuals: Option<i64>,
    pub individuals_suppressed: bool,
    /// Organisations and individuals; null when either is suppressed, so the total cannot
    /// reveal them.
    pub total: Option<i64>,
    pub dimensions: Vec<ParticipationDimension>,
}

/// Which participants a participation report describes.
pub enum Participants {
    Consultation(String),
    ExpertGroup(String),
}

impl ParticipationReport {
    pub fn new(
        as_of: NaiveDate,
        participants: Participants,
        report: Participation,
        disclosure: Disclosure,
    ) -> Self {
        let organisations = disclosure.organisations(report.organisations);
        let individuals = disclosure.people(report.individuals);
        let total = match (organisations, individuals) {
            (Cell::Shown(_), Cell::Shown(_)) => disclosure
                .organisations(report.organisations + report.individuals)
                .value(),
            _ => None,
        };
        let who = disclosure.publish(report.participants);
        let members = disclosure.publish(report.members);
        let dimensions = who
            .dimensions
            .iter()
            .filter_map(|p| {
                let m = members.dimension(p.dimension)?;
                Some(ParticipationDimension {
                    dimension: p.dimension,
                    participants: Denominators {
                        members: p.members.value(),
                        answered: p.answered.value(),
                    },
                    active_members: Denominators {
                        members: m.members.value(),
                        answered: m.answered.value(),
                    },
                    rows: p
                        .rows
                        .iter()
                        .map(|row| {
                            let participant_share = p.share_of_answered(row);
                            let member_share =
                                m.row(&row.code).and_then(|r| m.share_of_answered(r));
                            let (difference_points, ratio) = match (participant_share, member_share)
                            {
                                (Some(a), Some(b)) => {
                                    (Some(round(a - b, 1)), (b > 0.0).then(|| round(a / b, 2)))
                                }
                                _ => (None, None),
                            };
                            ParticipationRowResponse {
                                code: row.code.clone(),
                                label: row.label.clone(),
                                parent_code: row.parent_code.clone(),
                                participants: row.members.value(),
                                suppressed: row.members.is_suppressed(),
                                participant_share,
                                member_share,
                                difference_points,
                                ratio,
                            }
                        })
                        .collect(),
                })
            })
            .collect();
        let (consultation_id, expert_group_id) = match participants {
            Participants::Consultation(id) => (Some(id), None),
            Participants::ExpertGroup(id) => (None, Some(id)),
        };
        Self {
            as_of,
            disclosure: disclosure.audience,
            consultation_id,
            expert_group_id,
            organisations: organisations.value(),
            organisations_suppressed: organisations.is_suppressed(),
            individuals: individuals.value(),
            individuals_suppressed: individuals.is_suppressed(),
            total,
            dimensions,
        }
    }

    fn csv_rows(&self) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        for d in &self.dimensions {
            for r in &d.rows {
                rows.push(vec![
                    d.dimension.to_string(),
                    r.code.clone(),
                    defuse(&r.label),
                    figure(r.participants, r.suppressed),
                    figure(r.participant_share, r.suppressed),
                    figure(r.member_share, false),
                    figure(r.difference_points, r.suppressed),
                    figure(r.ratio, r.suppressed),
                ]);
            }
        }
        rows
    }

    fn chart(&self) -> Option<Chart> {
        let first = self.dimensions.first()?;
        Some(Chart {
            title: format!(
                "Who took part, by {}",
                first.dimension.as_str().replace('_', " ")
            ),
            subtitle: format!(
                "{} organisations against {} active members on {}; shares of those who answered{}",
                spoken(self.organisations),
                spoken(first.active_members.members),
                self.as_of,
                public_note(self.disclosure)
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
                        spoken(r.participants),
                        percent_text(r.member_share)
                    ),
                    marker: r.member_share,
                })
                .collect(),
        })
    }
}

const PARTICIPATION_CSV_HEADER: &[&str] = &[
    "dimension",
    "code",
    "label",
    "participants",
    "participant_share",
    "member_share",
    "difference_points",
    "ratio",
];

// ---- any report --------------------------------------------------------------------------

/// A report as published: what a report endpoint answers and what a snapshot stores.
#[derive(Debug)]
pub enum Report {
    Composition(CompositionResponse),
    CompositionTrend(CompositionTrend),
    Gaps(GapsResponse),
    ExpertiseCoverage(CoverageResponse),
    Participation(ParticipationReport),
}

impl Report {
    pub fn kind(&self) -> ReportKind {
        match self {
            Self::Composition(_) => ReportKind::Composition,
            Self::CompositionTrend(_) => ReportKind::CompositionTrend,
            Self::Gaps(_) => ReportKind::Gaps,
            Self::ExpertiseCoverage(_) => ReportKind::ExpertiseCoverage,
            Self::Participation(_) => ReportKind::Participation,
        }
    }

    /// Whether a report of `kind` can be drawn as an SVG chart.
    pub fn offers_svg(kind: ReportKind) -> bool {
        matches!(
            kind,
            ReportKind::Composition | ReportKind::Gaps | ReportKind::Participation
        )
    }

    /// The report's JSON document (what is sent, and what a snapshot stores).
    pub fn to_json(&self) -> Result<serde_json::Value, ApiError> {
        match self {
            Self::Composition(r) => serde_json::to_value(r),
            Self::CompositionTrend(r) => serde_json::to_value(r),
            Self::Gaps(r) => serde_json::to_value(r),
            Self::ExpertiseCoverage(r) => serde_json::to_value(r),
            Self::Participation(r) => serde_json::to_value(r),
        }
        .map_err(|e| ApiError::internal(format!("a {} report as JSON: {e}", self.kind())))
    }

    /// A stored report read back as the kind it was saved as.
    pub fn from_json(kind: ReportKind, text: &str) -> Result<Self, serde_json::Error> {
        Ok(match kind {
            ReportKind::Composition => Self::Composition(serde_json::from_str(text)?),
            ReportKind::CompositionTrend => Self::CompositionTrend(serde_json::from_str(text)?),
            ReportKind::Gaps => Self::Gaps(serde_json::from_str(text)?),
            ReportKind::ExpertiseCoverage => Self::ExpertiseCoverage(serde_json::from_str(text)?),
            ReportKind::Participation => Self::Participation(serde_json::from_str(text)?),
        })
    }

    /// The report in `format` (which `negotiate` allowed for its kind).
    pub fn render(&self, format: ReportFormat) -> Result<HttpResponse, ApiError> {
        match format {
            ReportFormat::Json => Ok(HttpResponse::Ok().json(self.to_json()?)),
            ReportFormat::Csv => Ok(self.csv()),
            ReportFormat::Svg => {
                let chart = match self {
                    Self::Composition(r) => r.chart(),
                    Self::Gaps(r) => Some(r.chart()),
                    Self::Participation(r) => r.chart(),
                    Self::CompositionTrend(_) | Self::ExpertiseCoverage(_) => None,
                };
                let chart = chart.ok_or_else(|| {
                    ApiError::internal(format!("no chart for this {} report", self.kind()))
                })?;
                Ok(HttpResponse::Ok()
                    .content_type("image/svg+xml; charset=utf-8")
                    .body(chart.render()))
            }
        }
    }

    fn csv(&self) -> HttpResponse {
        match self {
            Self::Composition(r) => {
                csv_response("composition.csv", COMPOSITION_CSV_HEADER, r.csv_rows(false))
            }
            Self::CompositionTrend(r) => {
                let mut header = vec!["as_of"];
                header.extend_from_slice(COMPOSITION_CSV_HEADER);
                let rows = r
                    .compositions
                    .iter()
                    .flat_map(|c| c.csv_rows(true))
                    .collect();
                csv_response("composition-trend.csv", &header, rows)
            }
            Self::Gaps(r) => csv_response("gaps.csv", GAP_CSV_HEADER, r.csv_rows()),
            Self::ExpertiseCoverage(r) => r.csv(),
            Self::Participation(r) => {
                csv_response("participation.csv", PARTICIPATION_CSV_HEADER, r.csv_rows())
            }
        }
    }
}
