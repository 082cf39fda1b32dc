//! `LIMIT` written into the statement instead of bound as a parameter.
//!
//! A list's statement ends in `ORDER BY … LIMIT n`. Bound (`LIMIT $3`), PostgreSQL's cached
//! generic plan cannot know how few rows are wanted and looks far dearer than a plan made
//! for 51 rows, so the plan cache made a fresh plan at every execution: 0.3 ms of the
//! database's time for each page, as much as running the plan. Written in, the number is
//! part of the statement, so each number is its own prepared statement, kept by diesel and
//! by PostgreSQL for the connection's life. The number written is therefore rounded up to
//! a step of 50 (plus one, for the row that tells whether there is a next page): a client
//! asking for every page size from 1 to 500 makes 11 statements, not 500, and the default
//! page of 50 reads exactly its 51 rows. Callers keep the rows they asked for.

use diesel::QueryResult;
use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};

/// The step the written limit is rounded up to (see the module's comment).
const STEP: u64 = 50;

/// `query LIMIT n`, the number in the SQL, `n` at least the rows wanted (see the module's
/// comment): the caller keeps the first `wanted`. `query` must not have a limit of its own.
#[derive(Debug, Clone, Copy)]
pub struct LiteralLimit<Q> {
    query: Q,
    limit: u64,
}

impl<Q> LiteralLimit<Q> {
    pub fn at_least(query: Q, wanted: u64) -> Self {
        Self {
            query,
            limit: written(wanted),
        }
    }
}

/// The limit written for `wanted` rows: 1, 51, 101, … (a step and one row).
fn written(wanted: u64) -> u64 {
    wanted.saturating_sub(1).div_ceil(STEP) * STEP + 1
}

impl<Q: Query> Query for LiteralLimit<Q> {
    type SqlType = Q::SqlType;
}

// The SQL differs by the number, so the statement cache keys it by its text.
impl<Q> QueryId for LiteralLimit<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: QueryFragment<DB>, DB: Backend> QueryFragment<DB> for LiteralLimit<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.query.walk_ast(out.reborrow())?;
        out.push_sql(" LIMIT ");
        out.push_sql(&self.limit.to_string());
        Ok(())
    }
}

impl<Q, Conn> diesel::RunQueryDsl<Conn> for LiteralLimit<Q> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_written_limit_covers_the_rows_wanted_in_few_steps() {
        assert_eq!(written(51), 51, "the default page reads exactly its rows");
        assert_eq!(written(1), 1);
        assert_eq!(written(2), 51);
        assert_eq!(written(52), 101);
        assert_eq!(written(501), 501);
        let sizes: std::collections::BTreeSet<u64> = (1..=501).map(written).collect();
        assert_eq!(sizes.len(), 11);
        assert!((0..=1000).all(|wanted| written(wanted) >= wanted));
    }
}
