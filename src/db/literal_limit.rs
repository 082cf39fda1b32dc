//! `LIMIT` written into the statement instead of bound as a parameter.
//!
//! A list's statement ends in `ORDER BY … LIMIT n`. Bound (`LIMIT $3`), PostgreSQL's cached
//! generic plan cannot know how few rows are wanted and looks far dearer than a plan made
//! for 51 rows, so the plan cache made a fresh plan at every execution: 0.3 ms of the
//! database's time for each page, as much as running the plan. Written in, each page size
//! is its own prepared statement with a plan that is made once; page sizes are few (the
//! API caps them), so the statement cache stays small.

use diesel::QueryResult;
use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};

/// `query LIMIT limit`, the number in the SQL. `query` must not have a limit of its own.
#[derive(Debug, Clone, Copy)]
pub struct LiteralLimit<Q> {
    query: Q,
    limit: u64,
}

impl<Q> LiteralLimit<Q> {
    pub fn new(query: Q, limit: u64) -> Self {
        Self { query, limit }
    }
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
