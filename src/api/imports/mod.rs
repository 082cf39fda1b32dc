//! `POST /api/v1/imports/{organisations|contacts}`: a spreadsheet brought in safely. Every row
//! is checked by the same rules as the API's own create and update; an import is all or
//! nothing (one bad row and nothing is written, and the report lists every bad row);
//! `dry_run=true` checks without writing; a row that describes a record already stored
//! updates it (or leaves it unchanged), so importing the same file twice changes nothing.

mod contacts;
mod organisations;
pub mod table;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, post, web};
use diesel::Connection;
use futures_util::StreamExt;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::list::{FromQuery, query_params};
use crate::db::DbConn;
use crate::domain::audit::{self, Event, Log};
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

/// One kind of record an import can bring in.
trait Importer {
    /// The audit entity, and the external ids' entity type.
    const ENTITY: &'static str;
    /// The columns of the resource's list CSV; a file may have these and `external_id`.
    const LIST_COLUMNS: &'static [&'static str];
    /// The columns the list's CSV defuses against formula injection, undone on import.
    const DEFUSED: &'static [&'static str];

    fn columns() -> Vec<&'static str> {
        let mut columns = Self::LIST_COLUMNS.to_vec();
        columns.insert(1, "external_id");
        columns
    }

    /// Whether record `id` is stored and not deleted.
    fn is_live(conn: &mut DbConn, id: &str) -> Result<bool, DomainError>;

    /// The stored record this row describes, and which rule found it (`id` and
    /// `external_id` are tried by the driver first; the others here).
    fn find(
        conn: &mut DbConn,
        table: &Table,
        cells: &[String],
    ) -> Result<Option<(String, MatchRule)>, DomainError>;

    /// Creates the row's record: its id, and its shape for the audit event.
    fn create(
        conn: &mut DbConn,
        table: &Table,
        cells: &[String],
    ) -> Result<(String, serde_json::Value), RowError>;

    /// Updates record `id` from the row: its shape before and after (equal when unchanged).
    fn update(
        conn: &mut DbConn,
        table: &Table,
        cells: &[String],
        id: &str,
    ) -> Result<(serde_json::Value, serde_json::Value), RowError>;

    /// The column a field error of the API's rules is about (`leadership.communities[1]` is
    /// the `leadership_communities` column).
    fn column_of(field: &str) -> String {
        top_level(field).to_owned()
    }
}

/// The record the first of `rules` (column, rule) that has a value in the row finds, using
/// `lookup`.
fn first_match(
    conn: &mut DbConn,
    table: &Table,
    cells: &[String],
    rules: &[(&str, MatchRule)],
    lookup: fn(&mut DbConn, MatchRule, &str) -> Result<Option<String>, DomainError>,
) -> Result<Option<(String, MatchRule)>, DomainError> {
    for &(column, rule) in rules {
        let Some(value) = table.cell(cells, column).filter(|v| !v.is_empty()) else {
            continue;
        };
        if let Some(id) = lookup(conn, rule, value)? {
            return Ok(Some((id, rule)));
        }
    }
    Ok(None)
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

/// How many audit events an import holds before writing them (in its transaction).
const EVENTS_HELD: usize = 500;

/// The record a row's `id` cell names, when it has one: an id that is not a UUID, or that
/// names no live record, is a problem of the row (never a new record with another id).
fn by_id<I: Importer>(
    conn: &mut DbConn,
    row: usize,
    value: &str,
) -> Result<Result<String, CellProblem>, ApiError> {
    let Ok(id) = uuid::Uuid::parse_str(value) else {
        return Ok(Err(CellProblem::new(
            row,
            "id",
            value,
            format!(
                "is not an id (as the list's CSV gives it); leave it empty to match the row by \
                 its other columns or to create a new {}",
                I::ENTITY
            ),
        )));
    };
    let id = id.hyphenated().to_string();
    if I::is_live(conn, &id)? {
        return Ok(Ok(id));
    }
    Ok(Err(CellProblem::new(
        row,
        "id",
        value,
        format!(
            "no {} has this id (it may have been deleted, or be from another database); \
             leave it empty to match the row by its other columns or to create a new one",
            I::ENTITY
        ),
    )))
}

/// Runs the import of `table`, the rows read one at a time, in the caller's transaction;
/// the report says what was done, or what is wrong (then the caller rolls back).
fn import<I: Importer>(
    conn: &mut DbConn,
    log: &mut Log,
    table: &Table,
    dry_run: bool,
) -> Result<ImportReport, ApiError> {
    let mut report = ImportReport {
        dry_run,
        encoding: table.encoding,
        rows: table.rows,
        created: 0,
        updated: 0,
        unchanged: 0,
        matched_by: BTreeMap::new(),
        results: Vec::with_capacity(table.rows),
        errors: Vec::new(),
        errors_omitted: None,
    };
    for table::Row { number: row, cells } in table.rows() {
        let mut cells = match cells {
            Ok(cells) => cells,
            Err(problems) => {
                report.errors.extend(problems);
                continue;
            }
        };
        // The list's own export comes back as it was: `'+44 161…` is `+44 161…` again.
        for (cell, column) in cells.iter_mut().zip(&table.columns) {
            if I::DEFUSED.contains(&column.as_str()) {
                let text = crate::api::csv::undefuse(cell);
                if text.len() != cell.len() {
                    *cell = text.to_owned();
                }
            }
        }
        // Once any row is bad nothing is written, and only problems are reported.
        if !report.errors.is_empty() {
            report.results = Vec::new();
        }
        let cells = cells.as_slice();
        let external_id = table.cell(cells, "external_id").filter(|v| !v.is_empty());
        if let Some(value) = external_id
            && (value.chars().count() > 100 || value.chars().any(char::is_control))
        {
            report.errors.push(CellProblem::new(
                row,
                "external_id",
                value,
                "must be at most 100 characters on one line",
            ));
            continue;
        }
        let found = match table.cell(cells, "id").filter(|v| !v.is_empty()) {
            Some(value) => match by_id::<I>(conn, row, value)? {
                Ok(id) => Some((id, MatchRule::Id)),
                Err(problem) => {
                    report.errors.push(problem);
                    continue;
                }
            },
            None => None,
        };
        let found = match (found, external_id) {
            (Some(found), _) => Some(found),
            (None, Some(value)) => {
                match crate::domain::imports::by_external_id(conn, I::ENTITY, value)? {
                    Some(id) if I::is_live(conn, &id)? => Some((id, MatchRule::ExternalId)),
                    _ => None,
                }
            }
            (None, None) => None,
        };
        let found = match found {
            Some(found) => Some(found),
            None => I::find(conn, table, cells)?,
        };
        // Each row in its own savepoint, so a refused row leaves the rest of the
        // transaction usable (PostgreSQL aborts a transaction at its first error). A dry
        // run records no audit events: they would only be rolled back.
        let written = conn.transaction(|conn| {
            let result = match &found {
                None => I::create(conn, table, cells).map(|(id, after)| {
                    if !dry_run {
                        log.record(Event {
                            action: "import.create".to_owned(),
                            ..Event::created(I::ENTITY, &id, &after)
                        });
                    }
                    (id, Outcome::Created)
                }),
                Some((id, _)) => I::update(conn, table, cells, id).map(|(before, after)| {
                    if before == after {
                        (id.clone(), Outcome::Unchanged)
                    } else {
                        if !dry_run {
                            log.record(Event {
                                action: "import.update".to_owned(),
                                ..Event::updated(I::ENTITY, id, &before, &after)
                            });
                        }
                        (id.clone(), Outcome::Updated)
                    }
                }),
            };
            match result {
                Ok((id, outcome)) => {
                    if let Some(value) = external_id {
                        crate::domain::imports::remember_external_id(conn, I::ENTITY, value, &id)
                            .map_err(|e| RowError::Fatal(e.into()))?;
                    }
                    Ok((id, outcome))
                }
                Err(error) => Err(error),
            }
        });
        match written {
            Ok((id, outcome)) => {
                match outcome {
                    Outcome::Created => report.created += 1,
                    Outcome::Updated => report.updated += 1,
                    Outcome::Unchanged => report.unchanged += 1,
                }
                let matched_by = found.as_ref().map(|(_, rule)| *rule);
                if let Some(rule) = matched_by {
                    *report.matched_by.entry(rule.to_string()).or_default() += 1;
                }
                if report.errors.is_empty() {
                    report.results.push(RowResult {
                        row,
                        outcome,
                        id,
                        matched_by,
                    });
                }
            }
            Err(RowError::Fields(errors)) => {
                for error in errors {
                    let column = I::column_of(&error.field);
                    let value = table.cell(cells, &column).unwrap_or_default();
                    report
                        .errors
                        .push(CellProblem::new(row, &column, value, error.message));
                }
            }
            Err(RowError::Fatal(error)) => return Err(error),
        }
        if log.pending() >= EVENTS_HELD {
            log.flush(conn)?;
        }
    }
    if !report.errors.is_empty() {
        report.results = Vec::new();
    }
    Ok(report)
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
                let report = import::<I>(conn, log, &table, dry_run)?;
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
