//! Targets staff set for the membership: at least a share (of those who answered) or a
//! count of active members with a code in a dimension ("at least 20% of members led by
//! communities experiencing racial inequity").

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::Dimension;
use crate::db::DbConn;
use crate::db::schema::targets;
use crate::domain::organisations::{OrganisationKind, Region, SizeBand};
use crate::domain::{
    DomainError, FieldError, Page, VersionCheck, changed, new_id, now, parse_stored, taxonomies,
    update_locked,
};

const ENTITY: &str = "target";

/// The minimum a target asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Minimum {
    /// A percentage (0-100) of the active members who answered in the dimension.
    Share(f64),
    /// A number of active members.
    Count(i32),
}

#[derive(Debug, Clone, PartialEq)]
pub struct TargetProfile {
    pub dimension: Dimension,
    pub code: String,
    pub minimum: Minimum,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub id: String,
    pub profile: TargetProfile,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = targets)]
struct TargetRow {
    id: String,
    dimension: String,
    code: String,
    minimum_share: Option<f64>,
    minimum_count: Option<i32>,
    note: Option<String>,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl TargetRow {
    fn into_target(self) -> Result<Target, DomainError> {
        let minimum = match (self.minimum_share, self.minimum_count) {
            (Some(share), _) => Minimum::Share(share),
            (None, Some(count)) => Minimum::Count(count),
            (None, None) => {
                return Err(DomainError::Database(
                    diesel::result::Error::DeserializationError(
                        "a target has neither a minimum share nor a count".into(),
                    ),
                ));
            }
        };
        Ok(Target {
            profile: TargetProfile {
                dimension: parse_stored(&self.dimension)?,
                code: self.code,
                minimum,
                note: self.note,
            },
            id: self.id,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// The code must be a row of its dimension: a community code, an expertise code, a kind, a
/// size band, a region, or `true`/`false` for lived-experience-led.
fn check_code(conn: &mut DbConn, profile: &TargetProfile) -> Result<(), DomainError> {
    let code = std::slice::from_ref(&profile.code);
    let known = match profile.dimension {
        Dimension::Leadership | Dimension::Mission => {
            taxonomies::unknown_community_codes(conn, code)?.is_empty()
        }
        Dimension::Expertise => taxonomies::unknown_expertise_codes(conn, code)?.is_empty(),
        Dimension::Kind => profile.code.parse::<OrganisationKind>().is_ok(),
        Dimension::SizeBand => profile.code.parse::<SizeBand>().is_ok(),
        Dimension::Region => profile.code.parse::<Region>().is_ok(),
        Dimension::LivedExperienceLed => matches!(profile.code.as_str(), "true" | "false"),
    };
    if known {
        Ok(())
    } else {
        Err(DomainError::Invalid(vec![FieldError::new(
            "code",
            "unknown_code",
            format!("{} is not a code of {}", profile.code, profile.dimension),
        )]))
    }
}

/// The columns a target's profile writes.
type Columns<'a> = (
    diesel::dsl::Eq<targets::dimension, &'static str>,
    diesel::dsl::Eq<targets::code, &'a str>,
    diesel::dsl::Eq<targets::minimum_share, Option<f64>>,
    diesel::dsl::Eq<targets::minimum_count, Option<i32>>,
    diesel::dsl::Eq<targets::note, Option<&'a str>>,
);

fn columns(profile: &TargetProfile) -> Columns<'_> {
    let (share, count) = match profile.minimum {
        Minimum::Share(share) => (Some(share), None),
        Minimum::Count(count) => (None, Some(count)),
    };
    (
        targets::dimension.eq(profile.dimension.as_str()),
        targets::code.eq(profile.code.as_str()),
        targets::minimum_share.eq(share),
        targets::minimum_count.eq(count),
        targets::note.eq(profile.note.as_deref()),
    )
}

pub fn find(conn: &mut DbConn, id: &str) -> Result<Target, DomainError> {
    targets::table
        .find(id)
        .filter(targets::deleted_at.is_null())
        .select(TargetRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound(ENTITY))?
        .into_target()
}

/// Live targets by dimension and code, after (key, id) when given.
pub fn list(
    conn: &mut DbConn,
    after: Option<&(String, String)>,
    limit: usize,
) -> Result<Page<Target>, DomainError> {
    let query = targets::table
        .filter(targets::deleted_at.is_null())
        .order(targets::id.asc())
        .select(TargetRow::as_select())
        .into_boxed();
    let after = after.map(|(_, id)| targets::id.gt(id.clone()));
    crate::domain::load_id_page(
        conn,
        query,
        after,
        limit,
        |row| &row.id,
        TargetRow::into_target,
    )
}

/// Every live target (a handful), for the gaps report.
pub fn all(conn: &mut DbConn) -> Result<Vec<Target>, DomainError> {
    targets::table
        .filter(targets::deleted_at.is_null())
        .order(targets::id.asc())
        .select(TargetRow::as_select())
        .load(conn)?
        .into_iter()
        .map(TargetRow::into_target)
        .collect()
}

pub fn create(conn: &mut DbConn, profile: &TargetProfile) -> Result<Target, DomainError> {
    conn.transaction(|conn| {
        check_code(conn, profile)?;
        let id = new_id();
        let at = now();
        diesel::insert_into(targets::table)
            .values((
                targets::id.eq(&id),
                columns(profile),
                targets::version.eq(1),
                targets::created_at.eq(at),
                targets::updated_at.eq(at),
            ))
            .execute(conn)?;
        find(conn, &id)
    })
}

pub fn update<F>(
    conn: &mut DbConn,
    id: &str,
    check: &VersionCheck,
    change: F,
) -> Result<Target, DomainError>
where
    F: Fn(&TargetProfile) -> Result<TargetProfile, DomainError>,
{
    let write = |conn: &mut DbConn, current: &Target, profile: TargetProfile| {
        check_code(conn, &profile)?;
        diesel::update(targets::table.find(id))
            .set((
                columns(&profile),
                targets::version.eq(current.version + 1),
                targets::updated_at.eq(now()),
            ))
            .execute(conn)?;
        Ok(())
    };
    let lock = |conn: &mut DbConn| crate::domain::lock_row!(conn, targets, id);
    let change = |current: &Target| changed(&current.profile, change);
    let find = |conn: &mut DbConn| find(conn, id);
    let version = |current: &Target| current.version;
    update_locked(conn, check, lock, find, version, change, write)
}

pub fn soft_delete(conn: &mut DbConn, id: &str, check: &VersionCheck) -> Result<(), DomainError> {
    crate::domain::soft_delete_row!(conn, targets, id, check, find)
}
