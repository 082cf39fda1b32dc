//! What start-up needs before the first request: the JWT signing key, from `JWT_SECRET` or
//! a key file kept beside the database (the first admin is created in `startup`).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::secrets::random_secret;
use crate::config::{Config, DatabaseUrl, MIN_JWT_SECRET_BYTES, Secret};
use crate::db::StartupError;

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
