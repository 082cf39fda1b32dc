//! The database layer: one connection type over SQLite and PostgreSQL, the pool, embedded
//! migrations, and the run-on-the-pool helper every handler uses.

pub mod backend;
pub mod schema;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, Pool, PooledConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::config::DatabaseUrl;
use crate::domain::audit;
use crate::error::ApiError;

/// One code path for both backends; per-backend code matches on this enum in `backend.rs`.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// The SQL backend behind `DbConn`, for queries built with `into_boxed`.
pub type Backend = <DbConn as Connection>::Backend;

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// How long a request waits for a pooled connection before it is told to retry (503).
/// With the lock waits below, a request that meets both still answers within 2 seconds.
const CHECKOUT_TIMEOUT: Duration = Duration::from_millis(1000);
/// Memory for each sort or hash of a report query, per connection.
const POSTGRES_WORK_MEM: &str = "32MB";
/// A query that waits this long for a lock gives up, so a held lock cannot hang requests.
const POSTGRES_LOCK_TIMEOUT_MS: u32 = 900;
const POSTGRES_STATEMENT_TIMEOUT_MS: u32 = 10_000;
const SQLITE_BUSY_TIMEOUT_MS: u32 = 900;

/// Opens connections for the pool, picking the backend from the URL scheme. Unlike the
/// derived `establish`, it reports the real cause when a connection cannot be made.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: DatabaseUrl,
}

impl ConnectionManager {
    pub fn new(url: DatabaseUrl) -> Self {
        Self { url }
    }
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConn;
    type Error = ConnectionError;

    fn connect(&self) -> Result<DbConn, ConnectionError> {
        match &self.url {
            DatabaseUrl::Postgres(url) => {
                let mut conn = PgConnection::establish(&with_connect_timeout(url))?;
                // JIT compilation costs more than it saves on queries this size: with it the
                // composition report took 2.3 s on 100,000 organisations, 1.6 s without.
                // Reports hash-join the population with tables of 200,000-700,000 rows; the
                // default 4 MB of work_mem spills those hashes to disk (about 25% slower).
                conn.batch_execute(&format!(
                    "SET statement_timeout = {POSTGRES_STATEMENT_TIMEOUT_MS}; \
                     SET lock_timeout = {POSTGRES_LOCK_TIMEOUT_MS}; SET TIME ZONE 'UTC'; \
                     SET jit = off; SET work_mem = '{POSTGRES_WORK_MEM}';"
                ))
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConn::Postgres(conn))
            }
            DatabaseUrl::Sqlite(path) => {
                let path = path.to_str().ok_or_else(|| {
                    ConnectionError::BadConnection("the SQLite path is not valid UTF-8".into())
                })?;
                let mut conn = SqliteConnection::establish(path)?;
                conn.batch_execute(&format!(
                    "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; \
                     PRAGMA synchronous = NORMAL;"
                ))
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), ConnectionError> {
        conn.batch_execute("SELECT 1")
            .map_err(ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, _conn: &mut DbConn) -> bool {
        false
    }
}

/// libpq waits for ever on an unreachable host unless told otherwise.
fn with_connect_timeout(url: &str) -> String {
    if url.contains("connect_timeout=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&connect_timeout=2")
    } else {
        format!("{url}?connect_timeout=2")
    }
}

pub type DbPool = Pool<ConnectionManager>;
pub type PooledConn = PooledConnection<ConnectionManager>;

/// The pool plus what the rest of the service needs to know about it.
#[derive(Clone)]
pub struct Database {
    pool: DbPool,
}

impl Database {
    /// Connects, prepares the database (WAL, migrations) and returns the pool. Fails when the
    /// database cannot be reached: the service should not start without its migrations.
    pub fn connect(url: &DatabaseUrl, pool_size: u32) -> Result<Self, StartupError> {
        if let DatabaseUrl::Sqlite(path) = url
            && let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty())
        {
            std::fs::create_dir_all(folder)
                .map_err(|e| StartupError(format!("cannot create {}: {e}", folder.display())))?;
        }
        let manager = ConnectionManager::new(url.clone());
        // Prepare on one connection first: WAL is a property of the file, set once, and
        // setting it from several new connections at once races.
        let mut conn = manager
            .connect()
            .map_err(|e| StartupError(format!("cannot connect to {url}: {e}")))?;
        prepare(&mut conn).map_err(|e| StartupError(format!("cannot prepare {url}: {e}")))?;
        drop(conn);

        let pool = Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(1))
            .connection_timeout(CHECKOUT_TIMEOUT)
            .build(manager)
            .map_err(|e| StartupError(format!("cannot open a pool on {url}: {e}")))?;
        Ok(Self { pool })
    }

    /// A pool that connects lazily, for tests that point at a database that is not there.
    pub fn connect_lazily(url: &DatabaseUrl, pool_size: u32) -> Self {
        let pool = Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(0))
            .connection_timeout(CHECKOUT_TIMEOUT)
            .build_unchecked(ConnectionManager::new(url.clone()));
        Self { pool }
    }

    /// Runs `work` on a pooled connection on the blocking thread pool (diesel is synchronous).
    /// An exhausted or unreachable pool becomes a 503 within `CHECKOUT_TIMEOUT`.
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        let pool = self.pool.clone();
        actix_web::web::block(move || {
            let mut conn = pool
                .get()
                .map_err(|e| ApiError::unavailable(e.to_string()))?;
            work(&mut conn).map_err(Into::into)
        })
        .await
        .map_err(|e| ApiError::internal(format!("blocking task failed: {e}")))?
    }

    /// Runs `work` as one transaction that also writes its audit events: `work` records what
    /// it changed in the log, and the events are inserted before the commit. A write that
    /// fails writes no event; a write that recorded no event is refused (rolled back), so
    /// nothing changes unaccounted for.
    pub async fn write<T, F>(&self, context: audit::Context, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConn, &mut audit::Log) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        self.run(move |conn| {
            write_transaction(conn, |conn| {
                let mut log = audit::Log::new(context);
                let value = work(conn, &mut log)?;
                if log.is_empty() {
                    return Err(ApiError::internal(
                        "a write recorded no audit event; it was rolled back",
                    ));
                }
                log.flush(conn)?;
                Ok(value)
            })
        })
        .await
    }

    /// How many connections the pool may open: work is split across connections only when
    /// there are at least two.
    pub fn max_connections(&self) -> u32 {
        self.pool.max_size()
    }

    /// `SELECT 1` through the pool: is the database answering right now?
    /// A connection for work outside requests: start-up and the admin commands.
    pub fn connection(&self) -> Result<PooledConn, r2d2::PoolError> {
        self.pool.get()
    }

    pub async fn ping(&self) -> Result<(), ApiError> {
        self.run(|conn| conn.batch_execute("SELECT 1")).await
    }
}

/// Runs `work` in a transaction meant to write. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`): a deferred transaction that reads first and writes later cannot wait
/// for another writer (SQLite refuses the upgrade at once to avoid a deadlock), so two
/// writers of one row would see "busy" instead of one waiting and then being told it is
/// stale. Transactions opened inside `work` become savepoints, as with `transaction`.
fn write_transaction<T>(
    conn: &mut DbConn,
    work: impl FnOnce(&mut DbConn) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    fn sqlite(conn: &mut DbConn) -> Option<&mut SqliteConnection> {
        match conn {
            DbConn::Sqlite(c) => Some(c),
            DbConn::Postgres(_) => None,
        }
    }
    let Some(c) = sqlite(conn) else {
        return conn.transaction(work);
    };
    AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
    let outcome = work(conn);
    let Some(c) = sqlite(conn) else {
        return outcome;
    };
    match outcome {
        Ok(value) => match AnsiTransactionManager::commit_transaction(c) {
            Ok(()) => Ok(value),
            Err(error) => {
                // A commit that fails leaves the transaction open: end it before reporting.
                let _ = AnsiTransactionManager::rollback_transaction(c);
                Err(error.into())
            }
        },
        Err(error) => {
            AnsiTransactionManager::rollback_transaction(c)?;
            Err(error)
        }
    }
}

/// Journal mode, migrations: what a database needs before the first request.
fn prepare(conn: &mut DbConn) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    match conn {
        DbConn::Sqlite(c) => {
            c.batch_execute("PRAGMA journal_mode = WAL;")?;
            c.run_pending_migrations(SQLITE_MIGRATIONS)?;
        }
        DbConn::Postgres(c) => {
            // A migration that rewrites a large table may take longer than any request may;
            // requests keep their timeout (this connection goes back to the pool after).
            c.batch_execute("SET statement_timeout = 0;")?;
            let migrated = c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|_| ());
            c.batch_execute(&format!(
                "SET statement_timeout = {POSTGRES_STATEMENT_TIMEOUT_MS};"
            ))?;
            migrated?;
        }
    }
    crate::domain::taxonomies::seed_defaults(conn)?;
    crate::domain::reports::benchmarks::seed_defaults(conn)?;
    crate::domain::contacts::store::key_emails(conn)?;
    Ok(())
}

/// Why the service could not start, in one line for the operator.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartupError(pub String);

pub use r2d2::Error as PoolError;
