//! Writing, reading and (for erasure) scrubbing audit events.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::Value;

use super::{ActorType, Context, Event, StoredEvent};
use crate::db::DbConn;
use crate::db::schema::audit_events;
use crate::domain::{DomainError, Page, new_id, now, parse_stored};

/// What a scrubbed value reads as after an erasure.
pub const ERASED: &str = "[erased]";

/// Writes `events` with `context`; all carry the same time, as they are one change.
pub fn insert(conn: &mut DbConn, context: &Context, events: &[Event]) -> Result<(), DomainError> {
    Ok(insert_at(conn, context, events, now())?)
}

/// `insert` with the time the events happened, for events written after the fact. A few
/// hundred events to a statement: an import writes thousands.
pub fn insert_at(
    conn: &mut DbConn,
    context: &Context,
    events: &[Event],
    at: NaiveDateTime,
) -> QueryResult<()> {
    for chunk in events.chunks(EVENTS_PER_STATEMENT) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|event| {
                (
                    audit_events::id.eq(new_id()),
                    audit_events::occurred_at.eq(at),
                    audit_events::actor_type.eq(context.actor_type.as_str()),
                    audit_events::actor_id.eq(&context.actor_id),
                    audit_events::action.eq(&event.action),
                    audit_events::entity_type.eq(event.entity_type),
                    audit_events::entity_id.eq(&event.entity_id),
                    audit_events::contact_id.eq(&event.contact_id),
                    audit_events::changes.eq(Value::Object(event.changes.clone()).to_string()),
                    audit_events::request_id.eq(&context.request_id),
                )
            })
            .collect();
        // Multi-row inserts do not compile through the connection enum.
        crate::with_backend!(&mut *conn, |c| diesel::insert_into(audit_events::table)
            .values(&rows)
            .execute(c))?;
    }
    Ok(())
}

/// Events to an insert: 10 values each, well within both backends' limits.
const EVENTS_PER_STATEMENT: usize = 500;

/// Which events a list shows. Every field narrows; repeated values within one are OR.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub entity_type: Vec<String>,
    pub entity_id: Option<String>,
    pub actor_type: Vec<ActorType>,
    pub actor_id: Option<String>,
    pub action: Vec<String>,
    /// The events one request wrote.
    pub request_id: Option<String>,
    /// Events at or after this time.
    pub since: Option<NaiveDateTime>,
    /// Events before this time.
    pub until: Option<NaiveDateTime>,
}

/// The record whose history is asked for: its own events, and for a contact also the events
/// about them on other records (group memberships, responses).
#[derive(Debug, Clone)]
pub struct Record {
    pub entity_type: &'static str,
    pub entity_id: String,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
struct Row {
    id: String,
    occurred_at: NaiveDateTime,
    actor_type: String,
    actor_id: Option<String>,
    action: String,
    entity_type: String,
    entity_id: Option<String>,
    contact_id: Option<String>,
    changes: String,
    request_id: Option<String>,
}

impl Row {
    fn into_event(self) -> Result<StoredEvent, DomainError> {
        Ok(StoredEvent {
            actor_type: parse_stored(&self.actor_type)?,
            changes: serde_json::from_str(&self.changes).map_err(|e| {
                DomainError::Database(diesel::result::Error::DeserializationError(e.into()))
            })?,
            id: self.id,
            occurred_at: self.occurred_at,
            actor_id: self.actor_id,
            action: self.action,
            entity_type: self.entity_type,
            entity_id: self.entity_id,
            contact_id: self.contact_id,
            request_id: self.request_id,
        })
    }
}

type Boxed<'a> = audit_events::BoxedQuery<'a, crate::db::Backend>;

/// A page of `query`, newest first (ids are time-ordered), after the id `before`.
fn page(
    conn: &mut DbConn,
    query: Boxed<'_>,
    before: Option<&str>,
    limit: usize,
) -> Result<Page<StoredEvent>, DomainError> {
    let query = query
        .order(audit_events::id.desc())
        .select(Row::as_select());
    let before = before.map(|id| audit_events::id.lt(id.to_owned()));
    crate::domain::load_id_page(conn, query, before, limit, |row| &row.id, Row::into_event)
}

pub fn list(
    conn: &mut DbConn,
    filter: &Filter,
    before: Option<&str>,
    limit: usize,
) -> Result<Page<StoredEvent>, DomainError> {
    page(conn, filtered(filter), before, limit)
}

/// How many events `filter` matches (`include_total`).
pub fn count(conn: &mut DbConn, filter: &Filter) -> Result<i64, DomainError> {
    Ok(filtered(filter).count().get_result(conn)?)
}

fn filtered(filter: &Filter) -> Boxed<'static> {
    let mut query = audit_events::table.into_boxed();
    if !filter.entity_type.is_empty() {
        query = query.filter(audit_events::entity_type.eq_any(filter.entity_type.clone()));
    }
    if let Some(id) = &filter.entity_id {
        query = query.filter(audit_events::entity_id.eq(id.clone()));
    }
    if !filter.actor_type.is_empty() {
        let types: Vec<&str> = filter.actor_type.iter().map(|t| t.as_str()).collect();
        query = query.filter(audit_events::actor_type.eq_any(types));
    }
    if let Some(id) = &filter.actor_id {
        query = query.filter(audit_events::actor_id.eq(id.clone()));
    }
    if !filter.action.is_empty() {
        query = query.filter(audit_events::action.eq_any(filter.action.clone()));
    }
    if let Some(id) = &filter.request_id {
        query = query.filter(audit_events::request_id.eq(id.clone()));
    }
    if let Some(since) = filter.since {
        query = query.filter(audit_events::occurred_at.ge(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(audit_events::occurred_at.lt(until));
    }
    query
}

/// The history of one record, newest first.
pub fn history(
    conn: &mut DbConn,
    record: &Record,
    before: Option<&str>,
    limit: usize,
) -> Result<Page<StoredEvent>, DomainError> {
    // A contact's history is every event about them, as their export holds.
    let query = if record.entity_type == super::entity::CONTACT {
        about(&record.entity_id)
    } else {
        audit_events::table
            .filter(audit_events::entity_type.eq(record.entity_type))
            .filter(audit_events::entity_id.eq(record.entity_id.clone()))
            .into_boxed()
    };
    page(conn, query, before, limit)
}

/// Every event about a person, oldest first (for their subject access export).
pub fn about_contact(conn: &mut DbConn, contact_id: &str) -> Result<Vec<StoredEvent>, DomainError> {
    about(contact_id)
        .order(audit_events::id.asc())
        .select(Row::as_select())
        .load::<Row>(conn)?
        .into_iter()
        .map(Row::into_event)
        .collect()
}

/// The events about a person: on their own record, and those that name them elsewhere.
fn about(contact_id: &str) -> Boxed<'static> {
    audit_events::table
        .filter(
            audit_events::contact_id
                .eq(contact_id.to_owned())
                .or(audit_events::entity_type
                    .eq(super::entity::CONTACT)
                    .and(audit_events::entity_id.eq(contact_id.to_owned()))),
        )
        .into_boxed()
}

/// Replaces every value in the events about a person with `ERASED`, keeping what was done
/// and which fields changed, so the trail stays whole without holding what was erased.
pub fn scrub_contact(conn: &mut DbConn, contact_id: &str) -> Result<usize, DomainError> {
    let rows: Vec<(String, String)> = about(contact_id)
        .select((audit_events::id, audit_events::changes))
        .load(conn)?;
    for (id, changes) in &rows {
        let scrubbed = scrub(serde_json::from_str(changes).unwrap_or(Value::Null));
        diesel::update(audit_events::table.find(id))
            .set(audit_events::changes.eq(scrubbed.to_string()))
            .execute(conn)?;
    }
    Ok(rows.len())
}

/// `changes` with every non-null value below the field names replaced by `ERASED`.
fn scrub(changes: Value) -> Value {
    fn erase(value: Value) -> Value {
        match value {
            Value::Null => Value::Null,
            _ => Value::String(ERASED.to_owned()),
        }
    }
    match changes {
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(field, pair)| {
                    let pair = match pair {
                        Value::Object(sides) => Value::Object(
                            sides
                                .into_iter()
                                .map(|(side, v)| (side, erase(v)))
                                .collect(),
                        ),
                        other => erase(other),
                    };
                    (field, pair)
                })
                .collect(),
        ),
        _ => Value::Object(Default::default()),
    }
}
