//! Benchmark sets: the share of each community in a population, to hold the membership
//! against. The defaults (`defaults/benchmarks.json`, copied from the alliance's reference
//! data) are seeded once; staff manage the sets from then on.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Deserialize;

use crate::db::DbConn;
use crate::db::schema::{benchmark_sets, benchmark_shares};
use crate::domain::organisations::name_key;
use crate::domain::{
    Direction, DomainError, FieldError, Page, VersionCheck, changed, new_id, now, past_cursor,
    taxonomies, update_locked,
};
use crate::with_backend;

const ENTITY: &str = "benchmark set";

/// What people edit about a benchmark set.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BenchmarkProfile {
    pub code: String,
    pub name: String,
    pub population: String,
    pub source: String,
    pub year: i32,
    #[serde(default)]
    pub verified: bool,
    /// Percentage (0-100) of the population per community code.
    pub shares: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BenchmarkSet {
    pub id: String,
    pub profile: BenchmarkProfile,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Deserialize)]
struct Defaults {
    sets: Vec<BenchmarkProfile>,
}

/// The ids the default sets are seeded with: fixed, so a set staff deleted (its tombstone
/// keeps the id) is never seeded again.
const DEFAULT_IDS: &[(&str, &str)] = &[
    (
        "population_10_17_ew_2021",
        "01935c6e-7a40-7cc1-9a5e-3f1d2b8e4b01",
    ),
    (
        "youth_custody_2025_01",
        "01935c6e-7a40-7cc1-9a5e-3f1d2b8e4b02",
    ),
    (
        "youth_custody_other_2016",
        "01935c6e-7a40-7cc1-9a5e-3f1d2b8e4b03",
    ),
];

static DEFAULTS: LazyLock<Vec<BenchmarkProfile>> = LazyLock::new(|| {
    serde_json::from_str::<Defaults>(include_str!("defaults/benchmarks.json"))
        .map(|defaults| defaults.sets)
        .expect("the embedded benchmark defaults are valid (checked by a unit test)")
});

/// Adds the default sets that were never seeded (after the community codes they use).
pub fn seed_defaults(conn: &mut DbConn) -> QueryResult<()> {
    conn.transaction(|conn| {
        let at = now();
        for profile in DEFAULTS.iter() {
            let Some((_, id)) = DEFAULT_IDS.iter().find(|(code, _)| *code == profile.code) else {
                continue;
            };
            // Row by row with ON CONFLICT: a handful of rows, once per start.
            let inserted = with_backend!(conn, |c| diesel::insert_into(benchmark_sets::table)
                .values(row(id, profile, at))
                .on_conflict_do_nothing()
                .execute(c))?;
            if inserted == 1 {
                write_shares(conn, id, &profile.shares)?;
            }
        }
        Ok(())
    })
}

/// The columns a set's profile writes (its shares are rows of their own), on insert and
/// update alike.
type Columns<'a> = (
    diesel::dsl::Eq<benchmark_sets::code, &'a str>,
    diesel::dsl::Eq<benchmark_sets::name, &'a str>,
    diesel::dsl::Eq<benchmark_sets::name_key, String>,
    diesel::dsl::Eq<benchmark_sets::population, &'a str>,
    diesel::dsl::Eq<benchmark_sets::source, &'a str>,
    diesel::dsl::Eq<benchmark_sets::year, i32>,
    diesel::dsl::Eq<benchmark_sets::verified, bool>,
);

fn columns(p: &BenchmarkProfile) -> Columns<'_> {
    (
        benchmark_sets::code.eq(p.code.as_str()),
        benchmark_sets::name.eq(p.name.as_str()),
        benchmark_sets::name_key.eq(name_key(&p.name)),
        benchmark_sets::population.eq(p.population.as_str()),
        benchmark_sets::source.eq(p.source.as_str()),
        benchmark_sets::year.eq(p.year),
        benchmark_sets::verified.eq(p.verified),
    )
}

type Row<'a> = (
    diesel::dsl::Eq<benchmark_sets::id, &'a str>,
    Columns<'a>,
    diesel::dsl::Eq<benchmark_sets::version, i64>,
    diesel::dsl::Eq<benchmark_sets::created_at, NaiveDateTime>,
    diesel::dsl::Eq<benchmark_sets::updated_at, NaiveDateTime>,
);

fn row<'a>(id: &'a str, p: &'a BenchmarkProfile, at: NaiveDateTime) -> Row<'a> {
    (
        benchmark_sets::id.eq(id),
        columns(p),
        benchmark_sets::version.eq(1),
        benchmark_sets::created_at.eq(at),
        benchmark_sets::updated_at.eq(at),
    )
}

fn write_shares(conn: &mut DbConn, id: &str, shares: &BTreeMap<String, f64>) -> QueryResult<()> {
    diesel::delete(benchmark_shares::table.filter(benchmark_shares::set_id.eq(id)))
        .execute(conn)?;
    if shares.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = shares
        .iter()
        .map(|(code, share)| {
            (
                benchmark_shares::set_id.eq(id),
                benchmark_shares::community_code.eq(code),
                benchmark_shares::share.eq(share),
            )
        })
        .collect();
    // Multi-row inserts do not compile through the connection enum.
    with_backend!(conn, |c| diesel::insert_into(benchmark_shares::table)
        .values(&rows)
        .execute(c))?;
    Ok(())
}

/// Codes must be community codes (retired ones too: a benchmark describes a population, not
/// a new assignment); the code must not belong to another live set.
fn check(
    conn: &mut DbConn,
    profile: &BenchmarkProfile,
    own: Option<&str>,
) -> Result<(), DomainError> {
    let codes: Vec<String> = profile.shares.keys().cloned().collect();
    let unknown = taxonomies::unknown_community_codes(conn, &codes)?;
    if !unknown.is_empty() {
        return Err(DomainError::Invalid(
            unknown
                .into_iter()
                .map(|code| {
                    FieldError::new(
                        format!("shares.{code}"),
                        "unknown_code",
                        format!("{code} is not a community code"),
                    )
                })
                .collect(),
        ));
    }
    let holder = benchmark_sets::table
        .filter(benchmark_sets::code.eq(&profile.code))
        .filter(benchmark_sets::deleted_at.is_null())
        .filter(benchmark_sets::id.ne(own.unwrap_or_default()))
        .select(benchmark_sets::id)
        .first::<String>(conn)
        .optional()?;
    if let Some(holder) = holder {
        return Err(DomainError::Conflict {
            message: format!(
                "benchmark set {holder} already has the code {}",
                profile.code
            ),
            errors: vec![FieldError::new("code", "duplicate", "is already in use")],
        });
    }
    Ok(())
}

type SetRow = (
    String,
    String,
    String,
    String,
    String,
    i32,
    bool,
    i64,
    NaiveDateTime,
    NaiveDateTime,
);

fn assemble(conn: &mut DbConn, rows: Vec<SetRow>) -> Result<Vec<BenchmarkSet>, DomainError> {
    let ids: Vec<&String> = rows.iter().map(|r| &r.0).collect();
    let mut shares: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    if !ids.is_empty() {
        let found: Vec<(String, String, f64)> = benchmark_shares::table
            .filter(benchmark_shares::set_id.eq_any(ids))
            .select((
                benchmark_shares::set_id,
                benchmark_shares::community_code,
                benchmark_shares::share,
            ))
            .load(conn)?;
        for (id, code, share) in found {
            shares.entry(id).or_default().insert(code, share);
        }
    }
    Ok(rows
        .into_iter()
        .map(
            |(
                id,
                code,
                name,
                population,
                source,
                year,
                verified,
                version,
                created_at,
                updated_at,
            )| {
                BenchmarkSet {
                    profile: BenchmarkProfile {
                        code,
                        name,
                        population,
                        source,
                        year,
                        verified,
                        shares: shares.remove(&id).unwrap_or_default(),
                    },
                    id,
                    version,
                    created_at,
                    updated_at,
                }
            },
        )
        .collect())
}

macro_rules! set_columns {
    () => {
        (
            benchmark_sets::id,
            benchmark_sets::code,
            benchmark_sets::name,
            benchmark_sets::population,
            benchmark_sets::source,
            benchmark_sets::year,
            benchmark_sets::verified,
            benchmark_sets::version,
            benchmark_sets::created_at,
            benchmark_sets::updated_at,
        )
    };
}

/// A live benchmark set.
pub fn find(conn: &mut DbConn, id: &str) -> Result<BenchmarkSet, DomainError> {
    let row: SetRow = benchmark_sets::table
        .find(id)
        .filter(benchmark_sets::deleted_at.is_null())
        .select(set_columns!())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound(ENTITY))?;
    assemble(conn, vec![row])?
        .pop()
        .ok_or(DomainError::NotFound(ENTITY))
}

/// The live sets in name order, after (`name key`, id) when given.
pub fn list(
    conn: &mut DbConn,
    after: Option<&(String, String)>,
    limit: usize,
) -> Result<Page<BenchmarkSet>, DomainError> {
    let mut query = benchmark_sets::table
        .filter(benchmark_sets::deleted_at.is_null())
        .into_boxed();
    if let Some((key, id)) = after {
        let (name_key, set_id) = (benchmark_sets::name_key, benchmark_sets::id);
        query = query.filter(past_cursor(
            name_key,
            key.clone(),
            set_id,
            id,
            Direction::Ascending,
        ));
    }
    let query = query
        .order((benchmark_sets::name_key.asc(), benchmark_sets::id.asc()))
        .select((benchmark_sets::name_key, set_columns!()));
    let position = |(key, row): &(String, SetRow)| (key.clone(), row.0.clone());
    let (rows, next) = crate::domain::load_page(conn, query, limit, position, |(_, row)| Ok(row))?;
    Ok((assemble(conn, rows)?, next))
}

pub fn create(conn: &mut DbConn, profile: &BenchmarkProfile) -> Result<BenchmarkSet, DomainError> {
    conn.transaction(|conn| {
        check(conn, profile, None)?;
        let id = new_id();
        diesel::insert_into(benchmark_sets::table)
            .values(row(&id, profile, now()))
            .execute(conn)?;
        write_shares(conn, &id, &profile.shares)?;
        find(conn, &id)
    })
}

/// Replaces the set with what `change` makes of it, if `check` allows the stored version.
pub fn update<F>(
    conn: &mut DbConn,
    id: &str,
    version_check: &VersionCheck,
    change: F,
) -> Result<BenchmarkSet, DomainError>
where
    F: Fn(&BenchmarkProfile) -> Result<BenchmarkProfile, DomainError>,
{
    let write = |conn: &mut DbConn, current: &BenchmarkSet, profile: BenchmarkProfile| {
        check(conn, &profile, Some(id))?;
        diesel::update(benchmark_sets::table.find(id))
            .set((
                columns(&profile),
                benchmark_sets::version.eq(current.version + 1),
                benchmark_sets::updated_at.eq(now()),
            ))
            .execute(conn)?;
        write_shares(conn, id, &profile.shares)?;
        Ok(())
    };
    let lock = |conn: &mut DbConn| crate::domain::lock_row!(conn, benchmark_sets, id);
    let change = |current: &BenchmarkSet| changed(&current.profile, change);
    let find = |conn: &mut DbConn| find(conn, id);
    let version = |current: &BenchmarkSet| current.version;
    update_locked(conn, version_check, lock, find, version, change, write)
}

/// Marks a set deleted; its id stays taken, so a default set is not seeded again.
pub fn soft_delete(conn: &mut DbConn, id: &str, check: &VersionCheck) -> Result<(), DomainError> {
    crate::domain::soft_delete_row!(conn, benchmark_sets, id, check, find)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_embedded_defaults_read_and_each_has_a_fixed_id() {
        assert_eq!(super::DEFAULTS.len(), 3);
        for set in super::DEFAULTS.iter() {
            assert!(super::DEFAULT_IDS.iter().any(|(code, _)| *code == set.code));
            assert!(
                set.shares
                    .values()
                    .all(|share| (0.0..=100.0).contains(share))
            );
        }
    }
}
