//! What imports need of the store beyond the resources' own operations: finding the record a
//! row describes, by the rules in order, and remembering the ids other systems give records.

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

/// The record `external_id` names among `entity_type`'s, deleted or not (callers check).
pub fn by_external_id(
    conn: &mut DbConn,
    entity_type: &str,
    external_id: &str,
) -> Result<Option<String>, DomainError> {
    Ok(external_ids::table
        .find((entity_type, external_id))
        .select(external_ids::record_id)
        .first::<String>(conn)
        .optional()?)
}

/// Remembers that `external_id` names `record_id` from now on (it may have named a record
/// since deleted, whose row this one replaces).
pub fn remember_external_id(
    conn: &mut DbConn,
    entity_type: &str,
    external_id: &str,
    record_id: &str,
) -> Result<(), DomainError> {
    match by_external_id(conn, entity_type, external_id)? {
        Some(stored) if stored == record_id => {}
        Some(_) => {
            diesel::update(external_ids::table.find((entity_type, external_id)))
                .set(external_ids::record_id.eq(record_id))
                .execute(conn)?;
        }
        None => {
            diesel::insert_into(external_ids::table)
                .values((
                    external_ids::entity_type.eq(entity_type),
                    external_ids::external_id.eq(external_id),
                    external_ids::record_id.eq(record_id),
                ))
                .execute(conn)?;
        }
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

/// The live organisation `rule` finds for `value`: by id, charity or company number, or by
/// name when exactly one live organisation has it (ignoring case).
pub fn organisation(
    conn: &mut DbConn,
    rule: MatchRule,
    value: &str,
) -> Result<Option<String>, DomainError> {
    let live = organisations::table
        .filter(organisations::deleted_at.is_null())
        .select(organisations::id)
        .into_boxed();
    let found: Vec<String> = match rule {
        MatchRule::Id => live
            .filter(organisations::id.eq(value.to_owned()))
            .load(conn)?,
        MatchRule::CharityNumber => live
            .filter(organisations::charity_number.eq(value.to_owned()))
            .load(conn)?,
        MatchRule::CompanyNumber => live
            .filter(organisations::company_number.eq(value.to_owned()))
            .load(conn)?,
        MatchRule::Name => live
            .filter(organisations::name_key.eq(super::organisations::name_key(value)))
            .limit(2)
            .load(conn)?,
        MatchRule::ExternalId | MatchRule::Email => Vec::new(),
    };
    Ok(match found.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    })
}

/// The live contact `rule` finds for `value`: by id or by email (ignoring case, and the
/// domain's Unicode or ASCII form).
pub fn contact(
    conn: &mut DbConn,
    rule: MatchRule,
    value: &str,
) -> Result<Option<String>, DomainError> {
    let live = contacts::table
        .filter(contacts::deleted_at.is_null())
        .select(contacts::id)
        .into_boxed();
    Ok(match rule {
        MatchRule::Id => live
            .filter(contacts::id.eq(value.to_owned()))
            .first(conn)
            .optional()?,
        MatchRule::Email => live
            .filter(contacts::email_match_key.eq(super::contacts::email_match_key(value)))
            .first(conn)
            .optional()?,
        _ => None,
    })
}
