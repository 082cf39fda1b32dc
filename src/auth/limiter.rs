//! Sign-in attempts limited per account and per client address, counted in the database so
//! that several instances behind a load balancer share one limit (not N times it). Every
//! attempt counts, so a flood of guesses cannot hide among successes.
//!
//! Each key is a token bucket kept as one timestamp (GCRA): `refilled_at`, when its whole
//! allowance is back. An attempt at `t` moves it to `max(refilled_at, t) + period`; the
//! attempt is allowed when that is at most a minute ahead of `t` (a burst of the whole
//! minute's allowance), and refused otherwise without being counted.

use std::net::IpAddr;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::sign_in_limits as limits;
use crate::db::{Database, DbConn, DbError, write_transaction};
use crate::error::ApiError;

/// Attempts per minute (and the burst allowed) for one account.
pub const PER_ACCOUNT_PER_MINUTE: u32 = 5;
/// Attempts per minute (and the burst allowed) from one client address.
pub const PER_ADDRESS_PER_MINUTE: u32 = 30;

pub struct LoginLimiter {
    per_account_per_minute: u32,
    per_address_per_minute: u32,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self::new(PER_ACCOUNT_PER_MINUTE, PER_ADDRESS_PER_MINUTE)
    }
}

impl LoginLimiter {
    pub fn new(per_account_per_minute: u32, per_address_per_minute: u32) -> Self {
        Self {
            per_account_per_minute: per_account_per_minute.max(1),
            per_address_per_minute: per_address_per_minute.max(1),
        }
    }

    /// Counts one attempt on `account` (a lower-cased email) from `address`; 429 with the
    /// wait when either has had too many.
    pub async fn attempt(
        &self,
        db: &Database,
        account: &str,
        address: Option<IpAddr>,
    ) -> Result<(), ApiError> {
        let mut keys = Vec::with_capacity(2);
        if let Some(address) = address {
            keys.push((format!("address:{address}"), self.per_address_per_minute));
        }
        keys.push((
            format!("account:{}", account.to_lowercase()),
            self.per_account_per_minute,
        ));
        let at = crate::domain::now();
        let refused = db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    for (key, per_minute) in &keys {
                        if let Some(wait) = take(conn, key, *per_minute, at)? {
                            return Ok(Some(wait));
                        }
                    }
                    Ok::<_, DbError>(None)
                })
            })
            .await
            .map_err(ApiError::from)?;
        match refused {
            None => Ok(()),
            Some(wait) => Err(ApiError::TooManyRequests {
                retry_after_seconds: wait.num_seconds().max(0) as u64 + 1,
            }),
        }
    }
}

/// Takes one attempt from `key`'s bucket at `at`: `None` when allowed (and counted), or how
/// long until one would be.
fn take(
    conn: &mut DbConn,
    key: &str,
    per_minute: u32,
    at: NaiveDateTime,
) -> QueryResult<Option<Duration>> {
    let period = Duration::milliseconds(60_000 / i64::from(per_minute));
    let burst = Duration::minutes(1);
    // A new key starts with its whole allowance; two instances may both insert it first.
    let row = (limits::key.eq(key), limits::refilled_at.eq(at));
    crate::with_backend!(conn, |c| diesel::insert_into(limits::table)
        .values(&row)
        .on_conflict_do_nothing()
        .execute(c))?;
    // The update takes the row's lock (PostgreSQL), so two instances count one after the other.
    diesel::update(limits::table.find(key))
        .set(limits::refilled_at.eq(limits::refilled_at))
        .execute(conn)?;
    let refilled_at: NaiveDateTime = limits::table
        .find(key)
        .select(limits::refilled_at)
        .first(conn)?;
    let next = refilled_at.max(at) + period;
    if next - at > burst {
        return Ok(Some(next - at - burst));
    }
    diesel::update(limits::table.find(key))
        .set(limits::refilled_at.eq(next))
        .execute(conn)?;
    Ok(None)
}

/// Forgets buckets that are full again (their keys count as new), so the table stays small
/// under a spray of addresses. Run by the feed keeper.
pub fn forget_refilled(conn: &mut DbConn, at: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(limits::table.filter(limits::refilled_at.lt(at))).execute(conn)
}
