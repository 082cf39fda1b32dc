//! A report asked for by its query string, and computed: shared by the report endpoints and
//! by snapshots, which save a report from the same query.

use chrono::{NaiveDate, Utc};

use super::views::{
    BenchmarkSummary, CompositionResponse, CompositionTrend, CoverageResponse, GapsResponse,
    Participants, ParticipationReport, Report,
};
use super::{CompositionParams, CoverageParams, GapsParams, ParticipationParams, TrendParams};
use crate::api::list::{FromQuery, QueryParams};
use crate::db::ReportSlot;
use crate::domain::reports::composition::{self, Counts, Half, Population};
use crate::domain::reports::disclosure::{Audience, Disclosure};
use crate::domain::reports::snapshots::ReportKind;
use crate::domain::reports::{Composition, Dimension, benchmarks, gaps, participation, targets};
use crate::domain::{DomainError, FieldError};
use crate::error::ApiError;
use crate::state::AppState;

/// Most dates one trend may ask for.
pub const MAX_TREND_DATES: usize = 12;

/// What each report needs from its query.
#[derive(Debug, Clone)]
enum Params {
    Composition {
        on: NaiveDate,
        dimensions: Vec<Dimension>,
    },
    CompositionTrend {
        dates: Vec<NaiveDate>,
        dimensions: Vec<Dimension>,
    },
    Gaps {
        on: NaiveDate,
        benchmark: Option<String>,
        with_targets: bool,
        dimension: Dimension,
    },
    ExpertiseCoverage {
        on: NaiveDate,
        minimum: i64,
    },
    Participation {
        on: NaiveDate,
        population: Population,
        dimensions: Vec<Dimension>,
    },
}

/// A report, its query read and checked.
#[derive(Debug, Clone)]
pub struct ReportRequest {
    audience: Audience,
    params: Params,
}

/// `as_of`, or today.
fn on_or_today(as_of: Option<NaiveDate>) -> NaiveDate {
    as_of.unwrap_or_else(|| Utc::now().date_naive())
}

/// The dimensions asked for, or all of them.
fn all_if_none(asked: Vec<Dimension>) -> Vec<Dimension> {
    if asked.is_empty() {
        Dimension::ALL.to_vec()
    } else {
        asked
    }
}

/// Reads an id as its canonical string, naming `what` when it is not one.
pub(super) fn uuid(what: &'static str) -> impl Fn(&str) -> Result<String, String> {
    move |raw| {
        uuid::Uuid::parse_str(raw)
            .map(|id| id.to_string())
            .map_err(|_| format!("must be {what} (a UUID)"))
    }
}

/// `disclosure`: who the report is for.
pub(super) fn audience(raw: &str) -> Result<Audience, String> {
    raw.parse::<Audience>()
        .map_err(|_| "must be internal or public".to_owned())
}

/// The community area a gaps report compares in.
pub(super) fn community_area(raw: &str) -> Result<Dimension, String> {
    match raw.parse::<Dimension>() {
        Ok(d @ (Dimension::Leadership | Dimension::Mission)) => Ok(d),
        _ => Err("must be leadership or mission".to_owned()),
    }
}

/// The smallest count of a coverage cell that is not flagged.
pub(super) fn minimum(raw: &str) -> Result<i64, String> {
    match raw.parse::<i64>() {
        Ok(n @ 1..=1000) => Ok(n),
        _ => Err("must be a whole number from 1 to 1000".to_owned()),
    }
}

/// The composition of the active members on `on`: its two halves counted at once on two
/// pooled connections when the report can have a second one, else one after the other.
async fn active_composition(
    state: &AppState,
    slot: &ReportSlot,
    on: NaiveDate,
    dimensions: Vec<Dimension>,
) -> Result<Composition, ApiError> {
    let grace = state.grace;
    let half = |half| {
        let dimensions = dimensions.clone();
        state.reports.run(move |conn| {
            Counts::count(
                conn,
                half,
                &Population::ActiveMembers,
                on,
                grace,
                &dimensions,
            )
        })
    };
    let counts = match slot.another() {
        Some(_second) => {
            // `join`, not `try_join`: the slots are given back only once both halves have let
            // go of their connections, even when one fails.
            let (attributes, communities) =
                futures_util::future::join(half(Half::Attributes), half(Half::Communities)).await;
            attributes?.merge(communities?)
        }
        None => half(Half::Attributes)
            .await?
            .merge(half(Half::Communities).await?),
    };
    Ok(state
        .reports
        .run(move |conn| composition::compose(conn, &counts, on, &dimensions))
        .await?)
}

impl ReportRequest {
    /// The report `kind` asked for by `query`; `sees_anonymous_responses` decides whether a
    /// participation report counts anonymous respondents. Problems are 400s naming the
    /// parameter.
    pub fn parse(
        kind: ReportKind,
        query: &str,
        sees_anonymous_responses: bool,
    ) -> Result<Self, ApiError> {
        let mut q = QueryParams::parse(query)?;
        let (audience, params) = match kind {
            ReportKind::Composition => {
                let p = CompositionParams::read(&mut q);
                let params = Params::Composition {
                    on: on_or_today(p.as_of),
                    dimensions: all_if_none(p.dimension),
                };
                (p.disclosure, params)
            }
            ReportKind::CompositionTrend => {
                let p = TrendParams::read(&mut q);
                let mut dates = p.at;
                dates.sort();
                dates.dedup();
                let params = Params::CompositionTrend {
                    dates,
                    dimensions: all_if_none(p.dimension),
                };
                (p.disclosure, params)
            }
            ReportKind::Gaps => {
                let p = GapsParams::read(&mut q);
                let params = Params::Gaps {
                    on: on_or_today(p.as_of),
                    benchmark: p.benchmark,
                    with_targets: p.targets.unwrap_or(true),
                    dimension: p.dimension.unwrap_or(Dimension::Leadership),
                };
                (p.disclosure, params)
            }
            ReportKind::ExpertiseCoverage => {
                let p = CoverageParams::read(&mut q);
                let params = Params::ExpertiseCoverage {
                    on: on_or_today(p.as_of),
                    minimum: p.minimum.unwrap_or(2),
                };
                (p.disclosure, params)
            }
            ReportKind::Participation => {
                let p = ParticipationParams::read(&mut q);
                let population = match (p.consultation, p.expert_group) {
                    (Some(consultation_id), None) => Population::Respondents {
                        consultation_id,
                        with_anonymous: sees_anonymous_responses,
                    },
                    (None, Some(group_id)) => Population::GroupMembers { group_id },
                    // Reported by `finish` below when a value was malformed.
                    _ => Population::ActiveMembers,
                };
                let params = Params::Participation {
                    on: on_or_today(p.as_of),
                    population,
                    dimensions: all_if_none(p.dimension),
                };
                (p.disclosure, params)
            }
        };
        let audience = audience.unwrap_or(Audience::Internal);
        q.finish()?;
        match &params {
            Params::CompositionTrend { dates, .. }
                if dates.is_empty() || dates.len() > MAX_TREND_DATES =>
            {
                Err(ApiError::BadRequest {
                    detail: format!(
                        "at: give 1 to {MAX_TREND_DATES} dates in the years 0001 to 9999, e.g. at=2025-03-31&at=2026-03-31"
                    ),
                    errors: vec![FieldError::new(
                        "at",
                        "invalid",
                        format!("1 to {MAX_TREND_DATES} dates, YYYY-MM-DD"),
                    )],
                })
            }
            Params::Gaps {
                benchmark: None,
                with_targets: false,
                ..
            } => Err(ApiError::bad_request(
                "name a benchmark set (benchmark=<id>) or include the targets (targets=true)",
            )),
            Params::Participation {
                population: Population::ActiveMembers,
                ..
            } => Err(ApiError::bad_request(
                "name exactly one of consultation=<id> and expert_group=<id>",
            )),
            _ => Ok(Self { audience, params }),
        }
    }

    pub fn audience(&self) -> Audience {
        self.audience
    }

    /// Whether the report may count anonymous consultation responses, so that only those
    /// who may know of them should read it.
    pub fn includes_anonymous_responses(&self) -> bool {
        matches!(
            self.params,
            Params::Participation {
                population: Population::Respondents {
                    with_anonymous: true,
                    ..
                },
                ..
            }
        )
    }

    /// Computes the report (SQL aggregation on pooled connections) and publishes it.
    pub async fn run(self, state: &AppState) -> Result<Report, ApiError> {
        let slot = state.reports.report_slot().await?;
        let grace = state.grace;
        let disclosure = Disclosure::new(self.audience, state.suppression_threshold);
        Ok(match self.params {
            Params::Composition { on, dimensions } => {
                Report::Composition(CompositionResponse::new(
                    active_composition(state, &slot, on, dimensions).await?,
                    disclosure,
                ))
            }
            Params::CompositionTrend { dates, dimensions } => {
                let mut compositions = Vec::with_capacity(dates.len());
                for on in dates {
                    let counted = active_composition(state, &slot, on, dimensions.clone()).await?;
                    compositions.push(CompositionResponse::new(counted, disclosure));
                }
                Report::CompositionTrend(CompositionTrend {
                    disclosure: disclosure.audience,
                    compositions,
                })
            }
            Params::Gaps {
                on,
                benchmark,
                with_targets,
                dimension,
            } => {
                let (set, targets) = state
                    .reports
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
                        Ok::<_, DomainError>((set, targets))
                    })
                    .await?;
                let needed = gaps::dimensions_needed(dimension, &targets);
                let published =
                    disclosure.publish(active_composition(state, &slot, on, needed).await?);
                let rows = gaps::gaps(&published, set.as_ref(), dimension, &targets);
                Report::Gaps(GapsResponse {
                    as_of: published.as_of,
                    disclosure: disclosure.audience,
                    active_members: published.active_members.value(),
                    benchmark: set.map(BenchmarkSummary::from),
                    rows: rows.into_iter().map(Into::into).collect(),
                })
            }
            Params::ExpertiseCoverage { on, minimum } => {
                let rows = state
                    .reports
                    .run(move |conn| composition::expertise_coverage(conn, on, grace))
                    .await?;
                Report::ExpertiseCoverage(CoverageResponse::new(on, rows, minimum, disclosure))
            }
            Params::Participation {
                on,
                population,
                dimensions,
            } => {
                let participants = match &population {
                    Population::Respondents {
                        consultation_id, ..
                    } => Participants::Consultation(consultation_id.clone()),
                    Population::GroupMembers { group_id } => {
                        Participants::ExpertGroup(group_id.clone())
                    }
                    // `parse` never builds a participation report of the active members.
                    Population::ActiveMembers => {
                        return Err(ApiError::bad_request(
                            "name exactly one of consultation=<id> and expert_group=<id>",
                        ));
                    }
                };
                let counted = state
                    .reports
                    .run(move |conn| {
                        participation::participation(conn, &population, on, grace, &dimensions)
                    })
                    .await?;
                Report::Participation(ParticipationReport::new(
                    on,
                    participants,
                    counted,
                    disclosure,
                ))
            }
        })
    }
}
