//! Saved reports: a report's JSON as it was computed, with its name, the query it answered,
//! who saved it and when. A snapshot is never recomputed or edited, so last year's annual
//! report figures stay last year's; it can only be deleted.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::disclosure::Audience;
use crate::db::DbConn;
use crate::db::schema::{report_snapshots, users};
use crate::domain::{DomainError, Page, new_id, now, parse_stored};

const ENTITY: &str = "report snapshot";

crate::domain::text_enum! {
    /// A report that can be saved as a snapshot.
    pub enum ReportKind {
        Composition => "composition",
        CompositionTrend => "composition_trend",
        Gaps => "gaps",
        ExpertiseCoverage => "expertise_coverage",
        Participation => "participation",
    }
}

/// What is known of a snapshot without its body.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotSummary {
    pub id: String,
    pub name: String,
    pub report: ReportKind,
    pub query: String,
    pub audience: Audience,
    pub includes_anonymous_responses: bool,
    pub created_by: String,
    pub created_by_name: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub summary: SnapshotSummary,
    /// The report's JSON representation as it was sent.
    pub body: String,
}

/// A snapshot to save.
#[derive(Debug, Clone)]
pub struct NewSnapshot {
    pub name: String,
    pub report: ReportKind,
    pub query: String,
    pub audience: Audience,
    pub includes_anonymous_responses: bool,
    pub body: String,
    pub created_by: String,
}

/// A snapshot's summary as stored, with its creator's name from `users`.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = report_snapshots)]
struct SummaryRow {
    id: String,
    name: String,
    report: String,
    query: String,
    audience: String,
    includes_anonymous_responses: bool,
    created_by: String,
    #[diesel(select_expression = users::name, select_expression_type = users::name)]
    created_by_name: String,
    created_at: NaiveDateTime,
}

impl SummaryRow {
    fn into_summary(self) -> Result<SnapshotSummary, DomainError> {
        Ok(SnapshotSummary {
            report: parse_stored(&self.report)?,
            audience: parse_stored(&self.audience)?,
            id: self.id,
            name: self.name,
            query: self.query,
            includes_anonymous_responses: self.includes_anonymous_responses,
            created_by: self.created_by,
            created_by_name: self.created_by_name,
            created_at: self.created_at,
        })
    }
}

/// Who is reading: those who may not know of anonymous responses never see a snapshot that
/// counted them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reader {
    pub sees_anonymous_responses: bool,
}

pub fn create(conn: &mut DbConn, new: &NewSnapshot) -> Result<Snapshot, DomainError> {
    let id = new_id();
    diesel::insert_into(report_snapshots::table)
        .values((
            report_snapshots::id.eq(&id),
            report_snapshots::name.eq(&new.name),
            report_snapshots::report.eq(new.report.as_str()),
            report_snapshots::query.eq(&new.query),
            report_snapshots::audience.eq(new.audience.as_str()),
            report_snapshots::includes_anonymous_responses.eq(new.includes_anonymous_responses),
            report_snapshots::body.eq(&new.body),
            report_snapshots::created_by.eq(&new.created_by),
            report_snapshots::created_at.eq(now()),
        ))
        .execute(conn)?;
    find(
        conn,
        &id,
        Reader {
            sees_anonymous_responses: true,
        },
    )
}

pub fn find(conn: &mut DbConn, id: &str, reader: Reader) -> Result<Snapshot, DomainError> {
    let mut query = report_snapshots::table
        .inner_join(users::table)
        .filter(report_snapshots::id.eq(id))
        .into_boxed();
    if !reader.sees_anonymous_responses {
        query = query.filter(report_snapshots::includes_anonymous_responses.eq(false));
    }
    let found: Option<(SummaryRow, String)> = query
        .select((SummaryRow::as_select(), report_snapshots::body))
        .first(conn)
        .optional()?;
    let (row, body) = found.ok_or(DomainError::NotFound(ENTITY))?;
    Ok(Snapshot {
        summary: row.into_summary()?,
        body,
    })
}

/// Snapshots oldest first (ids are time-ordered), of one report when given, after `after`.
pub fn list(
    conn: &mut DbConn,
    report: Option<ReportKind>,
    reader: Reader,
    after: Option<&str>,
    limit: usize,
) -> Result<Page<SnapshotSummary>, DomainError> {
    let mut query = report_snapshots::table
        .inner_join(users::table)
        .into_boxed();
    if let Some(report) = report {
        query = query.filter(report_snapshots::report.eq(report.as_str()));
    }
    if !reader.sees_anonymous_responses {
        query = query.filter(report_snapshots::includes_anonymous_responses.eq(false));
    }
    let query = query
        .order(report_snapshots::id.asc())
        .select(SummaryRow::as_select());
    let after = after.map(|id| report_snapshots::id.gt(id.to_owned()));
    crate::domain::load_id_page(
        conn,
        query,
        after,
        limit,
        |row| &row.id,
        SummaryRow::into_summary,
    )
}

pub fn delete(conn: &mut DbConn, id: &str) -> Result<(), DomainError> {
    let deleted = diesel::delete(report_snapshots::table.find(id)).execute(conn)?;
    if deleted == 0 {
        return Err(DomainError::NotFound(ENTITY));
    }
    Ok(())
}
