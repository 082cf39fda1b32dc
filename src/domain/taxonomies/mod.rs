//! The controlled vocabularies organisations are coded against: DEI Data Standard community
//! codes (with the alliance's extension codes) and expertise areas.

use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;

use diesel::prelude::*;
use serde::Deserialize;

use crate::db::DbConn;
use crate::db::schema::{communities, expertise_areas};
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

/// Of `codes`, those that are not active community codes (unknown or retired).
pub fn unusable_community_codes(conn: &mut DbConn, codes: &[String]) -> QueryResult<Vec<String>> {
    let active: BTreeSet<String> = communities::table
        .filter(communities::code.eq_any(codes))
        .filter(communities::retired_at.is_null())
        .select(communities::code)
        .load(conn)?
        .into_iter()
        .collect();
    Ok(codes
        .iter()
        .filter(|c| !active.contains(*c))
        .cloned()
        .collect())
}

/// Of `codes`, those that are not active expertise areas (unknown or retired).
pub fn unusable_expertise_codes(conn: &mut DbConn, codes: &[String]) -> QueryResult<Vec<String>> {
    let active: BTreeSet<String> = expertise_areas::table
        .filter(expertise_areas::code.eq_any(codes))
        .filter(expertise_areas::retired_at.is_null())
        .select(expertise_areas::code)
        .load(conn)?
        .into_iter()
        .collect();
    Ok(codes
        .iter()
        .filter(|c| !active.contains(*c))
        .cloned()
        .collect())
}

/// Each code with all its descendants, so a filter on a parent code (`DEI010000`) finds
/// organisations coded with a child (`DEI010110`). Retired codes are included: old records
/// keep them.
pub fn community_codes_with_descendants(
    conn: &mut DbConn,
    codes: &[String],
) -> QueryResult<Vec<String>> {
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
