//! Contact rows: the people columns of the contact API, read into its own create and update
//! requests.

use serde_json::Value;

use super::table::Table;
use super::{Importer, Object, RowError, request};
use crate::api::contacts::{ContactResponse, CreateContactRequest, UpdateContactRequest};
use crate::db::DbConn;
use crate::domain::audit::{entity, snapshot};
use crate::domain::contacts::store;
use crate::domain::imports::{self, MatchRule};
use crate::domain::{DomainError, VersionCheck};

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

fn shown(contact: crate::domain::contacts::Contact) -> Value {
    snapshot(&ContactResponse::from(contact))
}

impl Importer for Contacts {
    const ENTITY: &'static str = entity::CONTACT;
    /// The list's own CSV columns (its read-only ones are ignored), and `external_id`.
    const LIST_COLUMNS: &'static [&'static str] = crate::api::contacts::CSV_HEADER;
    const DEFUSED: &'static [&'static str] = crate::api::contacts::CSV_DEFUSED;

    fn is_live(conn: &mut DbConn, id: &str) -> Result<bool, DomainError> {
        Ok(imports::contact(conn, MatchRule::Id, id)?.is_some())
    }

    fn find(
        conn: &mut DbConn,
        table: &Table,
        cells: &[String],
    ) -> Result<Option<(String, MatchRule)>, DomainError> {
        let rules = [("email", MatchRule::Email)];
        super::first_match(conn, table, cells, &rules, imports::contact)
    }

    fn create(
        conn: &mut DbConn,
        table: &Table,
        cells: &[String],
    ) -> Result<(String, Value), RowError> {
        let body: CreateContactRequest = request(object(table, cells, true))?;
        let created = store::create(conn, &body.into_profile()?)?;
        Ok((created.id.clone(), shown(created)))
    }

    fn update(
        conn: &mut DbConn,
        table: &Table,
        cells: &[String],
        id: &str,
    ) -> Result<(Value, Value), RowError> {
        let patch: UpdateContactRequest = request(object(table, cells, false))?;
        let before = store::find(conn, id)?;
        let after = store::update(conn, id, &VersionCheck::Any, |current| patch.apply(current))?;
        Ok((shown(before), shown(after)))
    }
}
