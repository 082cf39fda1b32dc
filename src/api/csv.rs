//! CSV exports: whole filtered lists streamed a page at a time, so memory stays flat however
//! long the list, with free text defused against spreadsheet formula injection.

use std::sync::Arc;

use actix_web::{HttpResponse, http::header, web};
use futures_util::stream;

use crate::db::{Database, DbConn};
use crate::domain::DomainError;
use crate::error::ApiError;

/// Rows fetched per query while streaming.
pub const PAGE: usize = 500;

/// One page of rows and where the next starts (`None` at the end).
pub type Fetched<P> = (Vec<Vec<String>>, Option<P>);

/// A streamed `text/csv` attachment whose first page has been read: `respond` streams it,
/// the header row first, then the pages `fetch` returns until it says there are no more.
///
/// The first page is read before the answer starts, so whatever refuses the request (an
/// unknown code in a filter, a forged cursor, the database being away) is still a problem
/// with its status; once the header row is sent, a failure can only cut the download short.
pub struct Export<P, F> {
    db: Database,
    fetch: Arc<F>,
    first: Fetched<P>,
}

impl<P, F> Export<P, F>
where
    P: Clone + Send + 'static,
    F: Fn(&mut DbConn, Option<P>) -> Result<Fetched<P>, DomainError> + Send + Sync + 'static,
{
    /// Reads the first page, from `start`.
    pub async fn start(db: Database, start: Option<P>, fetch: F) -> Result<Self, ApiError> {
        let fetch = Arc::new(fetch);
        let first = {
            let fetch = fetch.clone();
            db.run(move |conn| fetch(conn, start)).await?
        };
        Ok(Self { db, fetch, first })
    }

    pub fn respond(self, filename: &str, header: &'static [&'static str]) -> HttpResponse {
        enum Next<P> {
            First(Fetched<P>),
            Page(P),
            Done,
        }
        let Self { db, fetch, first } = self;
        let name = filename.to_owned();
        let body = stream::unfold(Next::First(first), move |next| {
            let db = db.clone();
            let fetch = fetch.clone();
            let name = name.clone();
            async move {
                let (page, after) = match next {
                    Next::Done => return None,
                    Next::First((page, after)) => {
                        let heading = header.iter().map(|h| (*h).to_owned()).collect();
                        (std::iter::once(heading).chain(page).collect(), after)
                    }
                    Next::Page(after) => match db.run(move |conn| fetch(conn, Some(after))).await {
                        Ok(fetched) => fetched,
                        Err(error) => {
                            let error = ApiError::from(error);
                            // The status is sent: the client sees a download cut short.
                            log::error!("the CSV export {name} stopped part way: {error}");
                            return Some((Err::<web::Bytes, ApiError>(error), Next::Done));
                        }
                    },
                };
                let next = after.map_or(Next::Done, Next::Page);
                Some((Ok(rows(page.into_iter())), next))
            }
        });
        HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ))
            .streaming(body)
    }
}

fn rows(rows: impl Iterator<Item = Vec<String>>) -> web::Bytes {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        // Writing to a Vec cannot fail.
        let _ = writer.write_record(&row);
    }
    web::Bytes::from(writer.into_inner().unwrap_or_default())
}

/// Spreadsheets run a cell that starts with = + - @ (or a tab or carriage return) as a
/// formula: free text is defused with a leading apostrophe (OWASP's advice for CSV
/// injection). Text that already starts with apostrophes before such a character gets one
/// more, so that `undefuse` can always tell an added apostrophe from the text's own.
pub fn defuse(text: &str) -> String {
    if needs_apostrophe(text) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// Defuses the cells of `row` (laid out as `header`) in the `defused` columns: a list's
/// export and its import name the same columns, so the import undoes exactly this.
pub fn defuse_columns(header: &[&str], defused: &[&str], row: &mut [String]) {
    for (cell, column) in row.iter_mut().zip(header) {
        if defused.contains(column) {
            *cell = defuse(cell);
        }
    }
}

/// The text `defuse` was given, from what it wrote: an import of the list's own CSV reads
/// the cells the export defused with this, so that an export imports again unchanged.
pub fn undefuse(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(text) if needs_apostrophe(text) => text,
        _ => cell,
    }
}

/// Whether `defuse` adds an apostrophe: the text starts, after any apostrophes of its own,
/// with a character a spreadsheet reads as the start of a formula.
fn needs_apostrophe(text: &str) -> bool {
    matches!(
        text.trim_start_matches('\'').chars().next(),
        Some('=' | '+' | '-' | '@' | '\t' | '\r')
    )
}

/// A date cell: `2026-03-31`, or empty.
pub fn date(value: Option<chrono::NaiveDate>) -> String {
    value.map(|day| day.to_string()).unwrap_or_default()
}

/// A yes/no cell: `true`, `false`, or empty when unknown (or withheld).
pub fn flag(value: Option<bool>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undefuse_gives_back_whatever_defuse_was_given() {
        for text in [
            "",
            "plain",
            "=SUM(A1)",
            "+44 161 496 0000",
            "-5",
            "@handle",
            "\tindent",
            "\rx",
            "'quoted'",
            "'=already",
            "''+twice",
            "'",
            "''",
            "it's",
            "a=b",
            " =spaced",
        ] {
            assert_eq!(undefuse(&defuse(text)), text, "{text:?}");
        }
        assert_eq!(defuse("+44"), "'+44");
        assert_eq!(defuse("'=x"), "''=x");
        assert_eq!(defuse("'x"), "'x");
        // An apostrophe before anything else is the text's own.
        assert_eq!(undefuse("'tis"), "'tis");
        // Every defused cell starts with an apostrophe, so no spreadsheet runs it.
        for text in ["=1", "+1", "-1", "@1", "'=1"] {
            assert!(defuse(text).starts_with('\''));
        }
    }
}
