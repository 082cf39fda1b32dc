//! The controlled vocabularies organisations are coded against: DEI Data Standard community
//! codes (with the alliance's extension codes) and expertise areas.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::LazyLock;

use diesel::prelude::*;
use serde::Deserialize;

use chrono::NaiveDateTime;

use crate::db::DbConn;
use crate::db::schema::{communities, expertise_areas};
use crate::domain::{DomainError, FieldError, now};
use crate::with_backend;

/// The defaults shipped in the binary, so the service never reads files beside itself.
const DEFAULT_COMMUNITIES_CSV: &str = include_str!("defaults/communities.csv");
const DEFAULT_EXPERTISE_AREAS_CSV: &str = include_str!("defaults/expertise-areas.csv");

#[derive(Debug, Clone, Deserialize, Insertable)]
#[diesel(table_name = communities)]
pub struct NewCommunity {
    pub code: String,
    #[serde(rename = "parent", deserialize_with = "empty_as_none")]
    pub parent_code: Option<String>,
    pub title: String,
    #[serde(deserialize_with = "empty_as_none")]
    pub description: Option<String>,
    #[serde(deserialize_with = "empty_as_none")]
    pub source: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Insertable)]
#[diesel(table_name = expertise_areas)]
pub struct NewExpertiseArea {
    pub code: String,
    pub title: String,
}

fn empty_as_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = String::deserialize(d)?;
    Ok(Some(value).filter(|v| !v.trim().is_empty()))
}

fn parse_csv<T: serde::de::DeserializeOwned>(text: &str) -> Vec<T> {
    csv::Reader::from_reader(text.as_bytes())
        .deserialize()
        .collect::<Result<_, _>>()
        .expect("the embedded taxonomy defaults are valid CSV (checked by a unit test)")
}

pub static DEFAULT_COMMUNITIES: LazyLock<Vec<NewCommunity>> =
    LazyLock::new(|| parse_csv(DEFAULT_COMMUNITIES_CSV));
pub static DEFAULT_EXPERTISE_AREAS: LazyLock<Vec<NewExpertiseArea>> =
    LazyLock::new(|| parse_csv(DEFAULT_EXPERTISE_AREAS_CSV));

/// Adds any default code the database lacks; codes already there (perhaps renamed or retired
/// by an admin) are left as they are. Parents come before children in the files.
pub fn seed_defaults(conn: &mut DbConn) -> QueryResult<()> {
    conn.transaction(|conn| {
        // Row by row: SQLite cannot batch an upsert. It is ~100 rows, once per start.
        with_backend!(conn, |c| {
            for community in DEFAULT_COMMUNITIES.iter() {
                diesel::insert_into(communities::table)
                    .values(community)
                    .on_conflict_do_nothing()
                    .execute(c)?;
            }
            for area in DEFAULT_EXPERTISE_AREAS.iter() {
                diesel::insert_into(expertise_areas::table)
                    .values(area)
                    .on_conflict_do_nothing()
                    .execute(c)?;
            }
            QueryResult::Ok(())
        })
    })
}

/// Of `codes`, those not in the vocabulary (`active_only`: or retired there), in order.
fn outside(
    conn: &mut DbConn,
    vocabulary: Vocabulary,
    codes: &[String],
    active_only: bool,
) -> QueryResult<Vec<String>> {
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    let found: Vec<String> = match vocabulary {
        Vocabulary::Communities => {
            let mut query = communities::table
                .filter(communities::code.eq_any(codes))
                .select(communities::code)
                .into_boxed();
            if active_only {
                query = query.filter(communities::retired_at.is_null());
            }
            query.load(conn)?
        }
        Vocabulary::ExpertiseAreas => {
            let mut query = expertise_areas::table
                .filter(expertise_areas::code.eq_any(codes))
                .select(expertise_areas::code)
                .into_boxed();
            if active_only {
                query = query.filter(expertise_areas::retired_at.is_null());
            }
            query.load(conn)?
        }
    };
    let found: BTreeSet<String> = found.into_iter().collect();
    Ok(codes
        .iter()
        .filter(|c| !found.contains(*c))
        .cloned()
        .collect())
}

/// The two code lists records are coded with.
#[derive(Debug, Clone, Copy)]
pub enum Vocabulary {
    Communities,
    ExpertiseAreas,
}

/// Of `codes`, those that are not active in `vocabulary` (unknown or retired), in order.
pub fn unusable_codes(
    conn: &mut DbConn,
    vocabulary: Vocabulary,
    codes: &[String],
) -> QueryResult<Vec<String>> {
    outside(conn, vocabulary, codes, true)
}

/// The active codes of both vocabularies, read once: an import checks every row's codes
/// against them instead of asking the database row by row.
pub struct ActiveCodes {
    communities: HashSet<String>,
    expertise_areas: HashSet<String>,
}

impl ActiveCodes {
    pub fn load(conn: &mut DbConn) -> QueryResult<Self> {
        Ok(Self {
            communities: communities::table
                .filter(communities::retired_at.is_null())
                .select(communities::code)
                .load::<String>(conn)?
                .into_iter()
                .collect(),
            expertise_areas: expertise_areas::table
                .filter(expertise_areas::retired_at.is_null())
                .select(expertise_areas::code)
                .load::<String>(conn)?
                .into_iter()
                .collect(),
        })
    }

    /// As `unusable_codes`, from the codes read.
    pub fn unusable(&self, vocabulary: Vocabulary, codes: &[String]) -> Vec<String> {
        let active = match vocabulary {
            Vocabulary::Communities => &self.communities,
            Vocabulary::ExpertiseAreas => &self.expertise_areas,
        };
        codes
            .iter()
            .filter(|code| !active.contains(*code))
            .cloned()
            .collect()
    }
}

/// One field error per code in `codes` that is not an active expertise area, except those in
/// `kept` (codes a record already has stay, even once retired). Fields are `expertise[i]`.
pub fn expertise_errors(
    conn: &mut DbConn,
    codes: &[String],
    kept: &[String],
) -> QueryResult<Vec<crate::domain::FieldError>> {
    let new_codes: Vec<String> = codes
        .iter()
        .filter(|code| !kept.contains(code))
        .cloned()
        .collect();
    Ok(
        unusable_codes(conn, Vocabulary::ExpertiseAreas, &new_codes)?
            .into_iter()
            .map(|code| {
                let index = codes.iter().position(|c| *c == code).unwrap_or_default();
                crate::domain::FieldError::new(
                    format!("expertise[{index}]"),
                    "unknown_code",
                    format!("{code} is not an active code"),
                )
            })
            .collect(),
    )
}

/// A list filter on expertise codes must name codes that exist (retired ones too): a typo
/// must not quietly give an empty list. A 400 naming each unknown code otherwise.
pub fn check_expertise_filter(
    conn: &mut DbConn,
    codes: &[String],
) -> Result<(), crate::domain::DomainError> {
    let unknown = unknown_expertise_codes(conn, codes)?;
    if unknown.is_empty() {
        return Ok(());
    }
    Err(crate::domain::DomainError::BadFilter(
        unknown
            .into_iter()
            .map(|code| {
                crate::domain::FieldError::new(
                    "expertise",
                    "unknown_code",
                    format!("{code:?} is not an expertise area"),
                )
            })
            .collect(),
    ))
}

/// Of `codes`, those that are no community code at all (retired codes exist: old records
/// keep them, so lists may still filter by them).
pub fn unknown_community_codes(conn: &mut DbConn, codes: &[String]) -> QueryResult<Vec<String>> {
    outside(conn, Vocabulary::Communities, codes, false)
}

/// Of `codes`, those that are no expertise area at all (retired ones exist).
pub fn unknown_expertise_codes(conn: &mut DbConn, codes: &[String]) -> QueryResult<Vec<String>> {
    outside(conn, Vocabulary::ExpertiseAreas, codes, false)
}

/// Every community code's parent, to walk an organisation's codes up the hierarchy. Codes
/// never change parent once created, so what this finds stays true.
pub struct CommunityParents(HashMap<String, Option<String>>);

impl CommunityParents {
    pub fn load(conn: &mut DbConn) -> QueryResult<Self> {
        let edges: Vec<(String, Option<String>)> = communities::table
            .select((communities::code, communities::parent_code))
            .load(conn)?;
        Ok(Self(edges.into_iter().collect()))
    }

    /// `codes` and each of their ancestors, once each: every level an organisation coded
    /// `codes` counts under.
    pub fn levels<'a>(&'a self, codes: &'a [String]) -> BTreeSet<&'a str> {
        let mut found = BTreeSet::new();
        for code in codes {
            let mut at = Some(code.as_str());
            // Stops at the top, or at a level already walked from another code.
            while let Some(code) = at {
                if !found.insert(code) {
                    break;
                }
                at = self.0.get(code).and_then(|parent| parent.as_deref());
            }
        }
        found
    }
}

/// Each code with all its descendants, so a filter on a parent code (`DEI010000`) finds
/// organisations coded with a child (`DEI010110`). Retired codes are included: old records
/// keep them.
pub fn community_codes_with_descendants(
    conn: &mut DbConn,
    codes: &[String],
) -> QueryResult<Vec<String>> {
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    let edges: Vec<(String, Option<String>)> = communities::table
        .select((communities::code, communities::parent_code))
        .load(conn)?;
    let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
    for (code, parent) in &edges {
        if let Some(parent) = parent {
            children
                .entry(parent.as_str())
                .or_default()
                .push(code.as_str());
        }
    }
    let mut found: BTreeSet<String> = BTreeSet::new();
    let mut pending: Vec<&str> = codes.iter().map(String::as_str).collect();
    while let Some(code) = pending.pop() {
        if found.insert(code.to_owned()) {
            pending.extend(children.get(code).into_iter().flatten().copied());
        }
    }
    Ok(found.into_iter().collect())
}

/// A community code as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = communities)]
pub struct Community {
    pub code: String,
    pub parent_code: Option<String>,
    pub title: String,
    pub description: Option<String>,
    pub source: Option<String>,
    pub retired_at: Option<NaiveDateTime>,
}

/// An expertise area as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = expertise_areas)]
pub struct ExpertiseArea {
    pub code: String,
    pub title: String,
    pub retired_at: Option<NaiveDateTime>,
}

/// A change an admin makes to a code: rename, re-describe, retire or bring back.
#[derive(Debug, Clone, Default)]
pub struct CodeChange {
    pub title: Option<String>,
    /// `Some(None)` clears the description (communities only).
    pub description: Option<Option<String>>,
    pub retired: Option<bool>,
}

pub fn communities(
    conn: &mut DbConn,
    include_retired: bool,
) -> Result<Vec<Community>, DomainError> {
    let mut query = communities::table.into_boxed();
    if !include_retired {
        query = query.filter(communities::retired_at.is_null());
    }
    Ok(query
        .order(communities::code)
        .select(Community::as_select())
        .load(conn)?)
}

pub fn expertise_areas(
    conn: &mut DbConn,
    include_retired: bool,
) -> Result<Vec<ExpertiseArea>, DomainError> {
    let mut query = expertise_areas::table.into_boxed();
    if !include_retired {
        query = query.filter(expertise_areas::retired_at.is_null());
    }
    Ok(query
        .order(expertise_areas::code)
        .select(ExpertiseArea::as_select())
        .load(conn)?)
}

fn duplicate(code: &str) -> DomainError {
    DomainError::Conflict {
        message: format!("the code {code} already exists"),
        errors: vec![FieldError::new("code", "duplicate", "already exists")],
    }
}

fn taken(error: diesel::result::Error, code: &str) -> DomainError {
    match error {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => duplicate(code),
        other => other.into(),
    }
}

/// Adds a community code under an active parent (or at the top).
pub fn add_community(conn: &mut DbConn, new: &NewCommunity) -> Result<Community, DomainError> {
    conn.transaction(|conn| {
        if let Some(parent) = &new.parent_code
            && !unusable_codes(conn, Vocabulary::Communities, std::slice::from_ref(parent))?
                .is_empty()
        {
            return Err(DomainError::Invalid(vec![FieldError::new(
                "parent_code",
                "unknown_code",
                format!("{parent} is not an active community code"),
            )]));
        }
        diesel::insert_into(communities::table)
            .values(new)
            .execute(conn)
            .map_err(|error| taken(error, &new.code))?;
        community(conn, &new.code)
    })
}

pub fn add_expertise_area(
    conn: &mut DbConn,
    new: &NewExpertiseArea,
) -> Result<ExpertiseArea, DomainError> {
    diesel::insert_into(expertise_areas::table)
        .values(new)
        .execute(conn)
        .map_err(|error| taken(error, &new.code))?;
    expertise_area(conn, &new.code)
}

pub fn community(conn: &mut DbConn, code: &str) -> Result<Community, DomainError> {
    communities::table
        .find(code)
        .select(Community::as_select())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound("community code"))
}

pub fn expertise_area(conn: &mut DbConn, code: &str) -> Result<ExpertiseArea, DomainError> {
    expertise_areas::table
        .find(code)
        .select(ExpertiseArea::as_select())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound("expertise area"))
}

/// When a code is retired after a change: kept if it stays retired, now if newly retired.
fn retired_at(current: Option<NaiveDateTime>, retired: Option<bool>) -> Option<NaiveDateTime> {
    match retired {
        None => current,
        Some(false) => None,
        Some(true) => current.or_else(|| Some(now())),
    }
}

pub fn change_community(
    conn: &mut DbConn,
    code: &str,
    change: &CodeChange,
) -> Result<Community, DomainError> {
    conn.transaction(|conn| {
        crate::domain::lock_row!(conn, communities, code, title)?;
        let current = community(conn, code)?;
        diesel::update(communities::table.find(code))
            .set((
                communities::title.eq(change.title.clone().unwrap_or(current.title)),
                communities::description
                    .eq(change.description.clone().unwrap_or(current.description)),
                communities::retired_at.eq(retired_at(current.retired_at, change.retired)),
            ))
            .execute(conn)?;
        community(conn, code)
    })
}

pub fn change_expertise_area(
    conn: &mut DbConn,
    code: &str,
    change: &CodeChange,
) -> Result<ExpertiseArea, DomainError> {
    conn.transaction(|conn| {
        crate::domain::lock_row!(conn, expertise_areas, code, title)?;
        let current = expertise_area(conn, code)?;
        diesel::update(expertise_areas::table.find(code))
            .set((
                expertise_areas::title.eq(change.title.clone().unwrap_or(current.title)),
                expertise_areas::retired_at.eq(retired_at(current.retired_at, change.retired)),
            ))
            .execute(conn)?;
        expertise_area(conn, code)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_parse_and_parents_come_first() {
        assert!(DEFAULT_COMMUNITIES.len() >= 70);
        assert!(DEFAULT_EXPERTISE_AREAS.len() >= 20);
        let mut seen = BTreeSet::new();
        for community in DEFAULT_COMMUNITIES.iter() {
            if let Some(parent) = &community.parent_code {
                assert!(
                    seen.contains(parent),
                    "{} before its parent",
                    community.code
                );
            }
            seen.insert(community.code.clone());
        }
        assert!(seen.contains("EXT010000") && seen.contains("EXT020000"));
    }
}
