//! How an import runs: a chunk of rows at a time, each chunk in three steps.
//!
//! 1. **Ask.** Every id, external id and match key the chunk's rows name is looked up
//!    together, and the records they find are locked and read together: a few statements
//!    for a thousand rows, where a row at a time took a dozen each.
//! 2. **Plan.** The rows are worked out in file order, in memory, by the API's own rules: a
//!    row sees what the rows before it did (a record created by row 2 is matched, and its
//!    registration number is taken, for row 3), exactly as if each had been written at once.
//!    A refused row changes nothing, so no savepoint is needed to take it back.
//! 3. **Write.** The chunk's new records, changed records and external ids are written
//!    together, and its audit events are recorded.
//!
//! The next chunk asks the store again, so it sees this chunk's writes. Everything runs in
//! the caller's transaction: an import with any bad row is rolled back as a whole.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::table::{self, CellProblem, Table};
use super::{ImportReport, Importer, Outcome, RowError, RowResult};
use crate::db::DbConn;
use crate::domain::audit::{Event, Log};
use crate::domain::imports::{self, MatchRule};
use crate::domain::{DomainError, new_id, now};
use crate::error::ApiError;

/// How many rows are asked about, planned and written together.
const ROWS_PER_CHUNK: usize = 1_000;

/// How many audit events an import holds before writing them (in its transaction).
const EVENTS_HELD: usize = 500;

/// Runs the import of `table` in the caller's transaction; the report says what was done, or
/// what is wrong (then the caller rolls back).
pub(super) fn import<I: Importer>(
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
        matched_by: Default::default(),
        results: Vec::with_capacity(table.rows),
        errors: Vec::new(),
        errors_omitted: None,
    };
    let vocabulary = I::vocabulary(conn)?;
    let mut rows = table.rows().peekable();
    while rows.peek().is_some() {
        let mut chunk = Vec::with_capacity(ROWS_PER_CHUNK);
        for table::Row { number, cells } in rows.by_ref().take(ROWS_PER_CHUNK) {
            match cells.and_then(|cells| readable::<I>(table, number, cells)) {
                Ok(cells) => chunk.push((number, cells)),
                Err(problems) => report.errors.extend(problems),
            }
        }
        let mut plan = Plan::<I>::ask(conn, table, &chunk)?;
        for (row, cells) in &chunk {
            plan.row(conn, log, table, &vocabulary, *row, cells, &mut report)?;
            // A dry run, or an import already refused, records no events: they would only
            // be rolled back.
            if dry_run || !report.errors.is_empty() {
                plan.events.clear();
            }
        }
        plan.write(conn, log)?;
    }
    // Once any row is bad nothing is written, and only problems are reported.
    if !report.errors.is_empty() {
        report.results = Vec::new();
    }
    Ok(report)
}

/// The row's cells as the import reads them, or the problems that keep it from being read.
fn readable<I: Importer>(
    table: &Table,
    row: usize,
    mut cells: Vec<String>,
) -> Result<Vec<String>, Vec<CellProblem>> {
    // The list's own export comes back as it was: `'+44 161…` is `+44 161…` again.
    for (cell, column) in cells.iter_mut().zip(&table.columns) {
        if I::DEFUSED.contains(&column.as_str()) {
            let text = crate::api::csv::undefuse(cell);
            if text.len() != cell.len() {
                *cell = text.to_owned();
            }
        }
    }
    if let Some(value) = table.cell(&cells, "external_id")
        && (value.chars().count() > 100 || value.chars().any(char::is_control))
    {
        return Err(vec![CellProblem::new(
            row,
            "external_id",
            value,
            "must be at most 100 characters on one line",
        )]);
    }
    Ok(cells)
}

/// The `id` cell as a stored record's id, or why it cannot be one.
fn id_cell<I: Importer>(row: usize, value: &str) -> Result<String, CellProblem> {
    match uuid::Uuid::parse_str(value) {
        Ok(id) => Ok(id.hyphenated().to_string()),
        Err(_) => Err(CellProblem::new(
            row,
            "id",
            value,
            format!(
                "is not an id (as the list's CSV gives it); leave it empty to match the row by \
                 its other columns or to create a new {}",
                I::ENTITY
            ),
        )),
    }
}

/// Which live records hold each key, as the store has them and as the planned rows change
/// them. A key never asked about is asked of the store when first needed.
#[derive(Default)]
struct Holders(HashMap<(MatchRule, String), BTreeSet<String>>);

impl Holders {
    /// Asks the store about every one of `keys` under `rule` not known yet.
    fn ask<I: Importer>(
        &mut self,
        conn: &mut DbConn,
        rule: MatchRule,
        keys: impl IntoIterator<Item = String>,
    ) -> Result<(), DomainError> {
        let unknown: Vec<String> = keys
            .into_iter()
            .filter(|key| !self.0.contains_key(&(rule, key.clone())))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        for key in &unknown {
            self.0.insert((rule, key.clone()), BTreeSet::new());
        }
        for (key, id) in I::holders(conn, rule, &unknown)? {
            self.0.entry((rule, key)).or_default().insert(id);
        }
        Ok(())
    }

    fn of<I: Importer>(
        &mut self,
        conn: &mut DbConn,
        rule: MatchRule,
        key: &str,
    ) -> Result<&BTreeSet<String>, DomainError> {
        self.ask::<I>(conn, rule, [key.to_owned()])?;
        Ok(&self.0[&(rule, key.to_owned())])
    }

    /// Record `id` now holds `new` instead of `old`.
    fn moved<I: Importer>(
        &mut self,
        conn: &mut DbConn,
        id: &str,
        old: Vec<(MatchRule, String)>,
        new: Vec<(MatchRule, String)>,
    ) -> Result<(), DomainError> {
        for (rule, key) in old {
            self.ask::<I>(conn, rule, [key.clone()])?;
            if let Some(holders) = self.0.get_mut(&(rule, key)) {
                holders.remove(id);
            }
        }
        for (rule, key) in new {
            self.ask::<I>(conn, rule, [key.clone()])?;
            if let Some(holders) = self.0.get_mut(&(rule, key)) {
                holders.insert(id.to_owned());
            }
        }
        Ok(())
    }
}

/// One chunk's records as its rows leave them, and what is to be written.
struct Plan<I: Importer> {
    /// Every record a row of the chunk may name (locked), and those it creates, as planned.
    records: HashMap<String, I::Record>,
    holders: Holders,
    /// External ids as stored, and as the rows give them.
    external_ids: HashMap<String, String>,
    remembered: Vec<(String, String)>,
    created: Vec<String>,
    updated: Vec<String>,
    /// The ids in `created` and `updated`.
    planned: HashSet<String>,
    /// The records in `updated` as they are stored.
    stored: HashMap<String, I::Record>,
    events: Vec<Event>,
    /// Unique keys a planned update has taken from its record. A row that gives one to
    /// another record has what is planned written first: the unique index would refuse
    /// the new holder's write before the old holder's.
    freed: HashSet<(MatchRule, String)>,
}

impl<I: Importer> Plan<I> {
    /// Asks the store about everything the chunk's rows name, together.
    fn ask(
        conn: &mut DbConn,
        table: &Table,
        chunk: &[(usize, Vec<String>)],
    ) -> Result<Self, DomainError> {
        let named = |column: &str| -> Vec<String> {
            chunk
                .iter()
                .filter_map(|(_, cells)| table.cell(cells, column))
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let external_ids =
            imports::by_external_ids(conn, I::ENTITY, &distinct(named("external_id")))?;
        let mut holders = Holders::default();
        let mut candidates: BTreeSet<String> = named("id")
            .iter()
            .filter_map(|value| uuid::Uuid::parse_str(value).ok())
            .map(|id| id.hyphenated().to_string())
            .chain(external_ids.values().cloned())
            .collect();
        for &(column, rule) in I::RULES {
            let keys: Vec<String> = named(column).iter().map(|v| I::key(rule, v)).collect();
            holders.ask::<I>(conn, rule, keys)?;
        }
        for ((_, _), ids) in &holders.0 {
            candidates.extend(ids.iter().cloned());
        }
        let candidates: Vec<String> = candidates.into_iter().collect();
        let records = I::load(conn, &candidates)?;
        // What the records read hold too: a row that moves a record off a key frees it.
        let mut held: HashMap<MatchRule, Vec<String>> = HashMap::new();
        for record in records.values() {
            for (rule, key) in I::keys(I::profile(record)) {
                held.entry(rule).or_default().push(key);
            }
        }
        for (rule, keys) in held {
            holders.ask::<I>(conn, rule, keys)?;
        }
        Ok(Self {
            records,
            holders,
            external_ids,
            remembered: Vec::new(),
            created: Vec::new(),
            updated: Vec::new(),
            planned: HashSet::new(),
            stored: HashMap::new(),
            events: Vec::new(),
            freed: HashSet::new(),
        })
    }

    /// The live record a row describes, and the rule that found it: its `id` cell, its
    /// `external_id`, then `I::RULES` in order (a rule finds a record when exactly one
    /// holds the key). A bad `id` cell is the row's problem.
    fn find(
        &mut self,
        conn: &mut DbConn,
        table: &Table,
        row: usize,
        cells: &[String],
    ) -> Result<Result<Option<(String, MatchRule)>, CellProblem>, DomainError> {
        if let Some(value) = table.cell(cells, "id").filter(|v| !v.is_empty()) {
            let id = match id_cell::<I>(row, value) {
                Ok(id) => id,
                Err(problem) => return Ok(Err(problem)),
            };
            if self.records.contains_key(&id) {
                return Ok(Ok(Some((id, MatchRule::Id))));
            }
            return Ok(Err(CellProblem::new(
                row,
                "id",
                value,
                format!(
                    "no {} has this id (it may have been deleted, or be from another \
                     database); leave it empty to match the row by its other columns or to \
                     create a new one",
                    I::ENTITY
                ),
            )));
        }
        if let Some(value) = table.cell(cells, "external_id").filter(|v| !v.is_empty())
            && let Some(id) = self.external_ids.get(value)
            && self.records.contains_key(id)
        {
            return Ok(Ok(Some((id.clone(), MatchRule::ExternalId))));
        }
        for &(column, rule) in I::RULES {
            let Some(value) = table.cell(cells, column).filter(|v| !v.is_empty()) else {
                continue;
            };
            let holders = self.holders.of::<I>(conn, rule, &I::key(rule, value))?;
            if holders.len() != 1 {
                continue;
            }
            let Some(id) = holders.first().cloned() else {
                continue;
            };
            // A holder asked about only now (the chunk's rows did not name its key) is read
            // now: the row is planned against the record as stored.
            if !self.records.contains_key(&id) {
                self.records
                    .extend(I::load(conn, std::slice::from_ref(&id))?);
            }
            if self.records.contains_key(&id) {
                return Ok(Ok(Some((id, rule))));
            }
        }
        Ok(Ok(None))
    }

    /// The errors of `profile`'s unique keys that another record (not `own`) holds.
    fn clashes(
        &mut self,
        conn: &mut DbConn,
        profile: &I::Profile,
        own: Option<&str>,
    ) -> Result<Vec<crate::domain::FieldError>, DomainError> {
        let mut clashes = Vec::new();
        for (rule, key) in I::keys(profile) {
            if !I::UNIQUE.contains(&rule) {
                continue;
            }
            let holders = self.holders.of::<I>(conn, rule, &key)?;
            if let Some(holder) = holders.iter().find(|id| Some(id.as_str()) != own) {
                clashes.push(I::clash(rule, holder));
            }
        }
        Ok(clashes)
    }

    /// Works out one row, as if it were written at once, and reports it.
    #[allow(clippy::too_many_arguments)]
    fn row(
        &mut self,
        conn: &mut DbConn,
        log: &mut Log,
        table: &Table,
        vocabulary: &I::Vocabulary,
        row: usize,
        cells: &[String],
        report: &mut ImportReport,
    ) -> Result<(), ApiError> {
        let found = match self.find(conn, table, row, cells)? {
            Ok(found) => found,
            Err(problem) => {
                report.errors.push(problem);
                return Ok(());
            }
        };
        let outcome = match &found {
            None => self.create(conn, log, table, cells, vocabulary),
            Some((id, _)) => self.update(conn, log, table, cells, vocabulary, id),
        };
        let (id, outcome) = match outcome {
            Ok(done) => done,
            Err(RowError::Fields(errors)) => {
                for error in errors {
                    let column = I::column_of(&error.field);
                    let value = table.cell(cells, &column).unwrap_or_default();
                    report
                        .errors
                        .push(CellProblem::new(row, &column, value, error.message));
                }
                return Ok(());
            }
            Err(RowError::Fatal(error)) => return Err(error),
        };
        if let Some(value) = table.cell(cells, "external_id").filter(|v| !v.is_empty())
            && self.external_ids.get(value) != Some(&id)
        {
            self.external_ids.insert(value.to_owned(), id.clone());
            self.remembered.push((value.to_owned(), id.clone()));
        }
        match outcome {
            Outcome::Created => report.created += 1,
            Outcome::Updated => report.updated += 1,
            Outcome::Unchanged => report.unchanged += 1,
        }
        let matched_by = found.map(|(_, rule)| rule);
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
        Ok(())
    }

    fn create(
        &mut self,
        conn: &mut DbConn,
        log: &mut Log,
        table: &Table,
        cells: &[String],
        vocabulary: &I::Vocabulary,
    ) -> Result<(String, Outcome), RowError> {
        let profile = I::created(table, cells, vocabulary)?;
        refuse_clashes(self.clashes(conn, &profile, None)?)?;
        if self.takes_freed(&[], &profile) {
            self.write(conn, log)?;
        }
        let id = new_id();
        self.holders
            .moved::<I>(conn, &id, Vec::new(), I::keys(&profile))?;
        let record = I::new_record(id.clone(), profile, now());
        self.events.push(Event {
            action: "import.create".to_owned(),
            ..Event::created(I::ENTITY, &id, &I::shown(&record))
        });
        self.records.insert(id.clone(), record);
        self.created.push(id.clone());
        self.planned.insert(id.clone());
        Ok((id, Outcome::Created))
    }

    #[allow(clippy::too_many_arguments)]
    fn update(
        &mut self,
        conn: &mut DbConn,
        log: &mut Log,
        table: &Table,
        cells: &[String],
        vocabulary: &I::Vocabulary,
        id: &str,
    ) -> Result<(String, Outcome), RowError> {
        let current = &self.records[id];
        let profile = I::updated(table, cells, I::profile(current), vocabulary)?;
        if profile == *I::profile(current) {
            return Ok((id.to_owned(), Outcome::Unchanged));
        }
        refuse_clashes(self.clashes(conn, &profile, Some(id))?)?;
        let old = I::keys(I::profile(&self.records[id]));
        if self.takes_freed(&old, &profile) {
            self.write(conn, log)?;
        }
        let new = I::keys(&profile);
        for key in &old {
            if I::UNIQUE.contains(&key.0) && !new.contains(key) {
                self.freed.insert(key.clone());
            }
        }
        let current = &self.records[id];
        let revised = I::revised(current, profile, now());
        self.events.push(Event {
            action: "import.update".to_owned(),
            ..Event::updated(I::ENTITY, id, &I::shown(current), &I::shown(&revised))
        });
        self.holders.moved::<I>(conn, id, old, new)?;
        let stored = self.records.insert(id.to_owned(), revised);
        if self.planned.insert(id.to_owned()) {
            self.updated.push(id.to_owned());
            self.stored
                .extend(stored.map(|stored| (id.to_owned(), stored)));
        }
        Ok((id.to_owned(), Outcome::Updated))
    }

    /// Whether `profile` takes a unique key (one its record, holding `old`, lacks) that a
    /// planned update has freed.
    fn takes_freed(&self, old: &[(MatchRule, String)], profile: &I::Profile) -> bool {
        I::keys(profile)
            .into_iter()
            .any(|key| !old.contains(&key) && self.freed.contains(&key))
    }

    /// Writes what is planned (records, external ids, events), and plans on from there.
    fn write(&mut self, conn: &mut DbConn, log: &mut Log) -> Result<(), ApiError> {
        let created: Vec<&I::Record> = self
            .created
            .iter()
            .filter_map(|id| self.records.get(id))
            .collect();
        let updated: Vec<(&I::Record, &I::Record)> = self
            .updated
            .iter()
            .filter_map(|id| Some((self.stored.get(id)?, self.records.get(id)?)))
            .collect();
        I::write(conn, &created, &updated)?;
        imports::remember_external_ids(conn, I::ENTITY, &self.remembered)?;
        for event in self.events.drain(..) {
            log.record(event);
            if log.pending() >= EVENTS_HELD {
                log.flush(conn)?;
            }
        }
        self.created.clear();
        self.updated.clear();
        self.planned.clear();
        self.stored.clear();
        self.remembered.clear();
        self.freed.clear();
        Ok(())
    }
}

/// A row whose unique keys other records hold is refused, as the API's create and update
/// refuse it (a conflict, reported by field).
fn refuse_clashes(clashes: Vec<crate::domain::FieldError>) -> Result<(), RowError> {
    if clashes.is_empty() {
        Ok(())
    } else {
        Err(RowError::Fields(clashes))
    }
}

/// `values` once each, in order of first appearance.
fn distinct(values: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    values
        .into_iter()
        .filter(|value| seen.insert(value.clone()))
        .collect()
}
