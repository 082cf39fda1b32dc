//! The composition of the active membership on a day, and expertise coverage by region, each
//! in one SQL statement over the members active that day.

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Nullable, Text};

use super::disclosure::Cell;
use super::{
    ANSWERED_NONE, Composition, CompositionRow, Dimension, DimensionComposition, NONE, NOT_ASKED,
    PREFER_NOT_TO_SAY, UNKNOWN,
};
use crate::db::DbConn;
use crate::domain::membership::GraceWindow;
use crate::domain::organisations::{OrganisationKind, REPORT_CODE_ANY, Region, SizeBand};
use crate::domain::{DomainError, taxonomies};

/// The organisations whose membership is `current` or `grace` on `$1` (a period started by
/// then that ended no earlier than `$2`, the first day still in grace, and no withdrawal in
/// force): the rule of `membership::store::status_filter`, written as SQL for reports. A test
/// holds the two to the same answer.
const ACTIVE_MEMBERS: &str = "
population AS MATERIALIZED (
    SELECT o.id, o.kind, o.size_band, o.lived_experience_led,
           o.leadership_reply_status, o.mission_reply_status
    FROM organisations o
    WHERE o.deleted_at IS NULL
      AND EXISTS (SELECT 1 FROM membership_periods p
                  WHERE p.organisation_id = o.id AND p.start_on <= $1 AND p.end_on >= $2)
      AND NOT EXISTS (SELECT 1 FROM membership_withdrawals w
                      WHERE w.organisation_id = o.id AND w.withdrawn_on <= $1
                        AND (w.reinstated_on IS NULL OR w.reinstated_on > $1))
)";

/// The organisations that responded to consultation `$1` with attribution `named` or `$2`
/// (`anonymous` for callers who may know of anonymous responses, `named` again otherwise).
const RESPONDENTS: &str = "
population AS MATERIALIZED (
    SELECT o.id, o.kind, o.size_band, o.lived_experience_led,
           o.leadership_reply_status, o.mission_reply_status
    FROM organisations o
    WHERE o.deleted_at IS NULL
      AND o.id IN (SELECT r.organisation_id FROM consultation_responses r
                   WHERE r.consultation_id = $1 AND r.organisation_id IS NOT NULL
                     AND r.attribution IN ('named', $2))
)";

/// The organisations that are members of expert group `$1` on `$2`.
const GROUP_MEMBERS: &str = "
population AS MATERIALIZED (
    SELECT o.id, o.kind, o.size_band, o.lived_experience_led,
           o.leadership_reply_status, o.mission_reply_status
    FROM organisations o
    WHERE o.deleted_at IS NULL
      AND o.id IN (SELECT m.organisation_id FROM expert_group_members m
                   WHERE m.group_id = $1 AND m.organisation_id IS NOT NULL AND m.joined_on <= $2
                     AND (m.left_on IS NULL OR m.left_on >= $2))
)";

/// `population` (one of the population CTEs) and `statement` as one query.
fn with_population(population: &str, statement: &str) -> String {
    format!("WITH {population} {statement}")
}

/// The counts of a composition, in two statements over the same population that run at once
/// on two connections (a report answers in the time of the slower): the members' own
/// columns with their regions and expertise, and the community hierarchy. Multi-valued
/// dimensions are counted from `organisation_report_codes` (each level of the community
/// hierarchy once, `*` for "has any", the denominator of answers), so each is one GROUP BY.
/// The codes are found by `IN (SELECT id FROM population)`: PostgreSQL then hashes the
/// population and probes the codes' primary key, instead of hashing the whole codes table
/// (it cannot see that the population's ids are unique), and SQLite probes the same key.
const ATTRIBUTE_BUCKETS: &str = "
SELECT 'all' AS dimension, CAST(NULL AS TEXT) AS code, COUNT(*) AS members FROM population
UNION ALL SELECT 'kind', kind, COUNT(*) FROM population GROUP BY kind
UNION ALL SELECT 'size_band', size_band, COUNT(*) FROM population GROUP BY size_band
UNION ALL SELECT 'lived_experience_led',
    CASE WHEN lived_experience_led THEN 'true' WHEN NOT lived_experience_led THEN 'false' END,
    COUNT(*) FROM population GROUP BY lived_experience_led
UNION ALL SELECT 'leadership_reply', leadership_reply_status, COUNT(*) FROM population GROUP BY leadership_reply_status
UNION ALL SELECT 'mission_reply', mission_reply_status, COUNT(*) FROM population GROUP BY mission_reply_status";

/// The codes of the population in some facets (`{facets}`): regions and expertise with the
/// attributes, the community hierarchy as the other half.
const CODE_BUCKETS: &str = "
SELECT c.facet AS dimension, c.code AS code, COUNT(*) AS members
    FROM organisation_report_codes c
    WHERE c.facet IN ({facets}) AND c.organisation_id IN (SELECT id FROM population)
    GROUP BY c.facet, c.code";

/// The statement of `half` for `dimensions`; none when that half has nothing to count.
fn half_statement(half: Half, dimensions: &[Dimension]) -> Option<String> {
    let wanted: &[Dimension] = match half {
        Half::Attributes => &[Dimension::Region, Dimension::Expertise],
        Half::Communities => &[Dimension::Leadership, Dimension::Mission],
    };
    let facets: Vec<String> = wanted
        .iter()
        .filter(|d| dimensions.contains(d))
        .map(|d| format!("'{}'", d.as_str()))
        .collect();
    let codes = (!facets.is_empty()).then(|| CODE_BUCKETS.replace("{facets}", &facets.join(", ")));
    match (half, codes) {
        (Half::Attributes, Some(codes)) => Some(format!(
            "{ATTRIBUTE_BUCKETS}\nUNION ALL {}",
            codes.trim_start()
        )),
        (Half::Attributes, None) => Some(ATTRIBUTE_BUCKETS.to_owned()),
        (Half::Communities, codes) => codes,
    }
}

/// Active members per expertise area and region.
const COVERAGE: &str = "
SELECT e.expertise_code AS dimension, r.region AS code, COUNT(*) AS members
FROM population a
CROSS JOIN organisation_expertise e
CROSS JOIN organisation_regions r
WHERE e.organisation_id = a.id AND r.organisation_id = a.id
GROUP BY e.expertise_code, r.region";

#[derive(Debug, QueryableByName)]
struct Bucket {
    #[diesel(sql_type = Text)]
    dimension: String,
    #[diesel(sql_type = Nullable<Text>)]
    code: Option<String>,
    #[diesel(sql_type = BigInt)]
    members: i64,
}

/// Whose composition a report counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Population {
    /// The active members (`current` or `grace`) on the day.
    ActiveMembers,
    /// The organisations that responded to a consultation; anonymous responses only when
    /// the caller may know of them.
    Respondents {
        consultation_id: String,
        with_anonymous: bool,
    },
    /// The organisations in an expert group on the day.
    GroupMembers { group_id: String },
}

fn buckets(
    conn: &mut DbConn,
    statement: &str,
    population: &Population,
    on: NaiveDate,
    grace: GraceWindow,
) -> Result<Vec<Bucket>, DomainError> {
    let sql = |cte: &str| with_population(cte, statement);
    Ok(match population {
        Population::ActiveMembers => diesel::sql_query(sql(ACTIVE_MEMBERS))
            .bind::<Date, _>(on)
            .bind::<Date, _>(grace.earliest_end_in_grace(on))
            .load(conn)?,
        Population::Respondents {
            consultation_id,
            with_anonymous,
        } => diesel::sql_query(sql(RESPONDENTS))
            .bind::<Text, _>(consultation_id)
            .bind::<Text, _>(if *with_anonymous {
                "anonymous"
            } else {
                "named"
            })
            .load(conn)?,
        Population::GroupMembers { group_id } => diesel::sql_query(sql(GROUP_MEMBERS))
            .bind::<Text, _>(group_id)
            .bind::<Date, _>(on)
            .load(conn)?,
    })
}

/// A report's statements over the active members on `on`, with their parameters written in
/// as date literals: what `scripts/report-timings` runs straight in `psql` and `sqlite3`, so
/// the database's own time can be set beside the API's.
pub fn active_members_statements(
    report: Statement,
    on: NaiveDate,
    grace: GraceWindow,
    dimensions: &[Dimension],
) -> Vec<String> {
    let statements: Vec<String> = match report {
        Statement::Composition => [Half::Attributes, Half::Communities]
            .into_iter()
            .filter_map(|half| half_statement(half, dimensions))
            .collect(),
        Statement::ExpertiseCoverage => vec![COVERAGE.to_owned()],
    };
    statements
        .iter()
        .map(|statement| {
            with_population(ACTIVE_MEMBERS, statement)
                .replace("$1", &format!("'{on}'"))
                .replace("$2", &format!("'{}'", grace.earliest_end_in_grace(on)))
        })
        .collect()
}

/// The aggregations a report runs (gaps and participation run the composition's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statement {
    Composition,
    ExpertiseCoverage,
}

/// The two halves of a composition's counting, which can run at once on two connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Half {
    /// Kind, size band, lived experience, reply statuses, regions and expertise.
    Attributes,
    /// The community hierarchy.
    Communities,
}

/// A composition's counts by (dimension, code), before they are laid out as rows.
#[derive(Debug, Default)]
pub struct Counts(HashMap<(String, Option<String>), i64>);

impl Counts {
    /// The counts of `half` of the composition of `population` on `on`.
    /// The counts of `half` of the composition of `population` on `on`, for `dimensions`
    /// (a half with nothing to count for them runs no query).
    pub fn count(
        conn: &mut DbConn,
        half: Half,
        population: &Population,
        on: NaiveDate,
        grace: GraceWindow,
        dimensions: &[Dimension],
    ) -> Result<Self, DomainError> {
        let Some(statement) = half_statement(half, dimensions) else {
            return Ok(Self::default());
        };
        Ok(Self(
            buckets(conn, &statement, population, on, grace)?
                .into_iter()
                .map(|b| ((b.dimension, b.code), b.members))
                .collect(),
        ))
    }

    /// Both halves' counts together.
    pub fn merge(mut self, other: Self) -> Self {
        self.0.extend(other.0);
        self
    }

    fn get(&self, dimension: &str, code: Option<&str>) -> i64 {
        self.0
            .get(&(dimension.to_owned(), code.map(str::to_owned)))
            .copied()
            .unwrap_or_default()
    }
}

/// `national_charity` → `National charity`.
fn humanise(code: &str) -> String {
    let text = code.replace('_', " ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

fn size_band_label(band: SizeBand) -> String {
    match band {
        SizeBand::Micro => "Micro (under £10k)",
        SizeBand::Small => "Small (£10k to £100k)",
        SizeBand::Medium => "Medium (£100k to £1m)",
        SizeBand::Large => "Large (£1m to £10m)",
        SizeBand::Major => "Major (£10m to £100m)",
        SizeBand::SuperMajor => "Super-major (over £100m)",
    }
    .to_owned()
}

/// The composition of the active membership on `on` in each of `dimensions`.
pub fn composition(
    conn: &mut DbConn,
    on: NaiveDate,
    grace: GraceWindow,
    dimensions: &[Dimension],
) -> Result<Composition, DomainError> {
    composition_of(conn, &Population::ActiveMembers, on, grace, dimensions)
}

/// The composition of `population` on `on` in each of `dimensions`, counted on one
/// connection.
pub fn composition_of(
    conn: &mut DbConn,
    population: &Population,
    on: NaiveDate,
    grace: GraceWindow,
    dimensions: &[Dimension],
) -> Result<Composition, DomainError> {
    let counts = Counts::count(conn, Half::Attributes, population, on, grace, dimensions)?.merge(
        Counts::count(conn, Half::Communities, population, on, grace, dimensions)?,
    );
    compose(conn, &counts, on, dimensions)
}

/// `counts` laid out as the rows of each of `dimensions`, labelled from the taxonomies.
pub fn compose(
    conn: &mut DbConn,
    counts: &Counts,
    on: NaiveDate,
    dimensions: &[Dimension],
) -> Result<Composition, DomainError> {
    let count = |dimension: &str, code: Option<&str>| counts.get(dimension, code);
    let active = count("all", None);
    let row =
        |code: &str, label: String, parent: Option<String>, members, answered| CompositionRow {
            code: code.to_owned(),
            label,
            parent_code: parent,
            members: Cell::Shown(members),
            answered,
        };
    // Community and expertise labels come from the taxonomies (retired codes included, as
    // old records keep them).
    let community_codes = taxonomies::communities(conn, true)?;
    let expertise_areas = taxonomies::expertise_areas(conn, true)?;

    let mut out = Vec::new();
    for &dimension in dimensions {
        let composition = match dimension {
            Dimension::Leadership | Dimension::Mission => {
                let area = dimension.as_str();
                let reply = format!("{area}_reply");
                let answered = count(&reply, Some("answered"));
                let coded = count(area, Some(REPORT_CODE_ANY));
                let mut rows: Vec<CompositionRow> = community_codes
                    .iter()
                    .filter(|c| c.retired_at.is_none() || count(area, Some(&c.code)) > 0)
                    .map(|c| {
                        row(
                            &c.code,
                            c.title.clone(),
                            c.parent_code.clone(),
                            count(area, Some(&c.code)),
                            true,
                        )
                    })
                    .collect();
                rows.push(row(
                    ANSWERED_NONE,
                    "Answered: none of these".to_owned(),
                    None,
                    (answered - coded).max(0),
                    true,
                ));
                rows.push(row(
                    NOT_ASKED,
                    "Not asked".to_owned(),
                    None,
                    count(&reply, Some(NOT_ASKED)),
                    false,
                ));
                rows.push(row(
                    PREFER_NOT_TO_SAY,
                    "Prefer not to say".to_owned(),
                    None,
                    count(&reply, Some(PREFER_NOT_TO_SAY)),
                    false,
                ));
                DimensionComposition {
                    dimension,
                    members: Cell::Shown(active),
                    answered: Cell::Shown(answered),
                    rows,
                }
            }
            Dimension::Kind => DimensionComposition {
                dimension,
                members: Cell::Shown(active),
                answered: Cell::Shown(active),
                rows: OrganisationKind::ALL
                    .iter()
                    .map(|kind| {
                        row(
                            kind.as_str(),
                            humanise(kind.as_str()),
                            None,
                            count("kind", Some(kind.as_str())),
                            true,
                        )
                    })
                    .collect(),
            },
            Dimension::SizeBand => {
                let unknown = count("size_band", None);
                let mut rows: Vec<CompositionRow> = SizeBand::ALL
                    .iter()
                    .map(|band| {
                        row(
                            band.as_str(),
                            size_band_label(*band),
                            None,
                            count("size_band", Some(band.as_str())),
                            true,
                        )
                    })
                    .collect();
                rows.push(row(UNKNOWN, "Not known".to_owned(), None, unknown, false));
                DimensionComposition {
                    dimension,
                    members: Cell::Shown(active),
                    answered: Cell::Shown(active - unknown),
                    rows,
                }
            }
            Dimension::Region => {
                let known = count("region", Some(REPORT_CODE_ANY));
                let mut rows: Vec<CompositionRow> = Region::ALL
                    .iter()
                    .map(|region| {
                        row(
                            region.as_str(),
                            humanise(region.as_str()),
                            None,
                            count("region", Some(region.as_str())),
                            true,
                        )
                    })
                    .collect();
                rows.push(row(
                    UNKNOWN,
                    "No region recorded".to_owned(),
                    None,
                    active - known,
                    false,
                ));
                DimensionComposition {
                    dimension,
                    members: Cell::Shown(active),
                    answered: Cell::Shown(known),
                    rows,
                }
            }
            Dimension::Expertise => {
                let known = count("expertise", Some(REPORT_CODE_ANY));
                let mut rows: Vec<CompositionRow> = expertise_areas
                    .iter()
                    .filter(|e| e.retired_at.is_none() || count("expertise", Some(&e.code)) > 0)
                    .map(|e| {
                        row(
                            &e.code,
                            e.title.clone(),
                            None,
                            count("expertise", Some(&e.code)),
                            true,
                        )
                    })
                    .collect();
                rows.push(row(
                    NONE,
                    "No expertise recorded".to_owned(),
                    None,
                    active - known,
                    false,
                ));
                DimensionComposition {
                    dimension,
                    members: Cell::Shown(active),
                    answered: Cell::Shown(known),
                    rows,
                }
            }
            Dimension::LivedExperienceLed => {
                let unknown = count("lived_experience_led", None);
                DimensionComposition {
                    dimension,
                    members: Cell::Shown(active),
                    answered: Cell::Shown(active - unknown),
                    rows: vec![
                        row(
                            "true",
                            "Led by people with lived experience".to_owned(),
                            None,
                            count("lived_experience_led", Some("true")),
                            true,
                        ),
                        row(
                            "false",
                            "Not led by people with lived experience".to_owned(),
                            None,
                            count("lived_experience_led", Some("false")),
                            true,
                        ),
                        row(UNKNOWN, "Not known".to_owned(), None, unknown, false),
                    ],
                }
            }
        };
        out.push(composition);
    }
    Ok(Composition {
        as_of: on,
        active_members: Cell::Shown(active),
        dimensions: out,
    })
}

/// One expertise area's active members per region (in `Region::ALL` order).
#[derive(Debug, Clone, PartialEq)]
pub struct CoverageRow {
    pub expertise: String,
    pub label: String,
    pub cells: Vec<(Region, i64)>,
}

/// Expertise area × region counts of active members on `on`; every active expertise area
/// has a row (zeros included), so thin cells show.
pub fn expertise_coverage(
    conn: &mut DbConn,
    on: NaiveDate,
    grace: GraceWindow,
) -> Result<Vec<CoverageRow>, DomainError> {
    let mut counts: HashMap<(String, String), i64> = HashMap::new();
    for bucket in buckets(conn, COVERAGE, &Population::ActiveMembers, on, grace)? {
        if let Some(region) = bucket.code {
            counts.insert((bucket.dimension, region), bucket.members);
        }
    }
    Ok(taxonomies::expertise_areas(conn, false)?
        .into_iter()
        .map(|area| CoverageRow {
            cells: Region::ALL
                .iter()
                .map(|region| {
                    let key = (area.code.clone(), region.as_str().to_owned());
                    (*region, counts.get(&key).copied().unwrap_or_default())
                })
                .collect(),
            expertise: area.code,
            label: area.title,
        })
        .collect())
}
