//! Idempotency keys (the IETF `Idempotency-Key` draft): the first answer to a caller's key
//! is kept for a day and replayed when the same request comes again, so a client that lost
//! the answer to a create can retry it without creating twice.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::idempotency_keys;
use crate::domain::{DomainError, now};
use crate::with_backend;

/// How long an answer is kept for replay.
pub const KEPT_FOR: TimeDelta = TimeDelta::hours(24);
/// A first request still unanswered after this long has died with its connection (requests
/// time out long before), and a retry may run in its place.
const ABANDONED_AFTER: TimeDelta = TimeDelta::seconds(60);

/// An answer as kept for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub etag: Option<String>,
    pub body: String,
}

/// What a request with a key may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is new (or its first request was abandoned): run the request.
    Run,
    /// The key was used for this same request: give its answer again.
    Replay(Answer),
    /// The first request with this key is still being answered.
    InFlight,
    /// The key was used for a different request.
    Reused,
}

/// Claims `key` for `actor`'s request with `fingerprint`, forgetting keys past `KEPT_FOR`.
pub fn claim(
    conn: &mut DbConn,
    actor: &str,
    key: &str,
    fingerprint: &str,
) -> Result<Claim, DomainError> {
    conn.transaction(|conn| {
        let at = now();
        diesel::delete(
            idempotency_keys::table.filter(idempotency_keys::created_at.lt(at - KEPT_FOR)),
        )
        .execute(conn)?;
        let row = (
            idempotency_keys::actor.eq(actor),
            idempotency_keys::key.eq(key),
            idempotency_keys::fingerprint.eq(fingerprint),
            idempotency_keys::created_at.eq(at),
        );
        // A concurrent first use of the key waits here on PostgreSQL until that one commits.
        let inserted = with_backend!(conn, |c| {
            diesel::insert_into(idempotency_keys::table)
                .values(&row)
                .on_conflict_do_nothing()
                .execute(c)
        })?;
        if inserted == 1 {
            return Ok(Claim::Run);
        }
        type Row = (
            String,
            Option<i32>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            NaiveDateTime,
        );
        let (stored_fingerprint, status, content_type, location, etag, body, created_at): Row =
            idempotency_keys::table
                .find((actor, key))
                .select((
                    idempotency_keys::fingerprint,
                    idempotency_keys::status,
                    idempotency_keys::content_type,
                    idempotency_keys::location,
                    idempotency_keys::etag,
                    idempotency_keys::body,
                    idempotency_keys::created_at,
                ))
                .first(conn)?;
        if stored_fingerprint != fingerprint {
            return Ok(Claim::Reused);
        }
        Ok(match status {
            Some(status) => Claim::Replay(Answer {
                status: u16::try_from(status).unwrap_or(500),
                content_type,
                location,
                etag,
                body: body.unwrap_or_default(),
            }),
            None if created_at < at - ABANDONED_AFTER => {
                diesel::update(idempotency_keys::table.find((actor, key)))
                    .set(idempotency_keys::created_at.eq(at))
                    .execute(conn)?;
                Claim::Run
            }
            None => Claim::InFlight,
        })
    })
}

/// Keeps the answer to a claimed key.
pub fn complete(
    conn: &mut DbConn,
    actor: &str,
    key: &str,
    answer: &Answer,
) -> Result<(), DomainError> {
    diesel::update(idempotency_keys::table.find((actor, key)))
        .set((
            idempotency_keys::status.eq(i32::from(answer.status)),
            idempotency_keys::content_type.eq(&answer.content_type),
            idempotency_keys::location.eq(&answer.location),
            idempotency_keys::etag.eq(&answer.etag),
            idempotency_keys::body.eq(&answer.body),
        ))
        .execute(conn)?;
    Ok(())
}

/// Gives a claimed key up (the request failed in a way a retry may not), so a retry runs.
pub fn release(conn: &mut DbConn, actor: &str, key: &str) -> Result<(), DomainError> {
    diesel::delete(idempotency_keys::table.find((actor, key))).execute(conn)?;
    Ok(())
}

/// Forgets every kept answer that mentions `id` (an erased person's record).
pub fn forget_answers_about(conn: &mut DbConn, id: &str) -> Result<usize, DomainError> {
    let pattern = format!("%{}%", crate::domain::escape_like(id));
    Ok(diesel::delete(
        idempotency_keys::table.filter(idempotency_keys::body.like(pattern).escape('\\')),
    )
    .execute(conn)?)
}
