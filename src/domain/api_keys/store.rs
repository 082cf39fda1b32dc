//! Reading and writing API keys.

use std::collections::HashMap;

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

use super::Scope;
use super::{ApiKey, NewApiKey};
use crate::db::literal_limit::LiteralLimit;
use crate::db::schema::{api_key_scopes, api_keys};
use crate::db::{DbConn, write_now};
use crate::domain::{DomainError, new_id, now, parse_stored};

const ENTITY: &str = "API key";
/// `last_used_at` is rewritten at most this often, so busy integrations do not turn every
/// read into a write.
const LAST_USED_RESOLUTION: TimeDelta = TimeDelta::seconds(60);

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
struct ApiKeyRow {
    id: String,
    name: String,
    prefix: String,
    created_by: String,
    created_at: NaiveDateTime,
    expires_at: Option<NaiveDateTime>,
    revoked_at: Option<NaiveDateTime>,
    last_used_at: Option<NaiveDateTime>,
}

pub fn create(conn: &mut DbConn, new: &NewApiKey) -> Result<ApiKey, DomainError> {
    let id = new_id();
    conn.transaction(|conn| {
        diesel::insert_into(api_keys::table)
            .values((
                api_keys::id.eq(&id),
                api_keys::name.eq(&new.name),
                api_keys::prefix.eq(&new.prefix),
                api_keys::secret_hash.eq(&new.secret_digest),
                api_keys::created_by.eq(&new.created_by),
                api_keys::created_at.eq(now()),
                api_keys::expires_at.eq(new.expires_at),
            ))
            .execute(conn)?;
        for scope in &new.scopes {
            diesel::insert_into(api_key_scopes::table)
                .values((
                    api_key_scopes::api_key_id.eq(&id),
                    api_key_scopes::scope.eq(scope.as_str()),
                ))
                .execute(conn)?;
        }
        get(conn, &id)
    })
}

pub fn get(conn: &mut DbConn, id: &str) -> Result<ApiKey, DomainError> {
    let row = api_keys::table
        .find(id)
        .select(ApiKeyRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound(ENTITY))?;
    assemble(conn, vec![row]).map(|mut keys| keys.remove(0))
}

/// A page of keys, oldest first, starting after the key `after`.
pub fn list(
    conn: &mut DbConn,
    after: Option<&str>,
    limit: usize,
) -> Result<(Vec<ApiKey>, bool), DomainError> {
    let mut query = api_keys::table.into_boxed();
    if let Some(after) = after {
        query = query.filter(api_keys::id.gt(after.to_owned()));
    }
    let query = query
        .order(api_keys::id.asc())
        .select(ApiKeyRow::as_select());
    let mut rows: Vec<ApiKeyRow> = LiteralLimit::at_least(query, limit as u64 + 1).load(conn)?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    Ok((assemble(conn, rows)?, more))
}

fn assemble(conn: &mut DbConn, rows: Vec<ApiKeyRow>) -> Result<Vec<ApiKey>, DomainError> {
    let ids: Vec<&str> = rows.iter().map(|row| row.id.as_str()).collect();
    let mut scopes: HashMap<String, Vec<Scope>> = HashMap::new();
    let stored: Vec<(String, String)> = api_key_scopes::table
        .filter(api_key_scopes::api_key_id.eq_any(&ids))
        .select((api_key_scopes::api_key_id, api_key_scopes::scope))
        .load(conn)?;
    for (id, scope) in stored {
        scopes.entry(id).or_default().push(parse_stored(&scope)?);
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let mut key_scopes = scopes.remove(&row.id).unwrap_or_default();
            key_scopes.sort();
            ApiKey {
                scopes: key_scopes,
                id: row.id,
                name: row.name,
                prefix: row.prefix,
                created_by: row.created_by,
                created_at: row.created_at,
                expires_at: row.expires_at,
                revoked_at: row.revoked_at,
                last_used_at: row.last_used_at,
            }
        })
        .collect())
}

/// Revokes the key for good. Revoking a revoked key changes nothing.
pub fn revoke(conn: &mut DbConn, id: &str) -> Result<(), DomainError> {
    conn.transaction(|conn| {
        get(conn, id)?;
        diesel::update(
            api_keys::table
                .find(id)
                .filter(api_keys::revoked_at.is_null()),
        )
        .set(api_keys::revoked_at.eq(now()))
        .execute(conn)?;
        Ok(())
    })
}

/// The id and scopes of the usable key whose secret has this digest: not revoked, not
/// expired. Notes the use, when that can be done without waiting.
pub fn authenticate(
    conn: &mut DbConn,
    secret_digest: &str,
) -> Result<Option<(String, Vec<Scope>)>, DomainError> {
    let at = now();
    let row: Option<(String, Option<NaiveDateTime>)> = api_keys::table
        .filter(api_keys::secret_hash.eq(secret_digest))
        .filter(api_keys::revoked_at.is_null())
        .filter(
            api_keys::expires_at
                .is_null()
                .or(api_keys::expires_at.gt(at)),
        )
        .select((api_keys::id, api_keys::last_used_at))
        .first(conn)
        .optional()?;
    let Some((id, last_used_at)) = row else {
        return Ok(None);
    };
    // Bookkeeping, not the read: skipped while another writer holds the lock (a long import
    // on SQLite), so a key's reads never wait for it; a later use writes it.
    if last_used_at.is_none_or(|last| at - last >= LAST_USED_RESOLUTION) {
        write_now(conn, |conn| {
            diesel::update(api_keys::table.find(&id))
                .set(api_keys::last_used_at.eq(at))
                .execute(conn)
        })?;
    }
    let scopes = api_key_scopes::table
        .filter(api_key_scopes::api_key_id.eq(&id))
        .select(api_key_scopes::scope)
        .load::<String>(conn)?
        .iter()
        .map(|scope| parse_stored(scope))
        .collect::<Result<_, _>>()?;
    Ok(Some((id, scopes)))
}
