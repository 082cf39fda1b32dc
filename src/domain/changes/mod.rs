//! The change feed: every committed change to CRM data, in commit order, each once, for
//! integrations to follow (`GET /api/v1/changes`).
//!
//! A change is recorded in the transaction that makes it: the audit trail derives one from
//! each audit event that changes what a client can read (`of_event`), and membership status
//! moves are announced by the action or the calendar sweep that makes them (`calendar`).
//! A write's changes share a batch; just before the write commits, `store::seal` gives the
//! batch the next commit number under a row lock held to the commit, so numbers are handed
//! out in commit order and a reader never sees a number while a smaller one can still commit.
//! A change's position is its batch's commit number and its own insert order.
//!
//! The feed stores which record changed, not a copy of it: a reader is shown the record as
//! its own `GET` shows that reader now, so access rules and erasure apply to the feed as to
//! every other read, and no personal data outlives its record here.

pub mod calendar;
pub mod store;

use std::fmt;

use chrono::NaiveDateTime;
use serde_json::{Map, Value};

/// The kinds of record the feed speaks of (`entity_type` of a change).
pub mod entity {
    pub const ORGANISATION: &str = "organisation";
    /// An organisation's membership; its id is the organisation's.
    pub const MEMBERSHIP: &str = "membership";
    pub const CONTACT: &str = "contact";
    pub const EXPERT_GROUP: &str = "expert_group";
    /// A seat in an expert group; its parent is the group.
    pub const GROUP_MEMBER: &str = "expert_group_member";
    pub const CONSULTATION: &str = "consultation";
    /// A response to a consultation; its parent is the consultation.
    pub const RESPONSE: &str = "consultation_response";
    pub const COMMUNITY: &str = "community";
    pub const EXPERTISE_AREA: &str = "expertise_area";
}

/// Every event type the feed carries, for `?types=` and the documentation.
pub const TYPES: &[&str] = &[
    "organisation.created",
    "organisation.updated",
    "organisation.deleted",
    "organisation.merged",
    "membership.changed",
    "membership.status_changed",
    "contact.created",
    "contact.updated",
    "contact.deleted",
    "contact.merged",
    "contact.erased",
    "expert_group.created",
    "expert_group.updated",
    "expert_group.deleted",
    "expert_group.member.added",
    "expert_group.member.updated",
    "consultation.created",
    "consultation.updated",
    "consultation.deleted",
    "consultation.invited",
    "consultation.response.created",
    "consultation.response.updated",
    "consultation.response.deleted",
    "taxonomy.created",
    "taxonomy.updated",
];

/// The prefixes `?types=` accepts: every family of types, ending in a dot.
pub const TYPE_PREFIXES: &[&str] = &[
    "organisation.",
    "membership.",
    "contact.",
    "expert_group.",
    "expert_group.member.",
    "consultation.",
    "consultation.response.",
    "taxonomy.",
];

/// Every name a filter of event types takes: the types, then the prefixes.
pub fn type_names() -> Vec<&'static str> {
    TYPES.iter().chain(TYPE_PREFIXES).copied().collect()
}

/// Whether `name` is an event type or a prefix of types (`membership.`).
pub fn is_type_name(name: &str) -> bool {
    TYPES.contains(&name) || TYPE_PREFIXES.contains(&name)
}

/// One change to put in the feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub event_type: &'static str,
    pub entity_type: &'static str,
    pub entity_id: String,
    /// The record a sub-record belongs to (a seat's group, a response's consultation).
    pub parent_id: Option<String>,
    /// What the type alone does not say (a status move's `from`, `to` and day; a merge's
    /// `merged_into`). Never personal data: it outlives the record.
    pub detail: Map<String, Value>,
}

impl Change {
    pub fn new(event_type: &'static str, entity_type: &'static str, entity_id: &str) -> Self {
        Self {
            event_type,
            entity_type,
            entity_id: entity_id.to_owned(),
            parent_id: None,
            detail: Map::new(),
        }
    }

    pub fn detail(mut self, field: &str, value: Value) -> Self {
        self.detail.insert(field.to_owned(), value);
        self
    }
}

/// The feed's change for an audit event, if it changes what clients can read: an action
/// (`create`, `membership.renew`, …) on an entity (`organisation`, …), with the sub-record
/// it is about when it is filed on its parent (`record`) and the survivor of a merge.
pub fn of_event(
    entity_type: &str,
    action: &str,
    entity_id: &str,
    record: Option<&str>,
    merged_into: Option<&str>,
) -> Option<Change> {
    use entity::*;
    // Sub-records: the change is about the seat or response, under its parent.
    let sub = |event_type, sub_entity| {
        record.map(|id| Change {
            parent_id: Some(entity_id.to_owned()),
            ..Change::new(event_type, sub_entity, id)
        })
    };
    let (family, entity): (&str, &'static str) = match entity_type {
        ORGANISATION => ("organisation", ORGANISATION),
        CONTACT => ("contact", CONTACT),
        EXPERT_GROUP => ("expert_group", EXPERT_GROUP),
        CONSULTATION => ("consultation", CONSULTATION),
        COMMUNITY => ("taxonomy", COMMUNITY),
        EXPERTISE_AREA => ("taxonomy", EXPERTISE_AREA),
        _ => return None,
    };
    let verb = match (entity, action) {
        (ORGANISATION, a) if a.starts_with("membership.") => {
            return Some(Change::new("membership.changed", MEMBERSHIP, entity_id));
        }
        (EXPERT_GROUP, "member.create") => return sub("expert_group.member.added", GROUP_MEMBER),
        (EXPERT_GROUP, "member.update") => {
            return sub("expert_group.member.updated", GROUP_MEMBER);
        }
        (CONSULTATION, "response.create") => {
            return sub("consultation.response.created", RESPONSE);
        }
        (CONSULTATION, "response.update") => {
            return sub("consultation.response.updated", RESPONSE);
        }
        (CONSULTATION, "merge.remove_response") => {
            return sub("consultation.response.deleted", RESPONSE);
        }
        (CONSULTATION, "invitation.create") => "invited",
        (CONTACT, "erase") => "erased",
        (
            CONTACT,
            "affiliation.create" | "affiliation.update" | "affiliation.delete" | "consent.record",
        ) => "updated",
        (_, "create" | "import.create") => "created",
        (_, "update" | "import.update") => "updated",
        (_, "delete") => "deleted",
        (_, "merge") if merged_into.is_some() => "merged",
        (_, "merge") => "updated",
        _ => return None,
    };
    let event_type = TYPES.iter().copied().find(|t| {
        t.strip_prefix(family)
            .and_then(|rest| rest.strip_prefix('.'))
            == Some(verb)
    })?;
    let change = Change::new(event_type, entity, entity_id);
    Some(match merged_into {
        Some(survivor) if verb == "merged" => change.detail("merged_into", survivor.into()),
        _ => change,
    })
}

/// A place in the feed: after change `seq` of commit `commit`; `seq` is `i64::MAX` for
/// "after the whole commit". Clients see it as an opaque string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub commit: i64,
    pub seq: i64,
}

impl Position {
    /// After every change of `commit` (0: the start of the feed).
    pub const fn end_of(commit: i64) -> Self {
        Self {
            commit,
            seq: i64::MAX,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.seq {
            i64::MAX => write!(f, "{}", self.commit),
            seq => write!(f, "{}.{seq}", self.commit),
        }
    }
}

impl std::str::FromStr for Position {
    type Err = ();

    /// `"17"` or `"17.4"`, as `Display` writes them; nothing else.
    fn from_str(text: &str) -> Result<Self, ()> {
        let number = |part: &str| -> Result<i64, ()> {
            match part.bytes().all(|b| b.is_ascii_digit()) && !part.is_empty() && part.len() < 19 {
                true => part.parse().map_err(|_| ()),
                false => Err(()),
            }
        };
        match text.split_once('.') {
            None => Ok(Self::end_of(number(text)?)),
            Some((commit, seq)) => Ok(Self {
                commit: number(commit)?,
                seq: number(seq)?,
            }),
        }
    }
}

/// A change as the feed holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredChange {
    pub position: Position,
    pub id: String,
    pub event_type: String,
    pub occurred_at: NaiveDateTime,
    pub entity_type: String,
    pub entity_id: String,
    pub parent_id: Option<String>,
    pub detail: Map<String, Value>,
}

/// The changes of one write, kept until it commits them: appended as the write goes (with
/// its audit events) and given their commit number by `seal`, the write's last statement.
#[derive(Debug, Default)]
pub struct Pending {
    batch: Option<String>,
    changes: Vec<Change>,
    appended: bool,
}

impl Pending {
    pub fn push(&mut self, change: Change) {
        self.changes.push(change);
    }

    /// Writes the changes pushed so far, as happening `at`.
    pub fn append(
        &mut self,
        conn: &mut crate::db::DbConn,
        at: NaiveDateTime,
    ) -> diesel::QueryResult<()> {
        if self.changes.is_empty() {
            return Ok(());
        }
        let batch = self.batch.get_or_insert_with(crate::domain::new_id);
        store::append(conn, batch, at, &self.changes)?;
        self.changes.clear();
        self.appended = true;
        Ok(())
    }

    /// Appends what is left and gives the write's changes their commit number. Run last in
    /// the transaction: the number's lock is held until the commit.
    pub fn seal(
        &mut self,
        conn: &mut crate::db::DbConn,
        at: NaiveDateTime,
    ) -> diesel::QueryResult<()> {
        self.append(conn, at)?;
        match (&self.batch, self.appended) {
            (Some(batch), true) => store::seal(conn, batch),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_read_back_as_written_and_refuse_anything_else() {
        for text in ["0", "17", "17.4", "9000000000.12"] {
            let position: Position = text.parse().unwrap();
            assert_eq!(position.to_string(), text);
        }
        for text in [
            "",
            ".",
            "1.",
            ".1",
            "-1",
            "1.-2",
            "1.2.3",
            "a",
            "1 ",
            "99999999999999999999",
        ] {
            assert!(text.parse::<Position>().is_err(), "{text:?}");
        }
        assert!(Position::end_of(3) > "3.99".parse().unwrap());
        assert!(Position::end_of(3) < "4.1".parse().unwrap());
    }

    #[test]
    fn every_write_that_clients_can_read_has_a_type_and_other_events_have_none() {
        let of = |entity, action| of_event(entity, action, "x", Some("r"), None);
        assert_eq!(
            of("organisation", "create").unwrap().event_type,
            "organisation.created"
        );
        assert_eq!(
            of("organisation", "import.update").unwrap().event_type,
            "organisation.updated"
        );
        let membership = of("organisation", "membership.renew").unwrap();
        assert_eq!(
            (membership.event_type, membership.entity_type),
            ("membership.changed", "membership")
        );
        let seat = of("expert_group", "member.create").unwrap();
        assert_eq!(
            (
                seat.event_type,
                seat.entity_type,
                seat.entity_id.as_str(),
                seat.parent_id.as_deref()
            ),
            (
                "expert_group.member.added",
                "expert_group_member",
                "r",
                Some("x")
            )
        );
        assert_eq!(
            of("community", "update").unwrap().event_type,
            "taxonomy.updated"
        );
        assert_eq!(
            of("contact", "consent.record").unwrap().event_type,
            "contact.updated"
        );
        let merged = of_event("organisation", "merge", "x", None, Some("s")).unwrap();
        assert_eq!(merged.event_type, "organisation.merged");
        assert_eq!(merged.detail["merged_into"], "s");
        assert_eq!(
            of("organisation", "merge").unwrap().event_type,
            "organisation.updated"
        );
        for (entity, action) in [
            ("contact", "export"),
            ("organisation", "duplicate.dismiss"),
            ("user", "create"),
            ("api_key", "revoke"),
            ("benchmark", "update"),
            ("session", "sign_in"),
        ] {
            assert_eq!(of(entity, action), None, "{entity} {action}");
        }
    }
}
