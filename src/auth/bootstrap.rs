//! What start-up needs before the first request: the JWT signing key, and a first admin
//! when the database has no accounts yet (so a fresh install can be signed into).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::Role;
use super::passwords;
use super::secrets::random_secret;
use crate::config::{AuthConfig, Config, DatabaseUrl, MIN_JWT_SECRET_BYTES, Secret};
use crate::db::DbConn;
use crate::db::StartupError;
use crate::domain::audit;
use crate::domain::users::{NewUser, store};
use diesel::Connection;

/// Used when `CONVENE_ADMIN_EMAIL` is not set.
pub const DEFAULT_ADMIN_EMAIL: &str = "admin@convene.local";

/// `JWT_SECRET`, or the key kept beside the SQLite database (in the working directory with
/// PostgreSQL), generated on first start. The file's path is returned when it was used, so
/// the caller can warn that production should set `JWT_SECRET`.
pub fn jwt_secret(config: &Config) -> Result<(Secret, Option<PathBuf>), StartupError> {
    if let Some(secret) = &config.auth.jwt_secret {
        return Ok((secret.clone(), None));
    }
    let path = key_file(&config.database_url);
    let secret = read_or_create_key(&path)?;
    Ok((secret, Some(path)))
}

fn key_file(url: &DatabaseUrl) -> PathBuf {
    match url {
        DatabaseUrl::Sqlite(path) => {
            let mut name = path.file_name().unwrap_or_default().to_os_string();
            name.push(".jwt-secret");
            path.with_file_name(name)
        }
        DatabaseUrl::Postgres(_) => PathBuf::from("convene.jwt-secret"),
    }
}

/// Checks the key file when there is one, creating nothing: start-up calls it before it
/// creates the database, so a bad file stops it with nothing changed.
pub fn check_key_file(config: &Config) -> Result<(), StartupError> {
    if config.auth.jwt_secret.is_some() {
        return Ok(());
    }
    read_key(&key_file(&config.database_url)).map(drop)
}

fn failed(path: &Path, what: &str, error: std::io::Error) -> StartupError {
    StartupError(format!(
        "cannot {what} the JWT key file {}: {error}",
        path.display()
    ))
}

/// The key kept in `path`, or `None` when there is no such file.
fn read_key(path: &Path) -> Result<Option<Secret>, StartupError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let key = text.trim();
            if key.len() < MIN_JWT_SECRET_BYTES {
                return Err(StartupError(format!(
                    "the JWT key file {} holds fewer than {MIN_JWT_SECRET_BYTES} bytes; delete it or set JWT_SECRET",
                    path.display()
                )));
            }
            Ok(Some(Secret::new(key)))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(failed(path, "read", error)),
    }
}

fn read_or_create_key(path: &Path) -> Result<Secret, StartupError> {
    if let Some(key) = read_key(path)? {
        return Ok(key);
    }
    let key = random_secret();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(key.as_bytes())
                .map_err(|error| failed(path, "write", error))?;
            Ok(Secret::new(key))
        }
        // Another process created it first: use theirs.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => read_or_create_key(path),
        Err(error) => Err(failed(path, "create", error)),
    }
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
    let failed = |error: crate::domain::DomainError| {
        StartupError(format!("cannot create the first admin: {error}"))
    };
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
        let shown = crate::api::users::UserResponse::from(admin.clone());
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
