//! The per-backend escape hatch: the few statements diesel cannot run through the
//! `DbConn` enum (upserts, multi-row inserts) run here on the inner connection.

/// Runs the same diesel statement on whichever connection `DbConn` holds.
///
/// `with_backend!(conn, |c| diesel::insert_into(t).values(&rows).execute(c))`
#[macro_export]
macro_rules! with_backend {
    ($conn:expr, |$inner:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConn::Postgres($inner) => $body,
            $crate::db::DbConn::Sqlite($inner) => $body,
        }
    };
}
