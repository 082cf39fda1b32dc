//! Sign-in sessions and their refresh tokens. A session is a family of refresh tokens: each
//! exchange spends one and issues the next; presenting a spent one ends the whole family,
//! since either the user or a thief holds a copy.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::RevokeReason;
use super::Role;
use crate::db::DbConn;
use crate::db::schema::{refresh_tokens, sessions, users};
use crate::domain::{DomainError, new_id, now, parse_stored};

/// Starts session `session_id` for `user_id`, ending at `expires_at`, with its first refresh
/// token (stored as a digest).
pub fn start(
    conn: &mut DbConn,
    session_id: &str,
    user_id: &str,
    expires_at: DateTime<Utc>,
    token_digest: &str,
) -> Result<(), DomainError> {
    let at = now();
    conn.transaction(|conn| {
        diesel::insert_into(sessions::table)
            .values((
                sessions::id.eq(session_id),
                sessions::user_id.eq(user_id),
                sessions::created_at.eq(at),
                sessions::expires_at.eq(expires_at.naive_utc()),
            ))
            .execute(conn)?;
        insert_token(conn, session_id, token_digest, expires_at.naive_utc())
    })
}

/// A fresh session id (generated before the tokens that name it are signed).
pub fn new_session_id() -> String {
    new_id()
}

fn insert_token(
    conn: &mut DbConn,
    session_id: &str,
    token_digest: &str,
    expires_at: NaiveDateTime,
) -> Result<(), DomainError> {
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::token_hash.eq(token_digest),
            refresh_tokens::session_id.eq(session_id),
            refresh_tokens::issued_at.eq(now()),
            refresh_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// What came of presenting a refresh token.
#[derive(Debug, PartialEq, Eq)]
pub enum Exchange {
    /// Spent; the next token is stored. The account's current id and role.
    Rotated {
        user_id: String,
        role: Role,
        expires_at: NaiveDateTime,
    },
    /// The token had been spent before: the session is now revoked.
    Reused,
    /// Unknown, expired, or its session or account is no longer valid.
    Refused,
}

/// Spends the refresh token `old_digest` of session `session_id` and stores `next_digest`
/// in its place, in one transaction. The spend is the first statement, so concurrent
/// exchanges of one token queue on the write lock (on SQLite too) and the later ones find it
/// spent: a reuse.
pub fn exchange(
    conn: &mut DbConn,
    session_id: &str,
    old_digest: &str,
    next_digest: &str,
) -> Result<Exchange, DomainError> {
    conn.transaction(|conn| {
        let at = now();
        let spent = diesel::update(
            refresh_tokens::table
                .find(old_digest)
                .filter(refresh_tokens::session_id.eq(session_id))
                .filter(refresh_tokens::expires_at.gt(at))
                .filter(refresh_tokens::spent_at.is_null()),
        )
        .set(refresh_tokens::spent_at.eq(at))
        .execute(conn)?;
        if spent == 0 {
            let token: Option<(String, Option<NaiveDateTime>)> = refresh_tokens::table
                .find(old_digest)
                .select((refresh_tokens::session_id, refresh_tokens::spent_at))
                .first(conn)
                .optional()?;
            return match token {
                Some((token_session, Some(_))) if token_session == session_id => {
                    revoke(conn, session_id, RevokeReason::RefreshReuse)?;
                    Ok(Exchange::Reused)
                }
                _ => Ok(Exchange::Refused),
            };
        }
        let Some((user_id, role, expires_at)) = live_session(conn, session_id)? else {
            return Ok(Exchange::Refused);
        };
        insert_token(conn, session_id, next_digest, expires_at)?;
        Ok(Exchange::Rotated {
            user_id,
            role,
            expires_at,
        })
    })
}

/// The account behind a session that is neither revoked nor expired and whose account is
/// active: its user id, current role and the session's end.
pub fn live_session(
    conn: &mut DbConn,
    session_id: &str,
) -> Result<Option<(String, Role, NaiveDateTime)>, DomainError> {
    let row: Option<(String, String, NaiveDateTime)> = sessions::table
        .inner_join(users::table)
        .filter(sessions::id.eq(session_id))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(now()))
        .filter(users::active.eq(true))
        .select((users::id, users::role, sessions::expires_at))
        .first(conn)
        .optional()?;
    row.map(|(id, role, expires_at)| Ok((id, parse_stored(&role)?, expires_at)))
        .transpose()
}

pub fn revoke(
    conn: &mut DbConn,
    session_id: &str,
    reason: RevokeReason,
) -> Result<(), DomainError> {
    diesel::update(
        sessions::table
            .find(session_id)
            .filter(sessions::revoked_at.is_null()),
    )
    .set((
        sessions::revoked_at.eq(now()),
        sessions::revoked_reason.eq(reason.as_str()),
    ))
    .execute(conn)?;
    Ok(())
}

/// Ends every open session of `user_id`, except `keep`.
pub fn revoke_all(
    conn: &mut DbConn,
    user_id: &str,
    reason: RevokeReason,
    keep: Option<&str>,
) -> Result<(), DomainError> {
    diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::id.ne(keep.unwrap_or(""))),
    )
    .set((
        sessions::revoked_at.eq(now()),
        sessions::revoked_reason.eq(reason.as_str()),
    ))
    .execute(conn)?;
    Ok(())
}
