//! `AppState`: what every handler and middleware can reach (the database, sign-in machinery,
//! settings), and `Database::write`, the audited write handlers use. It sits below `api/` and
//! `auth::guard` and depends only on db, auth, config, domain and the problem type.

use crate::auth::limiter::LoginLimiter;
use crate::auth::tokens::Tokens;
use crate::auth::{Auth, passwords};
use crate::config::{Config, Secret};
use crate::db::{Database, DbConn};
use crate::domain::audit;
use crate::domain::membership::GraceWindow;
use crate::error::ApiError;

/// What every handler can reach.
pub struct AppState {
    pub db: Database,
    /// Where reports read: the read replica (`DATABASE_READ_URL`), else `db` itself.
    pub reports: Database,
    /// Browser origins allowed to call the API (`CORS_ORIGINS`).
    pub cors_origins: Vec<String>,
    pub auth: Auth,
    pub grace: GraceWindow,
    /// Counts of people from 1 to this minus one are suppressed in reports.
    pub suppression_threshold: i64,
    /// The largest CSV body an import reads, in bytes (`IMPORT_BODY_LIMIT_MIB`).
    pub import_body_limit: usize,
    /// Webhooks may go to private and loopback addresses (`WEBHOOK_ALLOW_PRIVATE_TARGETS`).
    pub webhook_private_targets: bool,
}

impl AppState {
    /// The state for `config`, signing tokens with `jwt_secret` (see `auth::bootstrap`).
    pub fn new(db: Database, config: &Config, jwt_secret: &Secret) -> Self {
        passwords::warm_up();
        let reports = match &config.database_read_url {
            Some(url) => Database::connect_replica(url, config.pool_size),
            None => db.clone(),
        };
        Self {
            db,
            reports,
            cors_origins: config.cors_origins.clone(),
            grace: GraceWindow(config.membership_grace_days),
            suppression_threshold: i64::from(config.report_suppression_threshold),
            import_body_limit: config.import_body_limit_mib as usize * 1024 * 1024,
            webhook_private_targets: config.webhook_allow_private_targets,
            auth: Auth {
                tokens: Tokens::new(&config.auth, jwt_secret, chrono::Utc::now()),
                limiter: LoginLimiter::default(),
            },
        }
    }
}

/// The one way handlers write: the database offers the transaction, the domain's audit trail
/// the events. Here, where both meet the HTTP layer, the error type is fixed to `ApiError`,
/// so a handler's closure can use `?` on anything that becomes a problem.
impl Database {
    /// Runs `work` as one transaction that also writes its audit events: `work` records what
    /// it changed in the log, and the events are inserted before the commit. A write that
    /// fails writes no event; a write that recorded no event is refused (rolled back).
    pub async fn write<T, F>(&self, context: audit::Context, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConn, &mut audit::Log) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        self.transaction(move |conn| audit::commit(conn, context, work))
            .await
    }
}
