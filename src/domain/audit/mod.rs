//! The audit trail: who changed what, when, and through which request. Events are written
//! by `commit` in the same transaction as the change they describe, so a change that fails
//! leaves no event and a change cannot commit without one; a read's events by `record_read`.

pub mod store;

use chrono::NaiveDateTime;
use serde_json::{Map, Value};

use crate::domain::changes;

crate::domain::text_enum! {
    /// Who made a change: a signed-in user, an integration's API key, nobody signed in
    /// (a failed sign-in), or the service itself (start-up, the operator's shell).
    pub enum ActorType {
        User => "user",
        ApiKey => "api_key",
        Anonymous => "anonymous",
        System => "system",
    }
}

/// The `entity_type` of each kind of record (sub-records are events on their parent).
pub mod entity {
    pub const API_KEY: &str = "api_key";
    pub const BENCHMARK: &str = "benchmark";
    pub const COMMUNITY: &str = "community";
    pub const CONSULTATION: &str = "consultation";
    pub const CONTACT: &str = "contact";
    pub const EXPERT_GROUP: &str = "expert_group";
    pub const EXPERTISE_AREA: &str = "expertise_area";
    pub const ORGANISATION: &str = "organisation";
    pub const REPORT_SNAPSHOT: &str = "report_snapshot";
    pub const SESSION: &str = "session";
    pub const TARGET: &str = "target";
    pub const USER: &str = "user";
    pub const WEBHOOK: &str = "webhook";
    /// Every kind, for the list filter.
    pub const ALL: &[&str] = &[
        API_KEY,
        BENCHMARK,
        COMMUNITY,
        CONSULTATION,
        CONTACT,
        EXPERT_GROUP,
        EXPERTISE_AREA,
        ORGANISATION,
        REPORT_SNAPSHOT,
        SESSION,
        TARGET,
        USER,
        WEBHOOK,
    ];
}

/// The caller and request behind a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub actor_type: ActorType,
    pub actor_id: Option<String>,
    pub request_id: Option<String>,
}

impl Context {
    pub fn system() -> Self {
        Self {
            actor_type: ActorType::System,
            actor_id: None,
            request_id: None,
        }
    }
}

/// Fields that are never written into an event, whatever record they come from.
const SECRET_FIELDS: &[&str] = &[
    "password",
    "password_hash",
    "new_password",
    "current_password",
    "secret",
    // A new API key's secret is sent once as `key`.
    "key",
    "key_hash",
    "token",
    "token_hash",
    "access_token",
    "refresh_token",
];

/// Fields whose change every update makes, and which the event's own time already says.
const BOOKKEEPING_FIELDS: &[&str] = &["created_at", "updated_at"];

/// One change: an action on an entity, with the fields it changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub action: String,
    pub entity_type: &'static str,
    pub entity_id: Option<String>,
    /// The person the event is about, if any (subject access, erasure).
    pub contact_id: Option<String>,
    /// The sub-record the event is about when it is filed on its parent (a group seat, a
    /// consultation response): the change feed speaks of that record.
    pub record_id: Option<String>,
    /// field → {"before": …, "after": …}.
    pub changes: Map<String, Value>,
}

impl Event {
    pub fn new(action: impl Into<String>, entity_type: &'static str, entity_id: &str) -> Self {
        Self {
            action: action.into(),
            entity_type,
            entity_id: Some(entity_id.to_owned()),
            contact_id: None,
            record_id: None,
            changes: Map::new(),
        }
    }

    /// An event about no one record (a list exported, a sign-in attempt on no account).
    pub fn unnamed(action: impl Into<String>, entity_type: &'static str) -> Self {
        Self {
            entity_id: None,
            ..Self::new(action, entity_type, "")
        }
    }

    /// A new record, every field as its first value.
    pub fn created(entity_type: &'static str, id: &str, after: &impl serde::Serialize) -> Self {
        Self::new("create", entity_type, id).changes(&Value::Null, &snapshot(after))
    }

    /// A changed record, the fields that changed.
    pub fn updated(
        entity_type: &'static str,
        id: &str,
        before: &impl serde::Serialize,
        after: &impl serde::Serialize,
    ) -> Self {
        Self::new("update", entity_type, id).changes(&snapshot(before), &snapshot(after))
    }

    /// A record deleted for good, every field with its last value.
    pub fn removed(entity_type: &'static str, id: &str, before: &impl serde::Serialize) -> Self {
        Self::new("delete", entity_type, id).changes(&snapshot(before), &Value::Null)
    }

    /// A record soft-deleted: it stays as a tombstone.
    pub fn soft_deleted(entity_type: &'static str, id: &str) -> Self {
        Self::new("delete", entity_type, id).detail(
            "deleted",
            Value::Bool(false),
            Value::Bool(true),
        )
    }

    /// The fields that differ between `before` and `after` (the JSON form of a record, or
    /// null when it did not exist before or does not after), secrets left out.
    pub fn changes(mut self, before: &Value, after: &Value) -> Self {
        self.changes = diff(before, after);
        self
    }

    /// A value that is not a record's field (the period a renewal added, a reason).
    pub fn detail(mut self, field: &str, before: Value, after: Value) -> Self {
        if !SECRET_FIELDS.contains(&field) {
            self.changes.insert(field.to_owned(), change(before, after));
        }
        self
    }

    pub fn about_contact(mut self, contact_id: Option<&str>) -> Self {
        self.contact_id = contact_id.map(str::to_owned);
        self
    }

    /// Files the event on its parent while saying which sub-record it is about.
    pub fn on_record(mut self, record_id: &str) -> Self {
        self.record_id = Some(record_id.to_owned());
        self
    }

    /// The change feed's change for this event, if clients can see what it changed.
    fn feed_change(&self) -> Option<changes::Change> {
        let merged_into = self
            .changes
            .get("merged_into")
            .and_then(|pair| pair.get("after"))
            .and_then(Value::as_str);
        changes::of_event(
            self.entity_type,
            &self.action,
            self.entity_id.as_deref()?,
            self.record_id.as_deref(),
            merged_into,
        )
    }
}

fn change(before: Value, after: Value) -> Value {
    let mut pair = Map::new();
    pair.insert("before".to_owned(), before);
    pair.insert("after".to_owned(), after);
    Value::Object(pair)
}

/// Field-by-field differences of two JSON objects (a non-object counts as no fields).
pub fn diff(before: &Value, after: &Value) -> Map<String, Value> {
    let empty = Map::new();
    let before = before.as_object().unwrap_or(&empty);
    let after = after.as_object().unwrap_or(&empty);
    let mut fields: Vec<&String> = before.keys().chain(after.keys()).collect();
    fields.sort();
    fields.dedup();
    fields
        .into_iter()
        .filter(|field| {
            !SECRET_FIELDS.contains(&field.as_str())
                && !BOOKKEEPING_FIELDS.contains(&field.as_str())
        })
        .filter_map(|field| {
            let old = before.get(field).cloned().unwrap_or(Value::Null);
            let new = after.get(field).cloned().unwrap_or(Value::Null);
            (old != new).then(|| (field.clone(), change(old, new)))
        })
        .collect()
}

/// The JSON form of a record for `Event::changes` (null if it cannot be serialised, which
/// plain data never fails to be).
pub fn snapshot(record: &impl serde::Serialize) -> Value {
    serde_json::to_value(record).unwrap_or(Value::Null)
}

/// The events of one write, kept until the write commits them (or, for a long write such as
/// an import, written in its transaction as it goes: `flush`), with the change feed's
/// changes they make.
#[derive(Debug)]
pub struct Log {
    context: Context,
    events: Vec<Event>,
    feed: changes::Pending,
    /// Events already written by `flush`.
    written: usize,
    /// The time every event of the write carries, fixed at its first flush.
    at: Option<NaiveDateTime>,
}

impl Log {
    pub fn new(context: Context) -> Self {
        Self {
            context,
            events: Vec::new(),
            feed: changes::Pending::default(),
            written: 0,
            at: None,
        }
    }

    /// Records `event`, and its change for the feed when it has one.
    pub fn record(&mut self, event: Event) {
        if let Some(change) = event.feed_change() {
            self.feed.push(change);
        }
        self.events.push(event);
    }

    /// The feed's changes of this write, for those no audit event speaks of (a membership
    /// status the calendar or an action moved: `changes::calendar::announce`).
    pub fn feed(&mut self) -> &mut changes::Pending {
        &mut self.feed
    }

    pub fn context(&self) -> &Context {
        &self.context
    }

    /// Whether the write has recorded no event at all (written or not).
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.written == 0
    }

    /// Events recorded and not yet written.
    pub fn pending(&self) -> usize {
        self.events.len()
    }

    /// Writes the events recorded so far. Run in the write's transaction, they commit or
    /// roll back with it, as if written at the end; meanwhile they are not held in memory.
    pub fn flush(
        &mut self,
        conn: &mut crate::db::DbConn,
    ) -> Result<(), crate::domain::DomainError> {
        let at = *self.at.get_or_insert_with(crate::domain::now);
        store::insert_at(conn, &self.context, &self.events, at)?;
        self.feed.append(conn, at)?;
        self.written += self.events.len();
        self.events.clear();
        Ok(())
    }

    /// Writes what is left and gives the write's feed changes their commit number: the
    /// write's last statement (see `changes::store::seal`).
    fn seal(&mut self, conn: &mut crate::db::DbConn) -> Result<(), crate::domain::DomainError> {
        self.flush(conn)?;
        let at = *self.at.get_or_insert_with(crate::domain::now);
        Ok(self.feed.seal(conn, at)?)
    }
}

/// Runs `work` with a log of `context` and writes the events it recorded: the audit half of
/// every audited write, run inside the write's transaction (`Database::transaction`). A
/// write that recorded no event is refused (and so rolled back): nothing changes unaccounted for.
pub fn commit<T, E>(
    conn: &mut crate::db::DbConn,
    context: Context,
    work: impl FnOnce(&mut crate::db::DbConn, &mut Log) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<crate::domain::DomainError>,
{
    let mut log = Log::new(context);
    let value = work(conn, &mut log)?;
    if log.is_empty() {
        return Err(crate::domain::DomainError::Unrecorded.into());
    }
    log.seal(conn)?;
    Ok(value)
}

/// Records `events` of a read (an export of personal data) without making the read wait for
/// the write lock (`Database::write_soon`); they carry the time of the read.
pub async fn record_read(
    db: &crate::db::Database,
    context: Context,
    events: Vec<Event>,
) -> Result<(), crate::db::DbError> {
    let at = crate::domain::now();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    let what = format!("the audit events {actions:?} of a read");
    db.write_soon(what, move |conn| {
        store::insert_at(conn, &context, &events, at)
    })
    .await
}

/// An event as stored and listed.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub id: String,
    pub occurred_at: NaiveDateTime,
    pub actor_type: ActorType,
    pub actor_id: Option<String>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<String>,
    pub contact_id: Option<String>,
    pub changes: Value,
    pub request_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_diff_holds_changed_fields_only_and_never_secrets_or_bookkeeping() {
        let before = json!({"name": "A", "email": "a@x", "updated_at": "1", "password_hash": "h"});
        let after = json!({"name": "B", "email": "a@x", "updated_at": "2", "password_hash": "k"});
        assert_eq!(
            Value::Object(diff(&before, &after)),
            json!({"name": {"before": "A", "after": "B"}})
        );
    }

    #[test]
    fn a_created_record_shows_every_field_as_after() {
        let after = json!({"name": "A", "secret": "cvk_x"});
        assert_eq!(
            Value::Object(diff(&Value::Null, &after)),
            json!({"name": {"before": null, "after": "A"}})
        );
    }
}
