//! Writing, sealing, reading and pruning the change feed.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::{Map, Value};

use super::{Change, Position, StoredChange};
use crate::db::DbConn;
use crate::db::literal_limit::LiteralLimit;
use crate::db::schema::{change_batches, change_events, change_feed};
use crate::domain::{DomainError, Gone, new_id, now};

/// Inserts `changes` under `batch` (they have no position until the batch is sealed) and
/// queues their webhook deliveries.
pub fn append(
    conn: &mut DbConn,
    batch: &str,
    at: NaiveDateTime,
    changes: &[Change],
) -> QueryResult<()> {
    // `seq` is the order within the write: a multi-row insert numbers its rows in the
    // order they are listed, on both backends.
    let written: Vec<(String, &str)> = changes
        .iter()
        .map(|change| (new_id(), change.event_type))
        .collect();
    for (chunk, ids) in changes
        .chunks(CHANGES_PER_STATEMENT)
        .zip(written.chunks(CHANGES_PER_STATEMENT))
    {
        let rows: Vec<_> = chunk
            .iter()
            .zip(ids)
            .map(|(change, (id, _))| {
                (
                    change_events::batch.eq(batch),
                    change_events::id.eq(id),
                    change_events::event_type.eq(change.event_type),
                    change_events::occurred_at.eq(at),
                    change_events::entity_type.eq(change.entity_type),
                    change_events::entity_id.eq(&change.entity_id),
                    change_events::parent_id.eq(&change.parent_id),
                    change_events::detail.eq(Value::Object(change.detail.clone()).to_string()),
                )
            })
            .collect();
        // Multi-row inserts do not compile through the connection enum.
        crate::with_backend!(&mut *conn, |c| diesel::insert_into(change_events::table)
            .values(&rows)
            .execute(c))?;
    }
    // The webhooks' outbox, in the same transaction.
    crate::domain::webhooks::store::enqueue(conn, &written, at)
}

/// Changes to an insert: 8 values each, well within both backends' limits.
const CHANGES_PER_STATEMENT: usize = 500;

/// Gives `batch` the next commit number. The update locks the feed's one row until the
/// transaction ends (PostgreSQL; SQLite has one writer at a time anyway), so the next write
/// to seal waits for this one to commit: numbers are given, and become visible, in order.
pub fn seal(conn: &mut DbConn, batch: &str) -> QueryResult<()> {
    diesel::update(change_feed::table.find(1))
        .set(change_feed::last_commit.eq(change_feed::last_commit + 1))
        .execute(conn)?;
    let commit: i64 = change_feed::table
        .find(1)
        .select(change_feed::last_commit)
        .first(conn)?;
    diesel::insert_into(change_batches::table)
        .values((
            change_batches::batch.eq(batch),
            change_batches::commit_number.eq(commit),
            change_batches::committed_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// The feed's extent: its last commit, and the last one retention removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    pub head: i64,
    pub pruned_through: i64,
}

pub fn extent(conn: &mut DbConn) -> QueryResult<Extent> {
    let (head, pruned_through) = change_feed::table
        .find(1)
        .select((change_feed::last_commit, change_feed::pruned_through))
        .first(conn)?;
    Ok(Extent {
        head,
        pruned_through,
    })
}

/// Which changes a reader is shown.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// The entity types the reader may read.
    pub entity_types: Vec<&'static str>,
    /// Event types, exact; empty for every type.
    pub types: Vec<String>,
    /// Event type prefixes (`membership.`).
    pub type_prefixes: Vec<String>,
}

/// A page of the feed and where the next one starts.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedPage {
    pub changes: Vec<StoredChange>,
    pub next: Position,
}

/// Why a page cannot be read from a position.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Retention has removed changes after the position: the reader must sync in full.
    #[error("changes after this position have been removed")]
    Expired,
    /// The position is past the feed's end: not one this feed gave (another database's, or
    /// this one restored from a backup since). The reader must sync in full.
    #[error("this position is ahead of the feed")]
    Ahead,
    #[error(transparent)]
    Domain(#[from] DomainError),
}

impl From<diesel::result::Error> for ReadError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Domain(error.into())
    }
}

impl From<crate::db::DbError> for ReadError {
    fn from(error: crate::db::DbError) -> Self {
        Self::Domain(error.into())
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = change_events)]
struct Row {
    #[diesel(select_expression = change_batches::commit_number)]
    commit: i64,
    seq: i64,
    id: String,
    event_type: String,
    occurred_at: NaiveDateTime,
    entity_type: String,
    entity_id: String,
    parent_id: Option<String>,
    detail: String,
}

/// Up to `limit` changes after `after` (from the oldest kept when `None`) that `filter`
/// lets through, in commit order. The feed's head is read first and the page stops there:
/// every commit up to the head is visible to the page's query, so `next` never passes a
/// change the reader has not been shown.
pub fn page(
    conn: &mut DbConn,
    after: Option<Position>,
    limit: i64,
    filter: &Filter,
) -> Result<FeedPage, ReadError> {
    use change_batches as b;
    use change_events as e;
    let extent = extent(conn)?;
    let start = Position::end_of(extent.pruned_through);
    let after = after.unwrap_or(start);
    if extent.pruned_through > 0 && after < start {
        return Err(ReadError::Expired);
    }
    if after.commit > extent.head {
        return Err(ReadError::Ahead);
    }
    let mut query = e::table
        .inner_join(b::table)
        .filter(b::commit_number.le(extent.head))
        .filter(
            b::commit_number
                .gt(after.commit)
                .or(b::commit_number.eq(after.commit).and(e::seq.gt(after.seq))),
        )
        .filter(e::entity_type.eq_any(filter.entity_types.clone()))
        .into_boxed();
    if !filter.types.is_empty() || !filter.type_prefixes.is_empty() {
        let mut wanted: Box<
            dyn BoxableExpression<_, crate::db::Backend, SqlType = diesel::sql_types::Bool>,
        > = Box::new(e::event_type.eq_any(filter.types.clone()));
        for prefix in &filter.type_prefixes {
            wanted = Box::new(wanted.or(e::event_type.like(format!("{prefix}%"))));
        }
        query = query.filter(wanted);
    }
    let query = query
        .order((b::commit_number.asc(), e::seq.asc()))
        .select(Row::as_select());
    let limit = limit.max(0);
    let mut rows: Vec<Row> = LiteralLimit::at_least(query, limit as u64).load(conn)?;
    rows.truncate(limit as usize);
    let full = rows.len() as i64 == limit;
    let changes: Vec<StoredChange> = rows.into_iter().map(stored).collect();
    let next = match changes.last() {
        Some(last) if full => last.position,
        // Fewer than asked: nothing else up to the head is for this reader.
        _ => Position::end_of(extent.head).max(after),
    };
    Ok(FeedPage { changes, next })
}

/// The change with event id `id`, if it is committed and still kept.
pub fn by_id(conn: &mut DbConn, id: &str) -> QueryResult<Option<StoredChange>> {
    use change_batches as b;
    use change_events as e;
    let row: Option<Row> = e::table
        .inner_join(b::table)
        .filter(e::id.eq(id))
        .select(Row::as_select())
        .first(conn)
        .optional()?;
    Ok(row.map(stored))
}

fn stored(row: Row) -> StoredChange {
    let detail = match serde_json::from_str(&row.detail) {
        Ok(Value::Object(detail)) => detail,
        _ => Map::new(),
    };
    StoredChange {
        position: Position {
            commit: row.commit,
            seq: row.seq,
        },
        id: row.id,
        event_type: row.event_type,
        occurred_at: row.occurred_at,
        entity_type: row.entity_type,
        entity_id: row.entity_id,
        parent_id: row.parent_id,
        detail,
    }
}

/// Removes the changes of commits made before `cutoff` (retention) and returns how many
/// commits went. A reader whose position falls among them is told to sync in full.
pub fn prune(conn: &mut DbConn, cutoff: NaiveDateTime) -> QueryResult<usize> {
    use change_batches as b;
    let through: Option<i64> = b::table
        .filter(b::committed_at.lt(cutoff))
        .select(diesel::dsl::max(b::commit_number))
        .first(conn)?;
    let Some(through) = through else {
        return Ok(0);
    };
    diesel::delete(
        change_events::table.filter(
            change_events::batch.eq_any(
                b::table
                    .filter(b::commit_number.le(through))
                    .select(b::batch),
            ),
        ),
    )
    .execute(conn)?;
    let commits = diesel::delete(b::table.filter(b::commit_number.le(through))).execute(conn)?;
    diesel::update(change_feed::table.find(1))
        .filter(change_feed::pruned_through.lt(through))
        .set(change_feed::pruned_through.eq(through))
        .execute(conn)?;
    Ok(commits)
}

/// When a record the feed speaks of was deleted (and, for an organisation, what it was
/// merged into), if it was: soft deletes keep the row. `None` for a record that is live,
/// never existed, or is of a kind deleted for good.
pub fn gone(conn: &mut DbConn, entity_type: &str, id: &str) -> QueryResult<Option<Gone>> {
    use super::entity;
    use crate::db::schema::{consultations, contacts, expert_groups, organisations};
    let found: Option<(Option<NaiveDateTime>, Option<String>)> = match entity_type {
        entity::ORGANISATION | entity::MEMBERSHIP => organisations::table
            .find(id)
            .select((organisations::deleted_at, organisations::merged_into))
            .first(conn)
            .optional()?,
        entity::CONTACT => contacts::table
            .find(id)
            .select(contacts::deleted_at)
            .first(conn)
            .optional()?
            .map(|at| (at, None)),
        entity::EXPERT_GROUP => expert_groups::table
            .find(id)
            .select(expert_groups::deleted_at)
            .first(conn)
            .optional()?
            .map(|at| (at, None)),
        entity::CONSULTATION => consultations::table
            .find(id)
            .select(consultations::deleted_at)
            .first(conn)
            .optional()?
            .map(|at| (at, None)),
        _ => None,
    };
    Ok(match found {
        Some((Some(deleted_at), merged_into)) => Some(Gone {
            merged_into,
            ..Gone::new(id.to_owned(), deleted_at)
        }),
        _ => None,
    })
}
