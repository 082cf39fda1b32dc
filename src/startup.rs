//! What start-up does with the database before the service answers: opens it (migrations,
//! then the domain's reference data) and creates the first admin when there are no accounts
//! yet, so a fresh install can be signed into. `main` and the tests call these.

use diesel::Connection;

use crate::api::users::UserResponse;
use crate::auth::secrets::random_secret;
use crate::auth::{Role, passwords};
use crate::config::{AuthConfig, DatabaseUrl};
use crate::db::{Database, DbConn, StartupError};
use crate::domain::audit;
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
