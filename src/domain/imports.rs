//! What imports need of the store beyond the resources' own operations: finding the records
//! a file's rows describe, a thousand values to a statement, and remembering the ids other
//! systems give records.

use std::collections::HashMap;

use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{contacts, external_ids, organisations};
use crate::domain::DomainError;

crate::domain::text_enum! {
    /// Which rule found the record a row describes.
    pub enum MatchRule {
        Id => "id",
        ExternalId => "external_id",
        CharityNumber => "charity_number",
        CompanyNumber => "company_number",
        Email => "email",
        Name => "name",
    }
}

/// How many values one lookup statement binds: well inside SQLite's limit on variables,
/// and few enough statements that a 50,000-row file needs fifty.
pub const PER_STATEMENT: usize = 1_000;

/// The records `external_ids` name among `entity_type`'s, deleted or not (callers check),
/// by external id.
pub fn by_external_ids(
    conn: &mut DbConn,
    entity_type: &str,
    external_ids: &[String],
) -> Result<HashMap<String, String>, DomainError> {
    let mut found = HashMap::new();
    for chunk in external_ids.chunks(PER_STATEMENT) {
        let rows: Vec<(String, String)> = external_ids::table
            .filter(external_ids::entity_type.eq(entity_type))
            .filter(external_ids::external_id.eq_any(chunk))
            .select((external_ids::external_id, external_ids::record_id))
            .load(conn)?;
        found.extend(rows);
    }
    Ok(found)
}

/// Remembers that each external id names its record from now on (it may have named a
/// record since deleted, whose row this one replaces): `(external id, record id)` pairs.
pub fn remember_external_ids(
    conn: &mut DbConn,
    entity_type: &str,
    pairs: &[(String, String)],
) -> Result<(), DomainError> {
    for chunk in pairs.chunks(PER_STATEMENT) {
        let named: Vec<&String> = chunk.iter().map(|(external_id, _)| external_id).collect();
        diesel::delete(
            external_ids::table
                .filter(external_ids::entity_type.eq(entity_type))
                .filter(external_ids::external_id.eq_any(named)),
        )
        .execute(conn)?;
        let rows: Vec<_> = chunk
            .iter()
            .map(|(external_id, record_id)| {
                (
                    external_ids::entity_type.eq(entity_type),
                    external_ids::external_id.eq(external_id),
                    external_ids::record_id.eq(record_id),
                )
            })
            .collect();
        // Multi-row inserts do not compile through the connection enum.
        crate::with_backend!(conn, |c| diesel::insert_into(external_ids::table)
            .values(&rows)
            .execute(c))?;
    }
    Ok(())
}

/// Forgets every external id of `record_id` (an erased person must not stay linkable).
pub fn forget_external_ids(conn: &mut DbConn, record_id: &str) -> Result<usize, DomainError> {
    Ok(
        diesel::delete(external_ids::table.filter(external_ids::record_id.eq(record_id)))
            .execute(conn)?,
    )
}

/// The live organisations that hold each of `keys` under `rule`, as `(key, id)` pairs: by
/// id, charity or company number, or name key (every holder: a name matches only when one
/// organisation has it).
pub fn organisations_by(
    conn: &mut DbConn,
    rule: MatchRule,
    keys: &[String],
) -> Result<Vec<(String, String)>, DomainError> {
    let mut found = Vec::new();
    for chunk in keys.chunks(PER_STATEMENT) {
        let live = organisations::table
            .filter(organisations::deleted_at.is_null())
            .into_boxed();
        let rows: Vec<(Option<String>, String)> = match rule {
            MatchRule::Id => live
                .filter(organisations::id.eq_any(chunk))
                .select((organisations::id.nullable(), organisations::id))
                .load(conn)?,
            MatchRule::CharityNumber => live
                .filter(organisations::charity_number.eq_any(chunk))
                .select((organisations::charity_number, organisations::id))
                .load(conn)?,
            MatchRule::CompanyNumber => live
                .filter(organisations::company_number.eq_any(chunk))
                .select((organisations::company_number, organisations::id))
                .load(conn)?,
            MatchRule::Name => live
                .filter(organisations::name_key.eq_any(chunk))
                .select((organisations::name_key.nullable(), organisations::id))
                .load(conn)?,
            MatchRule::ExternalId | MatchRule::Email => Vec::new(),
        };
        found.extend(rows.into_iter().filter_map(|(key, id)| Some((key?, id))));
    }
    Ok(found)
}

/// The live contacts that hold each of `keys` under `rule`, as `(key, id)` pairs: by id or
/// by email match key (case, and the domain's Unicode or ASCII form, aside).
pub fn contacts_by(
    conn: &mut DbConn,
    rule: MatchRule,
    keys: &[String],
) -> Result<Vec<(String, String)>, DomainError> {
    let mut found = Vec::new();
    for chunk in keys.chunks(PER_STATEMENT) {
        let live = contacts::table
            .filter(contacts::deleted_at.is_null())
            .into_boxed();
        let rows: Vec<(Option<String>, String)> = match rule {
            MatchRule::Id => live
                .filter(contacts::id.eq_any(chunk))
                .select((contacts::id.nullable(), contacts::id))
                .load(conn)?,
            MatchRule::Email => live
                .filter(contacts::email_match_key.eq_any(chunk))
                .select((contacts::email_match_key, contacts::id))
                .load(conn)?,
            _ => Vec::new(),
        };
        found.extend(rows.into_iter().filter_map(|(key, id)| Some((key?, id))));
    }
    Ok(found)
}
