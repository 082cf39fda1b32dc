//! What start-up does with the database before the service answers: opens it (migrations,
//! then the domain's reference data) and creates the first admin when there are no accounts
//! yet, so a fresh install can be signed into. `main` and the tests call these.

use diesel::Connection;

use crate::api::users::UserResponse;
use crate::auth::secrets::random_secret;
use crate::auth::{Role, passwords};
use crate::config::{AuthConfig, DatabaseUrl};
use crate::db::{self, Database, DbConn, DbError, StartupError};
use crate::domain::audit;
use crate::domain::changes::{self, calendar, calendar::Step};
use crate::domain::membership::GraceWindow;
use crate::domain::users::{NewUser, store};
use crate::domain::{self, DomainError};

/// Used when `CONVENE_ADMIN_EMAIL` is not set.
pub const DEFAULT_ADMIN_EMAIL: &str = "admin@convene.local";

/// Connects and migrates (`Database::connect`), then writes the reference data the domain
/// needs (default taxonomies and benchmarks): a database ready for the first request.
pub fn open_database(url: &DatabaseUrl, pool_size: u32) -> Result<Database, StartupError> {
    let db = Database::connect(url, pool_size)?;
    let mut conn = db
        .connection()
        .map_err(|e| StartupError(format!("cannot connect to {url}: {e}")))?;
    domain::seed_defaults(&mut conn)
        .map_err(|e| StartupError(format!("cannot prepare {url}: {e}")))?;
    Ok(db)
}

/// The first admin, created because the database had no accounts.
pub struct FirstAdmin {
    pub email: String,
    /// Set when the password was generated: it must be shown once, then it is gone.
    pub generated_password: Option<String>,
}

/// Creates the first admin when there are no accounts: from `CONVENE_ADMIN_EMAIL` and
/// `CONVENE_ADMIN_PASSWORD`, or with a generated one-time password.
pub fn ensure_admin(
    conn: &mut DbConn,
    config: &AuthConfig,
) -> Result<Option<FirstAdmin>, StartupError> {
    let failed =
        |error: DomainError| StartupError(format!("cannot create the first admin: {error}"));
    if store::count(conn).map_err(failed)? > 0 {
        return Ok(None);
    }
    let email = config
        .admin_email
        .clone()
        .unwrap_or_else(|| DEFAULT_ADMIN_EMAIL.to_owned());
    // `Config` has checked a configured email and password against the API's rules.
    let (password, generated) = match &config.admin_password {
        Some(password) => (password.expose().to_owned(), false),
        None => (random_secret(), true),
    };
    let password_hash = passwords::hash(&password)
        .map_err(|error| StartupError(format!("cannot hash the admin password: {error}")))?;
    let new = NewUser {
        email: email.clone(),
        name: "Administrator".to_owned(),
        role: Role::Admin,
        password_hash,
    };
    conn.transaction(|conn| {
        let admin = store::create(conn, &new)?;
        let shown = UserResponse::from(admin.clone());
        audit::store::insert(
            conn,
            &audit::Context::system(),
            &[audit::Event::created(
                audit::entity::USER,
                &admin.id,
                &shown,
            )],
        )
    })
    .map_err(failed)?;
    Ok(Some(FirstAdmin {
        email,
        generated_password: generated.then_some(password),
    }))
}

/// How often the feed keeper looks at the calendar (a new day, changes past retention).
const FEED_KEEPING_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// Brings the change feed up to `today`: the calendar's membership status moves of every
/// day not yet swept, each day in a transaction of its own (so a long catch-up never holds
/// the write lock for long), then removes changes (and ended webhook deliveries) older than
/// `retention_days`, and sign-in buckets that are full again. Returns how
/// many status moves it announced. Safe to run from several instances at once: each day is
/// swept by one of them (`calendar::sweep_step`).
pub fn keep_feed(
    db: &Database,
    today: chrono::NaiveDate,
    grace: GraceWindow,
    retention_days: u32,
) -> Result<usize, DomainError> {
    let mut conn = db
        .connection()
        .map_err(|e| DbError::Unavailable(e.to_string()))?;
    let mut moves = 0;
    loop {
        let step =
            db::write_transaction(&mut conn, |conn| calendar::sweep_step(conn, today, grace))?;
        match step {
            Step::UpToDate => break,
            Step::Started(day) => {
                log::info!("the change feed follows membership statuses from {day}")
            }
            Step::Swept { day, moves: 0 } => log::debug!("no membership status moved on {day}"),
            Step::Swept { day, moves: n } => {
                log::info!("{n} membership statuses moved on {day}");
                moves += n;
            }
        }
    }
    let cutoff = domain::now() - chrono::Duration::days(i64::from(retention_days));
    let pruned = db::write_transaction(&mut conn, |conn| changes::store::prune(conn, cutoff))?;
    db::write_transaction(&mut conn, |conn| {
        crate::domain::webhooks::store::prune(conn, cutoff)?;
        crate::auth::limiter::forget_refilled(conn, domain::now())
    })?;
    if pruned > 0 {
        log::info!("removed {pruned} commits of changes older than {retention_days} days");
    }
    Ok(moves)
}

/// Keeps the change feed up to date for the life of the process, in a thread of its own:
/// every minute it sweeps a new day and prunes. Start-up runs `keep_feed` itself first, so
/// the days the service was not running are in the feed before the first request.
pub fn start_feed_keeper(db: Database, grace: GraceWindow, retention_days: u32) {
    let spawned = std::thread::Builder::new()
        .name("feed-keeper".to_owned())
        .spawn(move || {
            loop {
                std::thread::sleep(FEED_KEEPING_INTERVAL);
                let today = chrono::Utc::now().date_naive();
                if let Err(error) = keep_feed(&db, today, grace, retention_days) {
                    log::warn!("the change feed could not be kept up to date (retrying): {error}");
                }
            }
        });
    if let Err(error) = spawned {
        log::error!("cannot start the change feed's keeper: {error}");
    }
}
