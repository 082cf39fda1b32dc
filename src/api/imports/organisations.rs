//! Organisation rows: the columns of the organisation list's CSV, read into the API's own
//! create and update requests so that a row passes exactly the rules a `POST` or `PATCH`
//! would.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use serde_json::Value;

use super::table::Table;
use super::{Importer, Object, RowError, request};
use crate::api::membership::MembershipView;
use crate::api::organisations::{
    CreateOrganisationRequest, OrganisationResponse, UpdateOrganisationRequest,
};
use crate::db::DbConn;
use crate::domain::audit::{entity, snapshot};
use crate::domain::imports::{self, MatchRule};
use crate::domain::organisations::{
    self as store, Organisation, OrganisationKind, OrganisationProfile,
};
use crate::domain::taxonomies::ActiveCodes;
use crate::domain::{DomainError, FieldError};

pub struct Organisations;

/// Columns holding one text value.
const TEXT: &[&str] = &[
    "name",
    "charity_number",
    "company_number",
    "website",
    "email",
    "phone",
    "postcode",
    "description",
];
/// Columns holding one value of a fixed list (written as in the API, or as words:
/// `National charity` is `national_charity`).
const CHOICE: &[&str] = &["kind", "size_band", "geography_scope"];

/// `National charity` → `national_charity`.
fn choice(cell: &str) -> String {
    cell.trim().to_lowercase().replace(['-', ' '], "_")
}

/// A `;`-joined cell as its values.
fn values(cell: &str) -> Vec<String> {
    cell.split(';')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A community answer from its two columns, when the file has either.
fn reply(table: &Table, cells: &[String], area: &str) -> Option<Value> {
    let status_column = format!("{area}_reply_status");
    let codes_column = format!("{area}_communities");
    if !table.has(&status_column) && !table.has(&codes_column) {
        return None;
    }
    let status = table.cell(cells, &status_column).unwrap_or_default();
    let codes: Vec<String> = values(table.cell(cells, &codes_column).unwrap_or_default())
        .into_iter()
        .map(|code| code.to_uppercase())
        .collect();
    let status = match (status.is_empty(), codes.is_empty()) {
        (true, true) => return None,
        (true, false) => "answered".to_owned(),
        (false, _) => choice(status),
    };
    let mut answer = serde_json::Map::new();
    answer.insert("reply_status".to_owned(), Value::String(status));
    if !codes.is_empty() || table.has(&codes_column) {
        answer.insert("communities".to_owned(), codes.into());
    }
    Some(Value::Object(answer))
}

/// The row as a request body, and the cells that could not be put in it. Creating, an empty
/// cell is a value left out; updating, it clears the field (a name or kind left empty is
/// left as it is).
fn object(table: &Table, cells: &[String], creating: bool) -> (Object, Vec<FieldError>) {
    let mut object = Object::new();
    let mut problems = Vec::new();
    for column in &table.columns {
        let cell = table.cell(cells, column).unwrap_or_default();
        let value = if TEXT.contains(&column.as_str()) || CHOICE.contains(&column.as_str()) {
            if cell.is_empty() {
                if creating || column == "name" || column == "kind" {
                    continue;
                }
                Value::Null
            } else if CHOICE.contains(&column.as_str()) {
                Value::String(choice(cell))
            } else {
                Value::String(cell.to_owned())
            }
        } else {
            match column.as_str() {
                "regions" => values(cell).iter().map(|v| choice(v)).collect(),
                "expertise" => values(cell).iter().map(|v| v.to_lowercase()).collect(),
                "lived_experience_led" => match choice(cell).as_str() {
                    "" if creating => continue,
                    "" => Value::Null,
                    "true" | "yes" | "y" | "1" => Value::Bool(true),
                    "false" | "no" | "n" | "0" => Value::Bool(false),
                    _ => {
                        problems.push(FieldError::new(
                            column,
                            "invalid",
                            "must be true or false (or yes or no), or empty when unknown",
                        ));
                        continue;
                    }
                },
                // The community answers, ids and the list's read-only columns are not fields.
                _ => continue,
            }
        };
        object.insert(column.clone(), value);
    }
    for area in ["leadership", "mission"] {
        if let Some(answer) = reply(table, cells, area) {
            object.insert(area.to_owned(), answer);
        }
    }
    if creating && !object.contains_key("kind") {
        object.insert(
            "kind".to_owned(),
            Value::String(OrganisationKind::Other.as_str().to_owned()),
        );
    }
    (object, problems)
}

/// The row read as the request `T`, every problem of its cells reported together.
fn read<T: serde::de::DeserializeOwned + validator::Validate>(
    table: &Table,
    cells: &[String],
    creating: bool,
) -> Result<T, RowError> {
    let (object, mut problems) = object(table, cells, creating);
    match request::<T>(object) {
        Ok(body) if problems.is_empty() => Ok(body),
        Ok(_) => Err(RowError::Fields(problems)),
        Err(error) => match RowError::from(error) {
            RowError::Fields(errors) => {
                problems.extend(errors);
                Err(RowError::Fields(problems))
            }
            fatal => Err(fatal),
        },
    }
}

fn shown(organisation: Organisation) -> Value {
    let view = MembershipView::today(crate::domain::membership::GraceWindow(0));
    let mut shown = snapshot(&OrganisationResponse::new(organisation, view));
    // The membership summary is not what an import changes.
    if let Value::Object(fields) = &mut shown {
        fields.remove("membership");
    }
    shown
}

impl Importer for Organisations {
    type Record = Organisation;
    type Profile = OrganisationProfile;
    type Vocabulary = ActiveCodes;

    const ENTITY: &'static str = entity::ORGANISATION;
    /// The list's own CSV columns (its read-only ones are ignored, so an export imports
    /// again), and `external_id`.
    const LIST_COLUMNS: &'static [&'static str] = crate::api::organisations::CSV_HEADER;
    const DEFUSED: &'static [&'static str] = crate::api::organisations::CSV_DEFUSED;
    const RULES: &'static [(&'static str, MatchRule)] = &[
        ("charity_number", MatchRule::CharityNumber),
        ("company_number", MatchRule::CompanyNumber),
        ("name", MatchRule::Name),
    ];
    const UNIQUE: &'static [MatchRule] = &[MatchRule::CharityNumber, MatchRule::CompanyNumber];

    fn key(rule: MatchRule, value: &str) -> String {
        match rule {
            MatchRule::Name => store::name_key(value),
            _ => value.to_owned(),
        }
    }

    fn keys(profile: &OrganisationProfile) -> Vec<(MatchRule, String)> {
        let mut keys = vec![(MatchRule::Name, store::name_key(&profile.name))];
        if let Some(number) = &profile.charity_number {
            keys.push((MatchRule::CharityNumber, number.clone()));
        }
        if let Some(number) = &profile.company_number {
            keys.push((MatchRule::CompanyNumber, number.clone()));
        }
        keys
    }

    fn holders(
        conn: &mut DbConn,
        rule: MatchRule,
        keys: &[String],
    ) -> Result<Vec<(String, String)>, DomainError> {
        imports::organisations_by(conn, rule, keys)
    }

    fn load(
        conn: &mut DbConn,
        ids: &[String],
    ) -> Result<HashMap<String, Organisation>, DomainError> {
        store::lock_many(conn, ids)?;
        let mut records = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(imports::PER_STATEMENT) {
            records.extend(store::find_many(conn, chunk)?);
        }
        Ok(records)
    }

    fn vocabulary(conn: &mut DbConn) -> Result<ActiveCodes, DomainError> {
        Ok(ActiveCodes::load(conn)?)
    }

    fn created(
        table: &Table,
        cells: &[String],
        vocabulary: &ActiveCodes,
    ) -> Result<OrganisationProfile, RowError> {
        let body: CreateOrganisationRequest = read(table, cells, true)?;
        let profile = body.into_profile(None)?.in_read_order();
        checked(profile, None, vocabulary)
    }

    fn updated(
        table: &Table,
        cells: &[String],
        current: &OrganisationProfile,
        vocabulary: &ActiveCodes,
    ) -> Result<OrganisationProfile, RowError> {
        let patch: UpdateOrganisationRequest = read(table, cells, false)?;
        let profile = patch.apply(current)?.in_read_order();
        checked(profile, Some(current), vocabulary)
    }

    fn clash(rule: MatchRule, holder: &str) -> FieldError {
        store::number_clash(rule.as_str(), holder)
    }

    fn profile(record: &Organisation) -> &OrganisationProfile {
        &record.profile
    }

    fn new_record(id: String, profile: OrganisationProfile, at: NaiveDateTime) -> Organisation {
        Organisation {
            id,
            profile,
            version: 1,
            created_at: at,
            updated_at: at,
            deleted_at: None,
            membership: None,
        }
    }

    fn revised(
        record: &Organisation,
        profile: OrganisationProfile,
        at: NaiveDateTime,
    ) -> Organisation {
        Organisation {
            profile,
            version: record.version + 1,
            updated_at: at,
            ..record.clone()
        }
    }

    fn shown(record: &Organisation) -> Value {
        shown(record.clone())
    }

    fn write(
        conn: &mut DbConn,
        created: &[&Organisation],
        updated: &[(&Organisation, &Organisation)],
    ) -> Result<(), DomainError> {
        store::write_imported(conn, created, updated)
    }

    fn column_of(field: &str) -> String {
        match field.split(['.', '[']).collect::<Vec<_>>().as_slice() {
            [area @ ("leadership" | "mission"), "communities", ..] => format!("{area}_communities"),
            [area @ ("leadership" | "mission"), ..] => format!("{area}_reply_status"),
            _ => super::top_level(field).to_owned(),
        }
    }
}

/// `profile`, unless it is given codes that are not active (codes `held` already has stay).
fn checked(
    profile: OrganisationProfile,
    held: Option<&OrganisationProfile>,
    vocabulary: &ActiveCodes,
) -> Result<OrganisationProfile, RowError> {
    let errors = store::code_errors(&profile, held, &mut |kind, codes| {
        Ok(vocabulary.unusable(kind, codes))
    })?;
    if errors.is_empty() {
        Ok(profile)
    } else {
        Err(RowError::Fields(errors))
    }
}
