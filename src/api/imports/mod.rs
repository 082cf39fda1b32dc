//! `POST /api/v1/imports/{organisations|contacts}`: a spreadsheet brought in safely. Every row
//! is checked by the same rules as the API's own create and update; an import is all or
//! nothing (one bad row and nothing is written, and the report lists every bad row);
//! `dry_run=true` checks without writing; a row that describes a record already stored
//! updates it (or leaves it unchanged), so importing the same file twice changes nothing.

mod contacts;
mod organisations;
mod plan;
pub mod table;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, post, web};
use chrono::NaiveDateTime;
use futures_util::StreamExt;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::list::{FromQuery, query_params};
use crate::db::DbConn;
use crate::domain::audit::{self, Event};
use crate::domain::imports::MatchRule;
use crate::domain::{DomainError, FieldError};
use crate::error::ApiError;
use crate::state::AppState;
use table::{CellProblem, Encoding, Table};

const TAG: &str = "imports";

/// Media types a CSV arrives as (browsers on Windows label `.csv` files as Excel's).
const CSV_TYPES: &[&str] = &[
    "text/csv",
    "application/csv",
    "application/vnd.ms-excel",
    "text/plain",
];

/// What happened to one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RowResult {
    pub row: usize,
    pub outcome: Outcome,
    /// The record the row created or matched.
    #[schema(format = Uuid)]
    pub id: String,
    /// The rule that found the stored record; null for a created one.
    pub matched_by: Option<MatchRule>,
}

/// What an import did, or (with `dry_run`) would do.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportReport {
    pub dry_run: bool,
    /// How the file was read: `utf8` (with or without a byte-order mark), `utf16`, or
    /// `windows1252` when it was not UTF-8.
    pub encoding: Encoding,
    /// Data rows read (empty rows are skipped).
    pub rows: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// How many rows each rule matched to a stored record.
    pub matched_by: BTreeMap<String, usize>,
    /// Each row's outcome, in file order (empty when there are errors).
    pub results: Vec<RowResult>,
    /// Every problem found, by row and column; an import with any writes nothing. A
    /// rejected import's problem lists the first 100.
    pub errors: Vec<CellProblem>,
    /// How many more problems there were than `errors` lists (in a rejected import's
    /// problem only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors_omitted: Option<usize>,
}

/// One kind of record an import can bring in. The import reads a file a chunk of rows at a
/// time: it asks the store about every row of the chunk together (`holders`, `load`), works
/// out each row's outcome in memory by the API's own rules, then writes the chunk together
/// (`write`). See `plan`.
trait Importer {
    /// The record as stored.
    type Record;
    /// The part of a record a row sets, its sets in the order a read gives them (so that
    /// equal profiles are unchanged records).
    type Profile: PartialEq;
    /// What rows are checked against that only the store knows and no row changes (the
    /// active codes, for organisations), read once per import.
    type Vocabulary;

    /// The audit entity, and the external ids' entity type.
    const ENTITY: &'static str;
    /// The columns of the resource's list CSV; a file may have these and `external_id`.
    const LIST_COLUMNS: &'static [&'static str];
    /// The columns the list's CSV defuses against formula injection, undone on import.
    const DEFUSED: &'static [&'static str];
    /// The rules tried after `id` and `external_id`, in order, and the column each reads.
    const RULES: &'static [(&'static str, MatchRule)];
    /// The rules whose keys no two live records may share (registration numbers, email).
    const UNIQUE: &'static [MatchRule];

    fn columns() -> Vec<&'static str> {
        let mut columns = Self::LIST_COLUMNS.to_vec();
        columns.insert(1, "external_id");
        columns
    }

    /// The form `rule` compares `value` in (a name's key, an email's match key).
    fn key(rule: MatchRule, value: &str) -> String;

    /// The keys `profile` holds under `RULES`.
    fn keys(profile: &Self::Profile) -> Vec<(MatchRule, String)>;

    /// The live records holding each of `keys` under `rule` (`Id` included), as (key, id).
    fn holders(
        conn: &mut DbConn,
        rule: MatchRule,
        keys: &[String],
    ) -> Result<Vec<(String, String)>, DomainError>;

    /// Locks the live records among `ids` until the import ends, then reads them.
    fn load(
        conn: &mut DbConn,
        ids: &[String],
    ) -> Result<HashMap<String, Self::Record>, DomainError>;

    fn vocabulary(conn: &mut DbConn) -> Result<Self::Vocabulary, DomainError>;

    /// The profile a row gives a new record, by the rules of the API's create.
    fn created(
        table: &Table,
        cells: &[String],
        vocabulary: &Self::Vocabulary,
    ) -> Result<Self::Profile, RowError>;

    /// What a row makes of a record's `current` profile, by the rules of the API's update.
    fn updated(
        table: &Table,
        cells: &[String],
        current: &Self::Profile,
        vocabulary: &Self::Vocabulary,
    ) -> Result<Self::Profile, RowError>;

    /// The error of a key under a `UNIQUE` rule that record `holder` already has.
    fn clash(rule: MatchRule, holder: &str) -> FieldError;

    fn profile(record: &Self::Record) -> &Self::Profile;

    /// A new record `id` with `profile`, version 1, created at `at`.
    fn new_record(id: String, profile: Self::Profile, at: NaiveDateTime) -> Self::Record;

    /// `record` with `profile` instead, its next version, updated at `at`.
    fn revised(record: &Self::Record, profile: Self::Profile, at: NaiveDateTime) -> Self::Record;

    /// The record as its audit events show it.
    fn shown(record: &Self::Record) -> serde_json::Value;

    /// Stores a chunk's records: `created` new, `updated` (as stored, and as they are now)
    /// over their locked stored rows.
    fn write(
        conn: &mut DbConn,
        created: &[&Self::Record],
        updated: &[(&Self::Record, &Self::Record)],
    ) -> Result<(), DomainError>;

    /// The column a field error of the API's rules is about (`leadership.communities[1]` is
    /// the `leadership_communities` column).
    fn column_of(field: &str) -> String {
        top_level(field).to_owned()
    }
}

/// `regions[0]` and `regions.x` → `regions`.
fn top_level(field: &str) -> &str {
    field.split(['.', '[']).next().unwrap_or(field)
}

/// Why a row could not be written.
enum RowError {
    /// Field errors from the API's rules or the store's checks.
    Fields(Vec<FieldError>),
    /// Anything else (the database went away): the whole import fails with it.
    Fatal(ApiError),
}

impl From<ApiError> for RowError {
    fn from(error: ApiError) -> Self {
        match error {
            ApiError::Validation { errors } => Self::Fields(errors),
            ApiError::Conflict { detail, errors } if errors.is_empty() => {
                Self::Fields(vec![FieldError::new("", "conflict", detail)])
            }
            ApiError::Conflict { errors, .. } => Self::Fields(errors),
            other => Self::Fatal(other),
        }
    }
}

impl From<diesel::result::Error> for RowError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Fatal(error.into())
    }
}

impl From<DomainError> for RowError {
    fn from(error: DomainError) -> Self {
        ApiError::from(error).into()
    }
}

/// A JSON object of the row's cells for the API's request types.
type Object = serde_json::Map<String, serde_json::Value>;

/// Reads `object` as the request type `T`, with the API's own rules.
fn request<T: serde::de::DeserializeOwned + validator::Validate>(
    object: Object,
) -> Result<T, ApiError> {
    let bytes = serde_json::to_vec(&serde_json::Value::Object(object)).unwrap_or_default();
    crate::api::body::parse(&bytes)
}

/// The 422 of an import that wrote nothing, carrying its report.
fn rejected(report: &ImportReport) -> ApiError {
    let detail = if report.errors.is_empty() {
        "a dry run; nothing was written".to_owned()
    } else {
        format!(
            "{} problems in {} rows; nothing was written",
            report.errors.len(),
            report
                .errors
                .iter()
                .map(|e| e.row)
                .collect::<std::collections::BTreeSet<_>>()
                .len()
        )
    };
    ApiError::ImportRejected {
        detail,
        report: serde_json::to_value(report).unwrap_or_default(),
    }
}

/// The body, read up to `limit` bytes (imports may be larger than other bodies).
async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    if !content_type.is_some_and(|t| CSV_TYPES.contains(&t.as_str())) {
        return Err(ApiError::UnsupportedMediaType {
            detail: "send the file as text/csv".to_owned(),
        });
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(table::too_large(limit));
    }
    // Reserved at once for a declared length, so a large file is not copied as it grows.
    let mut body = Vec::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|_| ApiError::bad_request("the request body could not be read"))?;
        if body.len() + chunk.len() > limit {
            return Err(table::too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

query_params! {
    pub struct ImportParams {
        /// Check every row and report what would happen, writing nothing.
        pub dry_run: Option<bool> = boolean,
    }
}

async fn run<I: Importer>(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
    context: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let dry_run = ImportParams::parse(req.query_string())?
        .dry_run
        .unwrap_or(false);
    let bytes = read_body(&req, payload, state.import_body_limit).await?;
    let table = web::block(move || table::read(bytes, &I::columns()))
        .await
        .map_err(|e| ApiError::internal(format!("reading the file failed: {e}")))?;
    let table = match table {
        Ok(table) => table,
        Err(table::ReadError::TooManyRows) => {
            return Err(ApiError::ImportTooLarge {
                detail: format!("an import takes at most {} rows", table::MAX_ROWS),
            });
        }
        Err(table::ReadError::Problems(problems)) => {
            let report = ImportReport {
                dry_run,
                encoding: Encoding::Utf8,
                rows: 0,
                created: 0,
                updated: 0,
                unchanged: 0,
                matched_by: BTreeMap::new(),
                results: Vec::new(),
                errors: problems,
                errors_omitted: None,
            };
            return Err(ApiError::ImportRejected {
                detail: "the file cannot be imported as it is; nothing was written".to_owned(),
                report: serde_json::to_value(&report).unwrap_or_default(),
            });
        }
    };
    // A report that must not be committed (a dry run, or bad rows) leaves the transaction
    // through this slot, so that the rollback's error need not carry it.
    let unwritten = Arc::new(Mutex::new(None));
    let outcome = state
        .db
        .write(context, {
            let unwritten = unwritten.clone();
            move |conn, log| {
                let report = plan::import::<I>(conn, log, &table, dry_run)?;
                drop(table);
                if dry_run || !report.errors.is_empty() {
                    let rows = report.rows;
                    *unwritten.lock().unwrap_or_else(PoisonError::into_inner) = Some(report);
                    return Err(ApiError::Conflict {
                        detail: format!("the import of {rows} rows was rolled back"),
                        errors: Vec::new(),
                    });
                }
                log.record(
                    Event::unnamed("import", I::ENTITY)
                        .detail("rows", serde_json::Value::Null, report.rows.into())
                        .detail("created", serde_json::Value::Null, report.created.into())
                        .detail("updated", serde_json::Value::Null, report.updated.into())
                        .detail(
                            "unchanged",
                            serde_json::Value::Null,
                            report.unchanged.into(),
                        ),
                );
                Ok(report)
            }
        })
        .await;
    let unwritten = unwritten
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    match (outcome, unwritten) {
        (Ok(report), _) => Ok(HttpResponse::Ok().json(report)),
        (Err(_), Some(report)) if report.errors.is_empty() => Ok(HttpResponse::Ok().json(report)),
        (Err(_), Some(report)) => Err(rejected(&report)),
        (Err(error), None) => Err(error),
    }
}

/// Import organisations from CSV
///
/// The body is a CSV file with a heading row (see the README for the columns; multi-valued
/// cells are joined with `;`). Each row is matched to a stored organisation by `id`, then
/// `external_id`, then charity number, then company number, then its name when exactly one
/// organisation has it; a matched organisation is updated from the columns the file has, an
/// unmatched row creates one (`kind` defaults to `other`). All or nothing: with any bad row,
/// nothing is written and the 422 problem's `report` lists every bad cell. `dry_run=true`
/// answers the report without writing.
#[utoipa::path(
    tag = TAG,
    params(ImportParams),
    request_body(content = String, content_type = "text/csv", description = "The CSV file"),
    responses(
        (status = 200, description = "Imported (or, with dry_run, what would be)", body = ImportReport),
        (status = 422, description = "Nothing was written: the problem's `report` lists every bad row, column and value", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/imports/organisations")]
pub async fn import_organisations(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
    context: audit::Context,
) -> Result<HttpResponse, ApiError> {
    run::<organisations::Organisations>(state, req, payload, context).await
}

/// Import contacts from CSV
///
/// As the organisation import: rows are matched by `id`, then `external_id`, then email.
#[utoipa::path(
    tag = TAG,
    params(ImportParams),
    request_body(content = String, content_type = "text/csv", description = "The CSV file"),
    responses(
        (status = 200, description = "Imported (or, with dry_run, what would be)", body = ImportReport),
        (status = 422, description = "Nothing was written: the problem's `report` lists every bad row, column and value", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/imports/contacts")]
pub async fn import_contacts(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
    context: audit::Context,
) -> Result<HttpResponse, ApiError> {
    run::<contacts::Contacts>(state, req, payload, context).await
}

pub fn configure(config: &mut ServiceConfig) {
    config
        .service(import_organisations)
        .service(import_contacts);
}
