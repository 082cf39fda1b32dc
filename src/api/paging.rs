//! Keyset paging as every list answers it: one page as JSON (`next_cursor`, the `Link` header,
//! `total` on request) or, with `Accept: text/csv`, the whole list streamed from the same start.
//! A list names its store function once; this file does the rest.

use actix_web::{HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;
use serde::Serialize;

use crate::api::csv;
use crate::api::list::{BY_ID, Cursor, Format, page_response};
use crate::api::schemas::timestamp;
use crate::db::{Database, DbConn};
use crate::domain::{DomainError, Gone, Listed, Page};
use crate::error::ApiError;

/// Where a row sits in a list's order: its sort key and its id (the store's page position).
pub type Position = (String, String);

/// A store function reading one page of a list whose query is `Q`: the rows after a
/// position, at most `limit` of them, and the position the next page starts after.
pub trait Fetch<Q, R>:
    Fn(&mut DbConn, &Q, Option<&Position>, usize) -> Result<Page<R>, DomainError>
{
}

impl<Q, R, F> Fetch<Q, R> for F where
    F: Fn(&mut DbConn, &Q, Option<&Position>, usize) -> Result<Page<R>, DomainError>
{
}

/// A store count of what a list's query matches, for `include_total=true`.
pub type Count<Q> = fn(&mut DbConn, &Q) -> Result<i64, DomainError>;

/// Which page of a list is asked for: the sort its cursors are made for, where the page
/// starts, and how many rows it holds (CSV ignores `limit` and streams the rest).
#[derive(Debug)]
pub struct Keyset {
    sort: &'static str,
    after: Option<Position>,
    limit: usize,
}

impl Keyset {
    /// A list sorted by `sort`; a cursor made for another sort is a 400.
    pub fn sorted(
        sort: &'static str,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> Result<Self, ApiError> {
        let after = cursor.map(|cursor| cursor.for_sort(sort)).transpose()?;
        Ok(Self { sort, after, limit })
    }

    /// A sub-list (a group's members, a consultation's responses…), paged in id order.
    pub fn by_id(cursor: Option<Cursor>, limit: usize) -> Result<Self, ApiError> {
        Self::sorted(BY_ID, cursor, limit)
    }
}

/// What a list reads: its query `Q` (filter, parent id…), the store function `fetch` that
/// reads one page of it, and the count for `total` where the list offers one.
pub struct Listing<Q, F> {
    query: Q,
    fetch: F,
    count: Option<Count<Q>>,
}

impl<Q, R, F> Listing<Q, F>
where
    F: Fn(&mut DbConn, &Q, Option<&Position>, usize) -> Result<Page<R>, DomainError>,
{
    /// `fetch` reads the rows of `query` after a position, at most `limit` of them.
    pub fn new(query: Q, fetch: F) -> Self {
        Self {
            query,
            fetch,
            count: None,
        }
    }

    /// Adds `total` (counted by `count`) to the JSON page when `wanted`.
    pub fn with_total(self, wanted: bool, count: Count<Q>) -> Self {
        Self {
            count: wanted.then_some(count),
            ..self
        }
    }
}

/// A list without a filter, read by a store function that takes the position to start after.
pub fn unfiltered<R>(
    fetch: impl Fn(&mut DbConn, Option<&Position>, usize) -> Result<Page<R>, DomainError>,
) -> Listing<(), impl Fetch<(), R>> {
    Listing::new(
        (),
        move |conn: &mut DbConn, _: &(), after: Option<&Position>, limit| fetch(conn, after, limit),
    )
}

/// A sub-list in id order, read by a store function that takes the id to start after; its
/// cursors carry no sort key.
pub fn by_id<R>(
    fetch: impl Fn(&mut DbConn, Option<&str>, usize) -> Result<Page<R>, DomainError>,
) -> Listing<(), impl Fetch<(), R>> {
    Listing::new(
        (),
        move |conn: &mut DbConn, _: &(), after: Option<&Position>, limit| {
            let (rows, next) = fetch(conn, after.map(|(_, id)| id.as_str()), limit)?;
            Ok((rows, next.map(|(_, id)| (String::new(), id))))
        },
    )
}

/// The page of a store that answers its rows and whether more follow: the next page starts
/// after the last row, whose place in the list's order is `position`.
pub fn next_after_last<R>(
    (rows, more): (Vec<R>, bool),
    position: impl FnOnce(&R) -> Position,
) -> Page<R> {
    let next = if more {
        rows.last().map(position)
    } else {
        None
    };
    (rows, next)
}

/// How a list goes out as CSV: the attachment's file name, its header row, and a row's cells.
pub struct CsvForm<W> {
    pub filename: &'static str,
    pub header: &'static [&'static str],
    pub record: W,
}

impl<W> CsvForm<W> {
    /// This form with `step` awaited once an export is sure to start (its first page read)
    /// and before its first byte goes out: an export refused at its first page never runs
    /// it, and a failing step refuses the export (contacts record who took each export).
    pub fn before_sending<'a>(
        self,
        step: impl Future<Output = Result<(), ApiError>> + 'a,
    ) -> CsvExport<'a, W> {
        CsvExport {
            form: self,
            before_sending: Some(Box::pin(step)),
        }
    }
}

/// A `CsvForm`, with what must happen before its export is sent, if anything.
pub struct CsvExport<'a, W> {
    form: CsvForm<W>,
    before_sending: Option<LocalBoxFuture<'a, Result<(), ApiError>>>,
}

impl<W> From<CsvForm<W>> for CsvExport<'_, W> {
    fn from(form: CsvForm<W>) -> Self {
        Self {
            form,
            before_sending: None,
        }
    }
}

/// One page of rows, as read for the JSON answer.
pub struct Paged<R> {
    pub rows: Vec<R>,
    /// Pass as `cursor` to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
    /// With `include_total=true` on a list that counts.
    pub total: Option<i64>,
}

/// Answers a list request: the page `keyset` asks for as the JSON body `json` makes of it,
/// or with `format` CSV the whole list from that page on (see `csv::Export`).
pub async fn answer<Q, R, F, W, B>(
    db: &Database,
    req: &HttpRequest,
    format: Format,
    keyset: Keyset,
    listing: Listing<Q, F>,
    csv: impl Into<CsvExport<'_, W>>,
    json: impl FnOnce(Paged<R>) -> B,
) -> Result<HttpResponse, ApiError>
where
    Q: Send + Sync + 'static,
    R: Send + 'static,
    F: Fetch<Q, R> + Send + Sync + 'static,
    W: Fn(R) -> Vec<String> + Send + Sync + 'static,
    B: Serialize,
{
    if format == Format::Json {
        return page(db, req, keyset, listing, json).await;
    }
    let Listing { query, fetch, .. } = listing;
    let CsvExport {
        form: CsvForm {
            filename,
            header,
            record,
        },
        before_sending,
    } = csv.into();
    let export = csv::Export::start(db.clone(), keyset.after, move |conn, after| {
        let (rows, next) = fetch(conn, &query, after.as_ref(), csv::PAGE)?;
        Ok((rows.into_iter().map(&record).collect(), next))
    })
    .await?;
    if let Some(step) = before_sending {
        step.await?;
    }
    Ok(export.respond(filename, header))
}

/// The page `keyset` asks for, as the JSON body `json` makes of it (for a list without a
/// CSV form).
pub async fn page<Q, R, F, B>(
    db: &Database,
    req: &HttpRequest,
    keyset: Keyset,
    listing: Listing<Q, F>,
    json: impl FnOnce(Paged<R>) -> B,
) -> Result<HttpResponse, ApiError>
where
    Q: Send + 'static,
    R: Send + 'static,
    F: Fetch<Q, R> + Send + 'static,
    B: Serialize,
{
    let Keyset { sort, after, limit } = keyset;
    let Listing {
        query,
        fetch,
        count,
    } = listing;
    let ((rows, next), total) = db
        .run(move |conn| {
            let page = fetch(conn, &query, after.as_ref(), limit)?;
            let total = count.map(|count| count(conn, &query)).transpose()?;
            Ok::<_, DomainError>((page, total))
        })
        .await?;
    let next_cursor = next.map(|(key, id)| Cursor::after(sort, key, id));
    let body = json(Paged {
        rows,
        next_cursor: next_cursor.clone(),
        total,
    });
    Ok(page_response(req, next_cursor.as_deref(), body))
}

/// A sync list's CSV row: the live record's cells from `live` (which leaves `deleted_at`, the
/// last column, empty), or for a tombstone only its id (the first column) and `deleted_at`.
pub fn listed_record<T>(
    header: &[&str],
    entry: Listed<T>,
    live: impl FnOnce(T) -> Vec<String>,
) -> Vec<String> {
    match entry {
        Listed::Live(record) => live(*record),
        Listed::Deleted(Gone { id, deleted_at, .. }) => {
            let mut row = vec![String::new(); header.len()];
            row[0] = id;
            row[header.len() - 1] = timestamp(deleted_at);
            row
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tombstone_row_holds_only_its_id_and_deletion_time() {
        let header = ["id", "name", "deleted_at"];
        let deleted_at = chrono::NaiveDate::from_ymd_opt(2026, 3, 31)
            .and_then(|day| day.and_hms_opt(10, 15, 0))
            .unwrap();
        let gone = Listed::<String>::Deleted(Gone::new("a".to_owned(), deleted_at));
        let row = listed_record(&header, gone, |_| unreachable!());
        assert_eq!(row, ["a", "", "2026-03-31T10:15:00.000000Z"]);
        let live = Listed::Live(Box::new("b".to_owned()));
        let row = listed_record(&header, live, |name| vec![name, String::new()]);
        assert_eq!(row, ["b", ""]);
    }
}
