//! The database layer: one connection type over SQLite and PostgreSQL, the pool, embedded
//! migrations, and the run-on-the-pool and write-transaction helpers every layer above uses.
//! It knows nothing above it: its failures are `DbError`, which the layers above convert.

pub mod backend;
pub mod literal_limit;
pub mod schema;

use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, Pool, PooledConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::DatabaseUrl;

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
    /// Every transaction read-only (a replica's pool: a write there is a bug, not a lag).
    read_only: bool,
}

impl ConnectionManager {
    pub fn new(url: DatabaseUrl) -> Self {
        Self {
            url,
            read_only: false,
        }
    }
}

/// A pooled connection, and when it was opened or last asked whether it is still there
/// (`SELECT 1`): the pool asks again only once that is `TRUSTED_FOR` ago. Asking at
/// every checkout was a round trip more for each of a read's two checkouts (the session's,
/// then the handler's): a single organisation took five round trips instead of three.
pub struct Pooled {
    conn: DbConn,
    checked_at: Instant,
}

/// How long a connection that answered is handed out without asking it again. After the
/// database restarts, a connection is found dead at the latest this long after it was last
/// asked; until then a request on it fails as the database being unavailable (503).
const TRUSTED_FOR: Duration = Duration::from_secs(1);

impl std::ops::Deref for Pooled {
    type Target = DbConn;

    fn deref(&self) -> &DbConn {
        &self.conn
    }
}

impl std::ops::DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut DbConn {
        &mut self.conn
    }
}

impl ManageConnection for ConnectionManager {
    type Connection = Pooled;
    type Error = ConnectionError;

    fn connect(&self) -> Result<Pooled, ConnectionError> {
        let conn = self.open()?;
        Ok(Pooled {
            conn,
            checked_at: Instant::now(),
        })
    }

    fn is_valid(&self, pooled: &mut Pooled) -> Result<(), ConnectionError> {
        if pooled.checked_at.elapsed() < TRUSTED_FOR {
            return Ok(());
        }
        pooled
            .conn
            .batch_execute("SELECT 1")
            .map_err(ConnectionError::CouldntSetupConfiguration)?;
        pooled.checked_at = Instant::now();
        Ok(())
    }

    fn has_broken(&self, _conn: &mut Pooled) -> bool {
        false
    }
}

impl ConnectionManager {
    /// A new connection to the URL's database, set up as the service uses it.
    fn open(&self) -> Result<DbConn, ConnectionError> {
        match &self.url {
            DatabaseUrl::Postgres(url) => {
                let mut conn = PgConnection::establish(&libpq_url(url))?;
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
                if self.read_only {
                    conn.batch_execute("SET default_transaction_read_only = on;")
                        .map_err(ConnectionError::CouldntSetupConfiguration)?;
                }
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
}

/// The URL libpq is given: the operator's, with two defaults for what it leaves unsaid.
/// - `connect_timeout=2`: libpq waits for ever on an unreachable host unless told otherwise.
/// - `sslmode=disable` for a server on this machine (a loopback address, `localhost`, or a
///   Unix socket). libpq's own default, `prefer`, encrypts a connection that never leaves the
///   machine and checks no certificate: it protects nothing there, and cost 8–20% of the
///   service's CPU on reads. `sslmode` in the URL, or `PGSSLMODE`, is always obeyed.
fn libpq_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        // A URL the URL standard cannot read (several hosts, say) still gets its timeout.
        let separator = if url.contains('?') { '&' } else { '?' };
        return match url.contains("connect_timeout=") {
            true => url.to_owned(),
            false => format!("{url}{separator}connect_timeout=2"),
        };
    };
    let given: Vec<String> = parsed
        .query_pairs()
        .map(|(key, _)| key.into_owned())
        .collect();
    let said = |key: &str| given.iter().any(|k| k == key);
    let mut defaults = Vec::new();
    if !said("connect_timeout") {
        defaults.push(("connect_timeout", "2"));
    }
    if !said("sslmode") && std::env::var_os("PGSSLMODE").is_none() && is_local(&parsed) {
        defaults.push(("sslmode", "disable"));
    }
    if defaults.is_empty() {
        return url.to_owned();
    }
    parsed.query_pairs_mut().extend_pairs(defaults);
    parsed.into()
}

/// Whether the URL's server is on this machine.
fn is_local(url: &url::Url) -> bool {
    // A `host` parameter (a socket directory, or another host) overrides the URL's own.
    let host = url
        .query_pairs()
        .find(|(key, _)| key == "host")
        .map(|(_, value)| value.into_owned());
    match host {
        Some(host) => host.starts_with('/') || host == "localhost",
        None => match url.host() {
            None => true,
            // PostgreSQL URLs are not "special" to the URL standard: an IPv4 address comes
            // back as a name.
            Some(url::Host::Domain(name)) => {
                name.is_empty()
                    || name == "localhost"
                    || name
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|address| address.is_loopback())
            }
            Some(url::Host::Ipv4(address)) => address.is_loopback(),
            Some(url::Host::Ipv6(address)) => address.is_loopback(),
        },
    }
}

pub type DbPool = Pool<ConnectionManager>;
pub type PooledConn = PooledConnection<ConnectionManager>;

/// How long a report waits for one of its connections before it is told to retry (503).
const REPORT_SLOT_WAIT: Duration = Duration::from_millis(1000);

/// The pool plus what the rest of the service needs to know about it.
#[derive(Clone)]
pub struct Database {
    pool: DbPool,
    /// Connections report work may hold at once: half the pool (at least one). A report
    /// runs for seconds on a large membership, sign-ins and reads for milliseconds; with
    /// no cap a few reports held every connection and sign-ins waited into 503s.
    reports: Arc<Semaphore>,
    deferred: Arc<Deferred>,
}

/// The connections report work may use for a part of the pool of their own.
fn report_connections(pool_size: u32) -> usize {
    (pool_size as usize / 2).max(1)
}

/// One report's right to a pooled connection, held while it runs (see `Database::reports`).
pub struct ReportSlot {
    _permit: OwnedSemaphorePermit,
    reports: Arc<Semaphore>,
}

impl ReportSlot {
    /// A second connection for work that can run in parallel, when one is free right now:
    /// never waited for, so a report waiting for its first slot is not kept out by it.
    pub fn another(&self) -> Option<OwnedSemaphorePermit> {
        self.reports.clone().try_acquire_owned().ok()
    }
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
        Ok(Self::with_pool(pool))
    }

    fn with_pool(pool: DbPool) -> Self {
        let reports = Arc::new(Semaphore::new(report_connections(pool.max_size())));
        let deferred = Arc::new(Deferred {
            sender: OnceLock::new(),
            waiting: Arc::new(AtomicUsize::new(0)),
        });
        Self {
            pool,
            reports,
            deferred,
        }
    }

    /// Runs `work`, a write on the side of a read (the audit event of an export), at once
    /// when the database can take it now, else hands it to a background writer that writes
    /// it, in order, as soon as it can: the read never waits for the write lock. `what`
    /// names the write in the log.
    pub async fn write_soon<F>(&self, what: String, work: F) -> Result<(), DbError>
    where
        F: Fn(&mut DbConn) -> QueryResult<()> + Send + Sync + 'static,
    {
        let work = Arc::new(work);
        let now = work.clone();
        let written = self
            .run(move |conn| write_now(conn, |conn| now(conn)).map_err(DbError::from))
            .await?;
        if written.is_none() {
            log::info!("the write lock is held: {what} will be written later");
            let work: SideWrite = Box::new(move |conn| work(conn));
            self.deferred.send(&self.pool, Pending { what, work });
        }
        Ok(())
    }

    /// Waits up to `limit` for deferred writes (`write_soon`) to be written (at shutdown);
    /// returns how many are still waiting.
    pub fn finish_deferred_writes(&self, limit: Duration) -> usize {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let waiting = self.deferred.waiting.load(AtomicOrdering::SeqCst);
            if waiting == 0 || std::time::Instant::now() >= deadline {
                return waiting;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A pool on a PostgreSQL read replica, for reports: no migrations (the primary has run
    /// them, and a replica refuses writes), every transaction read-only. Connects lazily, so
    /// a replica that is away makes reports answer 503 rather than stop start-up.
    pub fn connect_replica(url: &DatabaseUrl, pool_size: u32) -> Self {
        let manager = ConnectionManager {
            url: url.clone(),
            read_only: true,
        };
        let pool = Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(0))
            .connection_timeout(CHECKOUT_TIMEOUT)
            .build_unchecked(manager);
        Self::with_pool(pool)
    }

    /// A pool that connects lazily, for tests that point at a database that is not there.
    pub fn connect_lazily(url: &DatabaseUrl, pool_size: u32) -> Self {
        let pool = Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(0))
            .connection_timeout(CHECKOUT_TIMEOUT)
            .build_unchecked(ConnectionManager::new(url.clone()));
        Self::with_pool(pool)
    }

    /// A slot for report work, waited for up to `REPORT_SLOT_WAIT`; then 503, so reports
    /// queue among themselves and never for the connections kept for everything else.
    pub async fn report_slot(&self) -> Result<ReportSlot, DbError> {
        let wait = tokio::time::timeout(REPORT_SLOT_WAIT, self.reports.clone().acquire_owned());
        match wait.await {
            Ok(Ok(permit)) => Ok(ReportSlot {
                _permit: permit,
                reports: self.reports.clone(),
            }),
            _ => Err(DbError::Unavailable(
                "every connection reports may use is busy with other reports".to_owned(),
            )),
        }
    }

    /// Runs `work` on a pooled connection on the blocking thread pool (diesel is synchronous).
    /// An exhausted or unreachable pool becomes `DbError::Unavailable` within
    /// `CHECKOUT_TIMEOUT`; the answer keeps `work`'s own error type.
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        actix_web::web::block(move || {
            let mut conn = pool
                .get()
                .map_err(|e| DbError::Unavailable(e.to_string()))?;
            work(&mut conn)
        })
        .await
        .map_err(|e| DbError::Task(e.to_string()))?
    }

    /// Runs `work` on the pool as one write transaction (see `write_transaction`): all of it
    /// commits or none of it does. The audit trail's writes build on this (`audit::commit`).
    pub async fn transaction<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        self.run(move |conn| write_transaction(conn, work)).await
    }

    /// `SELECT 1` through the pool: is the database answering right now?
    /// A connection for work outside requests: start-up and the admin commands.
    pub fn connection(&self) -> Result<PooledConn, r2d2::PoolError> {
        self.pool.get()
    }

    pub async fn ping(&self) -> Result<(), DbError> {
        self.run(|conn| conn.batch_execute("SELECT 1").map_err(DbError::from))
            .await
    }
}

/// Runs `work` in a transaction meant to write. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`): a deferred transaction that reads first and writes later cannot wait
/// for another writer (SQLite refuses the upgrade at once to avoid a deadlock), so two
/// writers of one row would see "busy" instead of one waiting and then being told it is
/// stale. Transactions opened inside `work` become savepoints, as with `transaction`.
pub fn write_transaction<T, E: From<diesel::result::Error>>(
    conn: &mut DbConn,
    work: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E> {
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

/// Runs `work` as a write transaction only if it can have its locks at once: `Ok(None)`
/// when another writer holds them (SQLite's write lock; on PostgreSQL a row or table lock),
/// so a read that writes something on the side never waits behind a long import.
pub fn write_now<T>(
    conn: &mut DbConn,
    work: impl FnOnce(&mut DbConn) -> QueryResult<T>,
) -> QueryResult<Option<T>> {
    let outcome = match conn {
        DbConn::Sqlite(_) => {
            conn.batch_execute("PRAGMA busy_timeout = 0;")?;
            let outcome = write_transaction(conn, work);
            conn.batch_execute(&format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS};"))?;
            outcome
        }
        // `SET LOCAL` ends with the transaction; 0 would mean "wait for ever".
        DbConn::Postgres(_) => conn.transaction(|conn| {
            conn.batch_execute("SET LOCAL lock_timeout = 1;")?;
            work(conn)
        }),
    };
    match outcome {
        Err(diesel::result::Error::DatabaseError(_, info)) if is_lock_held(info.message()) => {
            Ok(None)
        }
        outcome => outcome.map(Some),
    }
}

/// Messages of a lock that another connection holds (SQLite, then PostgreSQL).
fn is_lock_held(message: &str) -> bool {
    [
        "database is locked",
        "database is busy",
        "canceling statement due to lock timeout",
        "could not obtain lock",
    ]
    .iter()
    .any(|pattern| message.contains(pattern))
}

/// A write on the side of a read (see `Database::write_soon`); it may run more than once
/// when the database is away.
type SideWrite = Box<dyn Fn(&mut DbConn) -> QueryResult<()> + Send>;

/// A side write that could not be written at once, on its way to the database.
struct Pending {
    what: String,
    work: SideWrite,
}

/// A thread that writes deferred side writes, in order, waiting for the lock as long as it
/// takes; started at the first deferral.
struct Deferred {
    sender: OnceLock<Mutex<mpsc::Sender<Pending>>>,
    waiting: Arc<AtomicUsize>,
}

impl Deferred {
    fn send(&self, pool: &DbPool, pending: Pending) {
        let sender = self.sender.get_or_init(|| {
            let (sender, receiver) = mpsc::channel();
            let (pool, waiting) = (pool.clone(), self.waiting.clone());
            std::thread::Builder::new()
                .name("deferred-writes".to_owned())
                .spawn(move || write_deferred(&pool, &receiver, &waiting))
                .expect("a thread for deferred writes");
            Mutex::new(sender)
        });
        self.waiting.fetch_add(1, AtomicOrdering::SeqCst);
        let what = pending.what.clone();
        let sent = sender
            .lock()
            .map_err(|_| ())
            .and_then(|sender| sender.send(pending).map_err(|_| ()));
        if sent.is_err() {
            self.waiting.fetch_sub(1, AtomicOrdering::SeqCst);
            log::error!("the deferred writer has stopped: {what} is lost");
        }
    }
}

fn write_deferred(pool: &DbPool, receiver: &mpsc::Receiver<Pending>, waiting: &AtomicUsize) {
    while let Ok(pending) = receiver.recv() {
        let mut pause = Duration::from_millis(100);
        loop {
            let written = pool
                .get()
                .map_err(|e| DbError::Unavailable(e.to_string()))
                .and_then(|mut conn| {
                    write_transaction(&mut conn, |conn| {
                        (pending.work)(conn).map_err(DbError::from)
                    })
                });
            match written {
                Ok(()) => break,
                Err(error) if error.is_transient() => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Err(error) => {
                    log::error!("{} could not be written: {error}", pending.what);
                    break;
                }
            }
        }
        waiting.fetch_sub(1, AtomicOrdering::SeqCst);
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
    Ok(())
}

/// Why the database could not do what was asked. The layers above convert it: the HTTP
/// layer into a problem (503 for `Unavailable`), the domain into its own error.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No connection (or report slot) could be had in time: the caller may retry.
    #[error("{0}")]
    Unavailable(String),
    /// The blocking task that ran the work failed (it panicked).
    #[error("blocking task failed: {0}")]
    Task(String),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}

impl DbError {
    /// Whether the database was busy or away for a moment, so that a retry may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unavailable(_) => true,
            Self::Task(_) => false,
            Self::Query(error) => is_transient(error),
        }
    }
}

/// Whether `error` is the database being busy or away for a moment (a lost connection, a
/// lock or statement timeout, a serialization failure), not a fault of the query.
pub fn is_transient(error: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind as Kind, Error};
    const TRANSIENT: &[&str] = &[
        "database is locked",
        "database is busy",
        "canceling statement due to statement timeout",
        "canceling statement due to lock timeout",
        "could not obtain lock",
        "deadlock detected",
        "terminating connection",
        "server closed the connection",
        "connection to server",
        "the database system is shutting down",
        "the database system is starting up",
    ];
    match error {
        Error::DatabaseError(
            Kind::ClosedConnection | Kind::UnableToSendCommand | Kind::SerializationFailure,
            _,
        ) => true,
        Error::DatabaseError(_, info) => TRANSIENT
            .iter()
            .any(|pattern| info.message().contains(pattern)),
        _ => false,
    }
}

/// Why the service could not start, in one line for the operator.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartupError(pub String);

pub use r2d2::Error as PoolError;

#[cfg(test)]
mod libpq_url_tests {
    use super::libpq_url;

    #[test]
    fn a_server_on_this_machine_is_reached_without_tls_unless_the_url_says_otherwise() {
        if std::env::var_os("PGSSLMODE").is_some() {
            return; // the operator's choice wins, and this machine has made one
        }
        for (given, expected) in [
            (
                "postgres://u:p%40ss@127.0.0.1:5432/db",
                "postgres://u:p%40ss@127.0.0.1:5432/db?connect_timeout=2&sslmode=disable",
            ),
            (
                "postgres://u@localhost/db?application_name=x",
                "postgres://u@localhost/db?application_name=x&connect_timeout=2&sslmode=disable",
            ),
            (
                "postgres://u@[::1]:5433/db",
                "postgres://u@[::1]:5433/db?connect_timeout=2&sslmode=disable",
            ),
            (
                "postgres://u@db.internal:5432/db",
                "postgres://u@db.internal:5432/db?connect_timeout=2",
            ),
            (
                "postgres://u@10.0.0.7/db",
                "postgres://u@10.0.0.7/db?connect_timeout=2",
            ),
            (
                "postgres://u@127.0.0.1/db?sslmode=require&connect_timeout=9",
                "postgres://u@127.0.0.1/db?sslmode=require&connect_timeout=9",
            ),
            (
                "postgres://u@127.0.0.1/db?host=db.internal",
                "postgres://u@127.0.0.1/db?host=db.internal&connect_timeout=2",
            ),
            (
                "postgres:///db?host=/var/run/postgresql",
                "postgres:///db?host=/var/run/postgresql&connect_timeout=2&sslmode=disable",
            ),
        ] {
            assert_eq!(libpq_url(given), expected, "{given}");
        }
        // Several hosts are libpq's, not the URL standard's: the timeout is still added.
        let several = "postgres://u@h1:5432,h2:5432/db";
        assert!(
            libpq_url(several).ends_with("connect_timeout=2"),
            "{}",
            libpq_url(several)
        );
    }
}
