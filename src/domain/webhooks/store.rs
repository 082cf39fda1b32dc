//! Subscriptions, the outbox of deliveries, leases and attempts.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{
    DISABLE_AFTER_FAILING_DAYS, DeliveryStatus, LEASE, ROTATION_OVERLAP_HOURS, Subscription,
    SubscriptionStatus, TEST_EVENT, new_secret, next_attempt,
};
use crate::db::DbConn;
use crate::db::schema::{
    change_batches, change_events, webhook_attempts as attempts, webhook_deliveries as deliveries,
    webhook_subscriptions as subscriptions,
};
use crate::domain::{DomainError, Page, VersionCheck, load_id_page, new_id, now, parse_stored};

const ENTITY: &str = "webhook subscription";

#[derive(Queryable, Selectable)]
#[diesel(table_name = subscriptions)]
struct Row {
    id: String,
    url: String,
    description: Option<String>,
    event_types: String,
    status: String,
    failing_since: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    version: i64,
}

impl Row {
    fn subscription(self) -> Result<Subscription, DomainError> {
        Ok(Subscription {
            event_types: serde_json::from_str(&self.event_types).unwrap_or_default(),
            status: parse_stored(&self.status)?,
            id: self.id,
            url: self.url,
            description: self.description,
            failing_since: self.failing_since,
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: self.version,
        })
    }
}

/// What people set on a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    pub url: String,
    pub description: Option<String>,
    pub event_types: Vec<String>,
    pub status: SubscriptionStatus,
}

impl From<&Subscription> for Fields {
    fn from(s: &Subscription) -> Self {
        Self {
            url: s.url.clone(),
            description: s.description.clone(),
            event_types: s.event_types.clone(),
            status: s.status,
        }
    }
}

fn types_json(types: &[String]) -> String {
    serde_json::to_string(types).unwrap_or_else(|_| "[]".to_owned())
}

/// A new subscription and its signing secret (shown once, by the caller).
pub fn create(conn: &mut DbConn, fields: &Fields) -> Result<(Subscription, String), DomainError> {
    let (id, secret, at) = (new_id(), new_secret(), now());
    diesel::insert_into(subscriptions::table)
        .values((
            subscriptions::id.eq(&id),
            subscriptions::url.eq(&fields.url),
            subscriptions::description.eq(&fields.description),
            subscriptions::event_types.eq(types_json(&fields.event_types)),
            subscriptions::secret.eq(&secret),
            subscriptions::status.eq(fields.status.as_str()),
            subscriptions::created_at.eq(at),
            subscriptions::updated_at.eq(at),
            subscriptions::version.eq(1),
        ))
        .execute(conn)?;
    Ok((find(conn, &id)?, secret))
}

pub fn find(conn: &mut DbConn, id: &str) -> Result<Subscription, DomainError> {
    subscriptions::table
        .find(id)
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound(ENTITY))?
        .subscription()
}

/// A page of subscriptions in id order, and whether more follow.
pub fn list(
    conn: &mut DbConn,
    after: Option<&str>,
    limit: usize,
) -> Result<Page<Subscription>, DomainError> {
    let query = subscriptions::table
        .order(subscriptions::id.asc())
        .select(Row::as_select())
        .into_boxed();
    let after = after.map(|after| subscriptions::id.gt(after.to_owned()));
    load_id_page(
        conn,
        query,
        after,
        limit,
        |row: &Row| &row.id,
        Row::subscription,
    )
}

/// Changes what people set, if `check` allows the stored version. Turning a subscription
/// back on clears its record of failing.
pub fn update(
    conn: &mut DbConn,
    id: &str,
    check: &VersionCheck,
    change: impl FnOnce(Fields) -> Fields,
) -> Result<Subscription, DomainError> {
    crate::domain::update_locked(
        conn,
        check,
        |conn| lock(conn, id),
        |conn| find(conn, id),
        |current| current.version,
        |current| {
            let before = Fields::from(current);
            let after = change(before.clone());
            Ok((after != before).then_some(after))
        },
        |conn, current, fields| {
            let resumed = current.status != SubscriptionStatus::Active
                && fields.status == SubscriptionStatus::Active;
            diesel::update(subscriptions::table.find(id))
                .set((
                    subscriptions::url.eq(&fields.url),
                    subscriptions::description.eq(&fields.description),
                    subscriptions::event_types.eq(types_json(&fields.event_types)),
                    subscriptions::status.eq(fields.status.as_str()),
                    subscriptions::updated_at.eq(now()),
                    subscriptions::version.eq(current.version + 1),
                ))
                .execute(conn)?;
            if resumed {
                diesel::update(subscriptions::table.find(id))
                    .set(subscriptions::failing_since.eq(None::<NaiveDateTime>))
                    .execute(conn)?;
            }
            Ok(())
        },
    )
}

fn lock(conn: &mut DbConn, id: &str) -> QueryResult<bool> {
    let locked = diesel::update(subscriptions::table.find(id))
        .set(subscriptions::version.eq(subscriptions::version))
        .execute(conn)?;
    Ok(locked == 1)
}

/// Deletes the subscription for good; its deliveries and their attempts go with it (the
/// foreign keys cascade).
pub fn delete(
    conn: &mut DbConn,
    id: &str,
    check: &VersionCheck,
) -> Result<Subscription, DomainError> {
    lock(conn, id)?;
    let current = find(conn, id)?;
    check.require(current.version)?;
    diesel::delete(subscriptions::table.find(id)).execute(conn)?;
    Ok(current)
}

/// A new signing secret (shown once, by the caller); the old one keeps signing beside it for
/// `ROTATION_OVERLAP_HOURS`, so receivers can switch without losing a delivery.
pub fn rotate(conn: &mut DbConn, id: &str) -> Result<(Subscription, String), DomainError> {
    lock(conn, id)?;
    let current = find(conn, id)?;
    let old: String = subscriptions::table
        .find(id)
        .select(subscriptions::secret)
        .first(conn)?;
    let (secret, at) = (new_secret(), now());
    diesel::update(subscriptions::table.find(id))
        .set((
            subscriptions::secret.eq(&secret),
            subscriptions::previous_secret.eq(Some(old)),
            subscriptions::previous_secret_until
                .eq(Some(at + chrono::Duration::hours(ROTATION_OVERLAP_HOURS))),
            subscriptions::updated_at.eq(at),
            subscriptions::version.eq(current.version + 1),
        ))
        .execute(conn)?;
    Ok((find(conn, id)?, secret))
}

/// The secrets that sign a delivery sent `at`: the current one, and the previous one while
/// its overlap lasts.
pub fn signing_secrets(conn: &mut DbConn, id: &str, at: NaiveDateTime) -> QueryResult<Vec<String>> {
    let (secret, previous, until): (String, Option<String>, Option<NaiveDateTime>) =
        subscriptions::table
            .find(id)
            .select((
                subscriptions::secret,
                subscriptions::previous_secret,
                subscriptions::previous_secret_until,
            ))
            .first(conn)?;
    let mut secrets = vec![secret];
    if let (Some(previous), Some(until)) = (previous, until)
        && until > at
    {
        secrets.push(previous);
    }
    Ok(secrets)
}

/// The outbox: queues a delivery of each change (`(change id, event type)`) to every
/// subscription that is not disabled and wants its type. Run in the write that makes the
/// changes, so they commit, or roll back, together.
pub fn enqueue(
    conn: &mut DbConn,
    changes: &[(String, &str)],
    at: NaiveDateTime,
) -> QueryResult<()> {
    let listening: Vec<(String, String)> = subscriptions::table
        .filter(subscriptions::status.ne(SubscriptionStatus::Disabled.as_str()))
        .select((subscriptions::id, subscriptions::event_types))
        .load(conn)?;
    let mut rows = Vec::new();
    for (subscription, types) in &listening {
        let types: Vec<String> = serde_json::from_str(types).unwrap_or_default();
        for (change_id, event_type) in changes {
            if super::wants(&types, event_type) {
                rows.push(delivery_row(
                    new_id(),
                    subscription,
                    Some(change_id),
                    event_type,
                    at,
                ));
            }
        }
    }
    for chunk in rows.chunks(DELIVERIES_PER_STATEMENT) {
        // Multi-row inserts do not compile through the connection enum.
        crate::with_backend!(&mut *conn, |c| diesel::insert_into(deliveries::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

/// Deliveries to an insert: 8 values each, well within both backends' limits.
const DELIVERIES_PER_STATEMENT: usize = 500;

/// New delivery `id` of `change_id` (none for a test) to `subscription`, due at once.
fn delivery_row<'a>(
    id: String,
    subscription: &'a str,
    change_id: Option<&'a str>,
    event_type: &'a str,
    at: NaiveDateTime,
) -> NewDelivery<'a> {
    (
        deliveries::id.eq(id),
        deliveries::subscription_id.eq(subscription),
        deliveries::change_id.eq(change_id),
        deliveries::event_type.eq(event_type),
        deliveries::status.eq(DeliveryStatus::Pending.as_str()),
        deliveries::attempts.eq(0),
        deliveries::next_attempt_at.eq(Some(at)),
        deliveries::created_at.eq(at),
    )
}

type NewDelivery<'a> = (
    diesel::dsl::Eq<deliveries::id, String>,
    diesel::dsl::Eq<deliveries::subscription_id, &'a str>,
    diesel::dsl::Eq<deliveries::change_id, Option<&'a str>>,
    diesel::dsl::Eq<deliveries::event_type, &'a str>,
    diesel::dsl::Eq<deliveries::status, &'static str>,
    diesel::dsl::Eq<deliveries::attempts, i32>,
    diesel::dsl::Eq<deliveries::next_attempt_at, Option<NaiveDateTime>>,
    diesel::dsl::Eq<deliveries::created_at, NaiveDateTime>,
);

fn insert_delivery(
    conn: &mut DbConn,
    subscription: &str,
    change_id: Option<&str>,
    event_type: &str,
    at: NaiveDateTime,
) -> QueryResult<String> {
    let id = new_id();
    diesel::insert_into(deliveries::table)
        .values(delivery_row(
            id.clone(),
            subscription,
            change_id,
            event_type,
            at,
        ))
        .execute(conn)?;
    Ok(id)
}

/// Queues a `webhook.test` delivery to subscription `id`, sent at once whatever else is queued.
pub fn enqueue_test(conn: &mut DbConn, id: &str) -> Result<Delivery, DomainError> {
    find(conn, id)?;
    let delivery = insert_delivery(conn, id, None, TEST_EVENT, now())?;
    self::delivery(conn, id, &delivery)
}

/// A delivery as listed: its state and every attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: String,
    pub subscription_id: String,
    pub change_id: Option<String>,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: Vec<Attempt>,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub delivered_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = attempts)]
pub struct Attempt {
    pub attempt: i32,
    pub attempted_at: NaiveDateTime,
    pub status_code: Option<i32>,
    pub duration_ms: i32,
    pub error: Option<String>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = deliveries)]
struct DeliveryRow {
    id: String,
    subscription_id: String,
    change_id: Option<String>,
    event_type: String,
    status: String,
    next_attempt_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    delivered_at: Option<NaiveDateTime>,
}

fn assemble(conn: &mut DbConn, rows: Vec<DeliveryRow>) -> Result<Vec<Delivery>, DomainError> {
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let all: Vec<(String, Attempt)> = attempts::table
        .filter(attempts::delivery_id.eq_any(&ids))
        .order((attempts::delivery_id, attempts::attempt))
        .select((attempts::delivery_id, Attempt::as_select()))
        .load(conn)?;
    rows.into_iter()
        .map(|row| {
            Ok(Delivery {
                attempts: all
                    .iter()
                    .filter(|(id, _)| *id == row.id)
                    .map(|(_, a)| a.clone())
                    .collect(),
                status: parse_stored(&row.status)?,
                id: row.id,
                subscription_id: row.subscription_id,
                change_id: row.change_id,
                event_type: row.event_type,
                next_attempt_at: row.next_attempt_at,
                created_at: row.created_at,
                delivered_at: row.delivered_at,
            })
        })
        .collect()
}

pub fn delivery(conn: &mut DbConn, subscription: &str, id: &str) -> Result<Delivery, DomainError> {
    let row = deliveries::table
        .find(id)
        .filter(deliveries::subscription_id.eq(subscription))
        .select(DeliveryRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound("delivery"))?;
    Ok(assemble(conn, vec![row])?.remove(0))
}

/// A page of subscription `id`'s deliveries, newest first, and whether more follow.
pub fn deliveries(
    conn: &mut DbConn,
    id: &str,
    before: Option<&str>,
    limit: usize,
) -> Result<Page<Delivery>, DomainError> {
    find(conn, id)?;
    let query = deliveries::table
        .filter(deliveries::subscription_id.eq(id.to_owned()))
        .order(deliveries::id.desc())
        .select(DeliveryRow::as_select())
        .into_boxed();
    let before = before.map(|before| deliveries::id.lt(before.to_owned()));
    let (rows, next) = load_id_page(conn, query, before, limit, |row: &DeliveryRow| &row.id, Ok)?;
    Ok((assemble(conn, rows)?, next))
}

/// Sends delivery `id` again as soon as it can go (a failed one gets one more attempt).
pub fn retry(conn: &mut DbConn, subscription: &str, id: &str) -> Result<Delivery, DomainError> {
    delivery(conn, subscription, id)?;
    diesel::update(deliveries::table.find(id))
        .set((
            deliveries::status.eq(DeliveryStatus::Pending.as_str()),
            deliveries::next_attempt_at.eq(Some(now())),
            deliveries::leased_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    delivery(conn, subscription, id)
}

/// A delivery a sender has taken, with what sending it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Due {
    pub id: String,
    pub subscription_id: String,
    pub url: String,
    pub change_id: Option<String>,
    pub event_type: String,
    /// Attempts before this one.
    pub attempts: i32,
    /// When this sender's lease on it ends.
    pub leased_until: NaiveDateTime,
}

/// A pending delivery as `claim_due` reads it.
#[derive(Queryable)]
struct PendingRow {
    id: String,
    subscription: String,
    url: String,
    change_id: Option<String>,
    event_type: String,
    attempts: i32,
    next: Option<NaiveDateTime>,
    leased: Option<NaiveDateTime>,
}

impl PendingRow {
    /// Due `at` and not held by another sender's lease.
    fn ready(&self, at: NaiveDateTime) -> bool {
        self.next.is_some_and(|next| next <= at) && self.leased.is_none_or(|until| until < at)
    }

    fn due(self, leased_until: NaiveDateTime) -> Due {
        Due {
            leased_until,
            id: self.id,
            subscription_id: self.subscription,
            url: self.url,
            change_id: self.change_id,
            event_type: self.event_type,
            attempts: self.attempts,
        }
    }
}

/// The first `limit` pending deliveries of `subscription` in feed order, or its pending test
/// deliveries (which have no place in the feed).
fn pending_of(
    conn: &mut DbConn,
    subscription: &str,
    tests: bool,
    limit: usize,
) -> QueryResult<Vec<PendingRow>> {
    use deliveries as d;
    let query = d::table
        .inner_join(subscriptions::table)
        .left_join(change_events::table.on(change_events::id.nullable().eq(d::change_id)))
        .left_join(change_batches::table.on(change_batches::batch.eq(change_events::batch)))
        .filter(d::subscription_id.eq(subscription))
        .filter(d::status.eq(DeliveryStatus::Pending.as_str()))
        .order((
            change_batches::commit_number.asc(),
            change_events::seq.asc(),
            d::created_at.asc(),
        ))
        .select((
            d::id,
            d::subscription_id,
            subscriptions::url,
            d::change_id,
            d::event_type,
            d::attempts,
            d::next_attempt_at,
            d::leased_until,
        ))
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .into_boxed();
    if tests {
        query.filter(d::change_id.is_null()).load(conn)
    } else {
        query.filter(d::change_id.is_not_null()).load(conn)
    }
}

/// Leases `id` until `until` if it is still pending and no other sender holds it `at`: a
/// conditional update, so of several senders exactly one takes it.
fn take(conn: &mut DbConn, id: &str, at: NaiveDateTime, until: NaiveDateTime) -> QueryResult<bool> {
    use deliveries as d;
    let taken = diesel::update(d::table.find(id))
        .filter(d::status.eq(DeliveryStatus::Pending.as_str()))
        .filter(d::leased_until.is_null().or(d::leased_until.lt(at)))
        .set(d::leased_until.eq(Some(until)))
        .execute(conn)?;
    Ok(taken == 1)
}

/// Whether any delivery of an active subscription is due `at`: a read, so that a sender with
/// nothing to do never takes the write lock (SQLite has one writer; an import holds it for
/// seconds).
pub fn any_due(conn: &mut DbConn, at: NaiveDateTime) -> QueryResult<bool> {
    use deliveries as d;
    diesel::select(diesel::dsl::exists(
        d::table
            .inner_join(subscriptions::table)
            .filter(d::status.eq(DeliveryStatus::Pending.as_str()))
            .filter(d::next_attempt_at.le(at))
            .filter(subscriptions::status.eq(SubscriptionStatus::Active.as_str())),
    ))
    .get_result(conn)
}

/// Takes up to `limit` deliveries that may be sent `at`, shared among the active
/// subscriptions with pending ones: for each, its due test deliveries, then its pending
/// deliveries in feed order from the first, as long as they run unbroken (each due and not
/// leased), so a later change never goes before an earlier one. The caller sends each
/// subscription's run in order and stops it at a failure. Each delivery is leased for `LEASE`
/// (`take`); a sender that dies mid-send leaves its run to be taken again when the lease ends.
pub fn claim_due(conn: &mut DbConn, at: NaiveDateTime, limit: usize) -> QueryResult<Vec<Due>> {
    use deliveries as d;
    let waiting: Vec<String> = d::table
        .inner_join(subscriptions::table)
        .filter(d::status.eq(DeliveryStatus::Pending.as_str()))
        .filter(subscriptions::status.eq(SubscriptionStatus::Active.as_str()))
        .select(d::subscription_id)
        .distinct()
        .load(conn)?;
    let share = (limit / waiting.len().max(1)).max(1);
    let until = at + chrono::Duration::from_std(LEASE).unwrap_or_default();
    let mut due = Vec::new();
    for subscription in waiting {
        let room = share.min(limit.saturating_sub(due.len()));
        if room == 0 {
            break;
        }
        let mut taken = 0;
        for test in pending_of(conn, &subscription, true, room)? {
            if test.ready(at) && take(conn, &test.id, at, until)? {
                due.push(test.due(until));
                taken += 1;
            }
        }
        for delivery in pending_of(conn, &subscription, false, room - taken)? {
            if !delivery.ready(at) || !take(conn, &delivery.id, at, until)? {
                break;
            }
            due.push(delivery.due(until));
        }
    }
    Ok(due)
}

/// Gives back the lease on `due` unsent, so it waits only for the deliveries before it. A
/// lease that has passed to another sender since is left alone.
pub fn release(conn: &mut DbConn, due: &Due) -> QueryResult<()> {
    diesel::update(deliveries::table.find(&due.id))
        .filter(deliveries::leased_until.eq(due.leased_until))
        .set(deliveries::leased_until.eq(None::<NaiveDateTime>))
        .execute(conn)?;
    Ok(())
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status_code: Option<u16>,
    pub duration_ms: u32,
    pub error: Option<String>,
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        self.status_code
            .is_some_and(|code| (200..300).contains(&code))
    }
}

/// Ends `due` without sending it, for `reason` (its change is past retention, or may not be
/// told to integrations): failed, with an attempt that says why. The subscription is not
/// counted as failing: its receiver did nothing wrong.
pub fn give_up(conn: &mut DbConn, due: &Due, reason: &str, at: NaiveDateTime) -> QueryResult<()> {
    diesel::insert_into(attempts::table)
        .values((
            attempts::delivery_id.eq(&due.id),
            attempts::attempt.eq(due.attempts + 1),
            attempts::attempted_at.eq(at),
            attempts::status_code.eq(None::<i32>),
            attempts::duration_ms.eq(0),
            attempts::error.eq(Some(reason)),
        ))
        .execute(conn)?;
    diesel::update(deliveries::table.find(&due.id))
        .set((
            deliveries::status.eq(DeliveryStatus::Failed.as_str()),
            deliveries::attempts.eq(due.attempts + 1),
            deliveries::next_attempt_at.eq(None::<NaiveDateTime>),
            deliveries::leased_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records attempt of `due` made `at`: delivered on a 2xx; otherwise the next retry, or
/// failed when retries are spent. A subscription failing for `DISABLE_AFTER_FAILING_DAYS`
/// is disabled: `Ok(true)` then, for the caller to audit.
pub fn record_attempt(
    conn: &mut DbConn,
    due: &Due,
    outcome: &Outcome,
    at: NaiveDateTime,
) -> Result<bool, DomainError> {
    let attempt = due.attempts + 1;
    diesel::insert_into(attempts::table)
        .values((
            attempts::delivery_id.eq(&due.id),
            attempts::attempt.eq(attempt),
            attempts::attempted_at.eq(at),
            attempts::status_code.eq(outcome.status_code.map(i32::from)),
            attempts::duration_ms.eq(outcome.duration_ms.min(i32::MAX as u32) as i32),
            attempts::error.eq(&outcome.error),
        ))
        .execute(conn)?;
    if outcome.succeeded() {
        diesel::update(deliveries::table.find(&due.id))
            .set((
                deliveries::status.eq(DeliveryStatus::Delivered.as_str()),
                deliveries::attempts.eq(attempt),
                deliveries::next_attempt_at.eq(None::<NaiveDateTime>),
                deliveries::leased_until.eq(None::<NaiveDateTime>),
                deliveries::delivered_at.eq(Some(at)),
            ))
            .execute(conn)?;
        diesel::update(subscriptions::table.find(&due.subscription_id))
            .set(subscriptions::failing_since.eq(None::<NaiveDateTime>))
            .execute(conn)?;
        return Ok(false);
    }
    let next = next_attempt(attempt as usize, at);
    let status = match next {
        Some(_) => DeliveryStatus::Pending,
        None => DeliveryStatus::Failed,
    };
    diesel::update(deliveries::table.find(&due.id))
        .set((
            deliveries::status.eq(status.as_str()),
            deliveries::attempts.eq(attempt),
            deliveries::next_attempt_at.eq(next),
            deliveries::leased_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    let failing_since: Option<NaiveDateTime> = subscriptions::table
        .find(&due.subscription_id)
        .select(subscriptions::failing_since)
        .first(conn)?;
    let since = failing_since.unwrap_or(at);
    if failing_since.is_none() {
        diesel::update(subscriptions::table.find(&due.subscription_id))
            .set(subscriptions::failing_since.eq(Some(at)))
            .execute(conn)?;
    }
    if at - since >= chrono::Duration::days(DISABLE_AFTER_FAILING_DAYS) {
        let disabled = diesel::update(subscriptions::table.find(&due.subscription_id))
            .filter(subscriptions::status.eq(SubscriptionStatus::Active.as_str()))
            .set(subscriptions::status.eq(SubscriptionStatus::Disabled.as_str()))
            .execute(conn)?;
        return Ok(disabled == 1);
    }
    Ok(false)
}

/// Removes deliveries that ended (delivered or failed) before `cutoff`, with their attempts
/// (the foreign key cascades): they keep the change feed's retention, so the outbox does not
/// grow for ever.
pub fn prune(conn: &mut DbConn, cutoff: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(
        deliveries::table
            .filter(deliveries::status.ne(DeliveryStatus::Pending.as_str()))
            .filter(deliveries::created_at.lt(cutoff)),
    )
    .execute(conn)
}
