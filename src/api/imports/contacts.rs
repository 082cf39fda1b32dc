//! Contact rows: the people columns of the contact API, read into its own create and update
//! requests.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use serde_json::Value;

use super::table::Table;
use super::{Importer, Object, RowError, request};
use crate::api::contacts::{ContactResponse, CreateContactRequest, UpdateContactRequest};
use crate::db::DbConn;
use crate::domain::audit::{entity, snapshot};
use crate::domain::contacts::{Contact, ContactProfile, email_match_key, store};
use crate::domain::imports::{self, MatchRule};
use crate::domain::{DomainError, FieldError};

pub struct Contacts;

const FIELDS: &[&str] = &[
    "given_name",
    "family_name",
    "email",
    "phone",
    "job_title",
    "pronouns",
];

/// The row as a request body: creating, an empty cell is left out; updating, it clears the
/// field (names left empty are left as they are).
fn object(table: &Table, cells: &[String], creating: bool) -> Object {
    let mut object = Object::new();
    for column in FIELDS {
        if !table.has(column) {
            continue;
        }
        let cell = table.cell(cells, column).unwrap_or_default();
        let value = match (cell.is_empty(), creating || column.ends_with("_name")) {
            (true, true) => continue,
            (true, false) => Value::Null,
            (false, _) => Value::String(cell.to_owned()),
        };
        object.insert((*column).to_owned(), value);
    }
    object
}

impl Importer for Contacts {
    type Record = Contact;
    type Profile = ContactProfile;
    /// Contacts are checked against nothing but each other.
    type Vocabulary = ();

    const ENTITY: &'static str = entity::CONTACT;
    /// The list's own CSV columns (its read-only ones are ignored), and `external_id`.
    const LIST_COLUMNS: &'static [&'static str] = crate::api::contacts::CSV_HEADER;
    const DEFUSED: &'static [&'static str] = crate::api::contacts::CSV_DEFUSED;
    const RULES: &'static [(&'static str, MatchRule)] = &[("email", MatchRule::Email)];
    const UNIQUE: &'static [MatchRule] = &[MatchRule::Email];

    fn key(rule: MatchRule, value: &str) -> String {
        match rule {
            MatchRule::Email => email_match_key(value),
            _ => value.to_owned(),
        }
    }

    fn keys(profile: &ContactProfile) -> Vec<(MatchRule, String)> {
        profile
            .email
            .iter()
            .map(|email| (MatchRule::Email, email_match_key(email)))
            .collect()
    }

    fn holders(
        conn: &mut DbConn,
        rule: MatchRule,
        keys: &[String],
    ) -> Result<Vec<(String, String)>, DomainError> {
        imports::contacts_by(conn, rule, keys)
    }

    fn load(conn: &mut DbConn, ids: &[String]) -> Result<HashMap<String, Contact>, DomainError> {
        store::lock_many(conn, ids)?;
        let mut records = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(imports::PER_STATEMENT) {
            records.extend(store::find_many(conn, chunk)?);
        }
        Ok(records)
    }

    fn vocabulary(_: &mut DbConn) -> Result<(), DomainError> {
        Ok(())
    }

    fn created(table: &Table, cells: &[String], _: &()) -> Result<ContactProfile, RowError> {
        let body: CreateContactRequest = request(object(table, cells, true))?;
        Ok(body.into_profile()?)
    }

    fn updated(
        table: &Table,
        cells: &[String],
        current: &ContactProfile,
        _: &(),
    ) -> Result<ContactProfile, RowError> {
        let patch: UpdateContactRequest = request(object(table, cells, false))?;
        Ok(patch.apply(current)?)
    }

    fn clash(_: MatchRule, _: &str) -> FieldError {
        store::email_clash()
    }

    fn profile(record: &Contact) -> &ContactProfile {
        &record.profile
    }

    fn new_record(id: String, profile: ContactProfile, at: NaiveDateTime) -> Contact {
        Contact {
            id,
            profile,
            affiliations: Vec::new(),
            consents: Vec::new(),
            version: 1,
            created_at: at,
            updated_at: at,
        }
    }

    fn revised(record: &Contact, profile: ContactProfile, at: NaiveDateTime) -> Contact {
        Contact {
            profile,
            version: record.version + 1,
            updated_at: at,
            ..record.clone()
        }
    }

    fn shown(record: &Contact) -> Value {
        snapshot(&ContactResponse::from(record.clone()))
    }

    fn write(
        conn: &mut DbConn,
        created: &[&Contact],
        updated: &[(&Contact, &Contact)],
    ) -> Result<(), DomainError> {
        store::write_imported(conn, created, updated)
    }
}
