//! Settings read once from the environment (12-factor), typed and checked at start-up so a
//! bad value stops the service with one clear line instead of failing on the first request.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::accounts::{EMAIL_MAX_LENGTH, account_email, normalise_email, password_weakness};

/// The database the service talks to, chosen by the scheme of `DATABASE_URL`.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// An embedded SQLite file (created, with its folder, on first start).
    Sqlite(PathBuf),
    /// A PostgreSQL server, as a libpq connection URL.
    Postgres(String),
}

impl DatabaseUrl {
    pub const DEFAULT_SQLITE_FILE: &'static str = "convene.db";

    pub fn parse(raw: &str) -> Result<Self, ConfigError> {
        let raw = raw.trim();
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(Self::Postgres(raw.to_owned()));
        }
        if let Some(rest) = raw.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() || path.starts_with(':') {
                return Err(ConfigError::new(
                    "DATABASE_URL",
                    "a sqlite URL needs a file path, e.g. sqlite://data/convene.db (in-memory databases are not supported)",
                ));
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        Err(ConfigError::new(
            "DATABASE_URL",
            "must start with postgres://, postgresql:// or sqlite://",
        ))
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }
}

/// Shows where the data lives without ever printing a password.
impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            Self::Postgres(url) => {
                let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
                match rest.rsplit_once('@') {
                    Some((_credentials, host)) => write!(f, "{scheme}://***@{host}"),
                    None => write!(f, "{scheme}://{rest}"),
                }
            }
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: DatabaseUrl,
    /// `DATABASE_READ_URL`: a PostgreSQL read replica for reports, when set.
    pub database_read_url: Option<DatabaseUrl>,
    pub bind: SocketAddr,
    pub pool_size: u32,
    /// Origins allowed to call the API from a browser; empty means no cross-origin access.
    pub cors_origins: Vec<String>,
    pub auth: AuthConfig,
    /// `MEMBERSHIP_GRACE_DAYS`: how long a membership stays in `grace` after its last period.
    pub membership_grace_days: u32,
    /// `REPORT_SUPPRESSION_THRESHOLD`: counts of people below this are never published.
    pub report_suppression_threshold: u32,
    /// `IMPORT_BODY_LIMIT_MIB`: the largest CSV an import accepts, in MiB.
    pub import_body_limit_mib: u32,
    /// `CHANGE_RETENTION_DAYS`: how long the change feed keeps a change.
    pub change_retention_days: u32,
    /// `WEBHOOK_ALLOW_PRIVATE_TARGETS`: webhooks may go to private and loopback addresses.
    pub webhook_allow_private_targets: bool,
}

/// Sign-in, tokens and the first administrator.
#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// `JWT_SECRET`; when absent a key is generated once and kept in a file (see `auth::keys`).
    pub jwt_secret: Option<Secret>,
    /// `JWT_PREVIOUS_SECRET`: the key being rotated out, still accepted for a while.
    pub previous_jwt_secret: Option<Secret>,
    /// `JWT_PREVIOUS_SECRET_UNTIL`: when the previous key stops being accepted. Without it,
    /// one access-token lifetime after start-up, which covers every token it signed.
    pub previous_jwt_secret_until: Option<chrono::DateTime<chrono::Utc>>,
    pub issuer: String,
    pub audience: String,
    pub access_token_minutes: u32,
    pub session_days: u32,
    /// `CONVENE_ADMIN_EMAIL` / `CONVENE_ADMIN_PASSWORD`: the first administrator, used only
    /// when the database has no users.
    pub admin_email: Option<String>,
    pub admin_password: Option<Secret>,
}

/// The largest JSON request body accepted (1 MiB): fixed, unlike the import limit.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The smallest pool start-up chooses by itself: reports may hold half the pool, and the
/// other half must still serve sign-ins and reads at once (with 2, on one CPU, two
/// composition reports were enough to answer sign-ins with 503).
pub const MIN_DEFAULT_POOL_SIZE: u32 = 8;

/// `DATABASE_POOL_SIZE` when unset: diesel is synchronous, so about two connections per core
/// keep the cores busy, and never fewer than `MIN_DEFAULT_POOL_SIZE`.
pub fn default_pool_size(cpus: usize) -> u32 {
    (u32::try_from(cpus).unwrap_or(u32::MAX).saturating_mul(2)).clamp(MIN_DEFAULT_POOL_SIZE, 256)
}

/// The shortest `JWT_SECRET` accepted: 256 bits, the HS256 key size.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// A value that must never be printed: `Debug` shows `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests can configure without touching the process
    /// environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());

        let database_url = match get("DATABASE_URL") {
            Some(raw) => DatabaseUrl::parse(&raw)?,
            None => DatabaseUrl::Sqlite(PathBuf::from(DatabaseUrl::DEFAULT_SQLITE_FILE)),
        };
        // Reports read from a replica of the PostgreSQL database when one is named.
        let database_read_url = match get("DATABASE_READ_URL") {
            None => None,
            Some(raw) => match DatabaseUrl::parse(&raw) {
                Ok(url @ DatabaseUrl::Postgres(_)) if database_url.is_postgres() => Some(url),
                _ => {
                    return Err(ConfigError::new(
                        "DATABASE_READ_URL",
                        "must be a postgres:// URL of a read replica, with DATABASE_URL on PostgreSQL too",
                    ));
                }
            },
        };
        let bind = match get("BIND") {
            Some(raw) => raw.trim().parse().map_err(|_| {
                ConfigError::new("BIND", "must be an address and port, e.g. 127.0.0.1:8080")
            })?,
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
        };
        let pool_size = match get("DATABASE_POOL_SIZE") {
            Some(raw) => match raw.trim().parse::<u32>() {
                Ok(size @ 1..=256) => size,
                _ => {
                    return Err(ConfigError::new(
                        "DATABASE_POOL_SIZE",
                        "must be a whole number from 1 to 256",
                    ));
                }
            },
            None => default_pool_size(std::thread::available_parallelism().map_or(1, |n| n.get())),
        };
        let cors_origins = match get("CORS_ORIGINS") {
            Some(raw) => parse_origins(&raw)?,
            None => Vec::new(),
        };
        Ok(Self {
            database_url,
            database_read_url,
            bind,
            pool_size,
            cors_origins,
            auth: AuthConfig::from_lookup(&get)?,
            membership_grace_days: whole_number(&get, "MEMBERSHIP_GRACE_DAYS", 0..=365, 30)?,
            report_suppression_threshold: whole_number(
                &get,
                "REPORT_SUPPRESSION_THRESHOLD",
                2..=100,
                5,
            )?,
            import_body_limit_mib: whole_number(&get, "IMPORT_BODY_LIMIT_MIB", 1..=200, 20)?,
            change_retention_days: whole_number(&get, "CHANGE_RETENTION_DAYS", 1..=3650, 90)?,
            webhook_allow_private_targets: flag(&get, "WEBHOOK_ALLOW_PRIVATE_TARGETS")?,
        })
    }
}

impl AuthConfig {
    fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let secret = |name: &'static str| -> Result<Option<Secret>, ConfigError> {
            match get(name) {
                Some(value) if value.len() < MIN_JWT_SECRET_BYTES => Err(ConfigError::new(
                    name,
                    format!(
                        "must be at least {MIN_JWT_SECRET_BYTES} bytes (e.g. openssl rand -base64 48)"
                    ),
                )),
                value => Ok(value.map(Secret::new)),
            }
        };
        let previous_jwt_secret_until = match get("JWT_PREVIOUS_SECRET_UNTIL") {
            Some(raw) => Some(
                chrono::DateTime::parse_from_rfc3339(raw.trim())
                    .map_err(|_| {
                        ConfigError::new(
                            "JWT_PREVIOUS_SECRET_UNTIL",
                            "must be an RFC 3339 time, e.g. 2026-12-01T00:00:00Z",
                        )
                    })?
                    .to_utc(),
            ),
            None => None,
        };
        let admin_email = get("CONVENE_ADMIN_EMAIL").map(|email| normalise_email(&email));
        let admin_password = get("CONVENE_ADMIN_PASSWORD").map(Secret::new);
        if admin_email.is_some() != admin_password.is_some() {
            return Err(ConfigError::new(
                "CONVENE_ADMIN_EMAIL",
                "and CONVENE_ADMIN_PASSWORD must be set together",
            ));
        }
        // The API's own rules for an account, checked here so that a value it would refuse
        // stops start-up before the database or the key file is created.
        if let (Some(email), Some(password)) = (&admin_email, &admin_password) {
            if account_email(email).is_err() {
                return Err(ConfigError::new(
                    "CONVENE_ADMIN_EMAIL",
                    format!("must be an email address of at most {EMAIL_MAX_LENGTH} characters"),
                ));
            }
            if let Some(weakness) = password_weakness(password.expose(), email) {
                return Err(ConfigError::new("CONVENE_ADMIN_PASSWORD", weakness));
            }
        }
        Ok(Self {
            jwt_secret: secret("JWT_SECRET")?,
            previous_jwt_secret: secret("JWT_PREVIOUS_SECRET")?,
            previous_jwt_secret_until,
            issuer: get("JWT_ISSUER").unwrap_or_else(|| "convene".to_owned()),
            audience: get("JWT_AUDIENCE").unwrap_or_else(|| "convene-api".to_owned()),
            access_token_minutes: whole_number(get, "ACCESS_TOKEN_MINUTES", 1..=60, 15)?,
            session_days: whole_number(get, "SESSION_DAYS", 1..=90, 14)?,
            admin_email,
            admin_password,
        })
    }
}

/// `true` or `false`; `false` when absent.
fn flag(get: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<bool, ConfigError> {
    match get(name).as_deref().map(str::trim) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ConfigError::new(name, "must be true or false")),
    }
}

fn whole_number(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    range: std::ops::RangeInclusive<u32>,
    default: u32,
) -> Result<u32, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|value| range.contains(value))
            .ok_or_else(|| {
                ConfigError::new(
                    name,
                    format!(
                        "must be a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                )
            }),
    }
}

fn parse_origins(raw: &str) -> Result<Vec<String>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .filter(|origin| !origin.is_empty())
        .map(|origin| {
            // Checked as actix-cors will read it when the server starts, so a value it cannot
            // use stops start-up here instead of each worker later.
            let uri = origin.parse::<actix_web::http::Uri>().ok();
            let valid = uri.as_ref().is_some_and(|uri| {
                let (scheme, authority) = (uri.scheme_str(), uri.authority());
                matches!(scheme, Some("http" | "https"))
                    && authority.is_some_and(|a| !a.host().is_empty() && !a.as_str().contains('@'))
                    && Some(origin)
                        == scheme
                            .zip(authority)
                            .map(|(s, a)| format!("{s}://{a}"))
                            .as_deref()
            });
            if valid {
                Ok(origin.to_owned())
            } else {
                Err(ConfigError::new(
                    "CORS_ORIGINS",
                    "must be a comma-separated list of origins such as https://admin.example.org (no path, no trailing slash)",
                ))
            }
        })
        .collect()
}

/// A setting that cannot be used, named so the operator knows what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable} {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

impl ConfigError {
    pub fn new(variable: &'static str, message: impl Into<String>) -> Self {
        Self {
            variable,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        })
    }

    #[test]
    fn defaults_to_a_sqlite_file_in_the_working_directory() {
        let config = config(&[]).unwrap();
        assert_eq!(
            config.database_url,
            DatabaseUrl::Sqlite(PathBuf::from("convene.db"))
        );
        assert_eq!(config.bind.to_string(), "127.0.0.1:8080");
        assert!(config.cors_origins.is_empty());
        assert_eq!(config.auth.access_token_minutes, 15);
        assert!(config.pool_size >= MIN_DEFAULT_POOL_SIZE);
        assert_eq!(
            [1, 2, 4, 6, 64, 1000].map(default_pool_size),
            [8, 8, 8, 12, 128, 256]
        );
        assert!(config.auth.jwt_secret.is_none());
    }

    #[test]
    fn refuses_short_secrets_and_never_prints_them() {
        let short = config(&[("JWT_SECRET", "too-short")]).unwrap_err();
        assert_eq!(short.variable, "JWT_SECRET");
        assert!(!short.to_string().contains("too-short"));
        let secret = "s".repeat(40);
        let config = config(&[
            ("JWT_SECRET", secret.as_str()),
            ("CONVENE_ADMIN_EMAIL", "Admin@Example.org"),
            ("CONVENE_ADMIN_PASSWORD", "correct horse battery"),
        ])
        .unwrap();
        let printed = format!("{config:?}");
        assert!(
            !printed.contains(&secret) && !printed.contains("battery"),
            "{printed}"
        );
        assert_eq!(
            config.auth.admin_email.as_deref(),
            Some("admin@example.org")
        );
    }

    #[test]
    fn picks_the_backend_from_the_scheme() {
        for url in ["postgres://u@h/db", "postgresql://u@h/db"] {
            assert!(DatabaseUrl::parse(url).unwrap().is_postgres());
        }
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/c.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("data/c.db"))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/c.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("/var/lib/c.db"))
        );
    }

    #[test]
    fn refuses_unknown_schemes_and_bad_values() {
        for url in ["mysql://h/db", "convene.db", "sqlite://", "sqlite::memory:"] {
            let error = config(&[("DATABASE_URL", url)]).unwrap_err();
            assert_eq!(error.variable, "DATABASE_URL", "{url}");
        }
        assert_eq!(config(&[("BIND", "nowhere")]).unwrap_err().variable, "BIND");
        assert_eq!(
            config(&[("DATABASE_POOL_SIZE", "0")]).unwrap_err().variable,
            "DATABASE_POOL_SIZE"
        );
        assert_eq!(
            config(&[("CORS_ORIGINS", "admin.example.org")])
                .unwrap_err()
                .variable,
            "CORS_ORIGINS"
        );
    }

    #[test]
    fn refuses_a_first_admin_the_api_would_refuse() {
        let admin = |email: &str, password: &str| {
            config(&[
                ("CONVENE_ADMIN_EMAIL", email),
                ("CONVENE_ADMIN_PASSWORD", password),
            ])
        };
        let long = format!("{}@example.org", "a".repeat(250));
        for email in [
            "notanemail",
            "two@@example.org",
            "a b@example.org",
            long.as_str(),
        ] {
            let error = admin(email, "correct horse battery").unwrap_err();
            assert_eq!(error.variable, "CONVENE_ADMIN_EMAIL", "{email}");
        }
        for password in [
            "short",
            "password1234",
            "chair-of-the-alliance",
            "aaaaaaaaaaaaaaaa",
        ] {
            let error = admin("Chair@Alliance.example.org", password).unwrap_err();
            assert_eq!(error.variable, "CONVENE_ADMIN_PASSWORD", "{password}");
            assert!(!error.to_string().contains(password), "{error}");
        }
        let accepted = admin(" Chair@Alliance.example.org ", "correct horse battery").unwrap();
        assert_eq!(
            accepted.auth.admin_email.as_deref(),
            Some("chair@alliance.example.org")
        );
    }

    #[test]
    fn refuses_origins_the_cors_layer_could_not_use() {
        for origins in [
            "http://exa mple.org",
            "https://admin.example.org/app",
            "https://admin.example.org?x=1",
            "https://user@admin.example.org",
            "ftp://admin.example.org",
            "https://",
        ] {
            let error = config(&[("CORS_ORIGINS", origins)]).unwrap_err();
            assert_eq!(error.variable, "CORS_ORIGINS", "{origins}");
        }
        let accepted = config(&[(
            "CORS_ORIGINS",
            "https://admin.example.org, http://localhost:3000",
        )])
        .unwrap();
        assert_eq!(
            accepted.cors_origins,
            ["https://admin.example.org", "http://localhost:3000"]
        );
    }

    #[test]
    fn never_displays_a_database_password() {
        let url = DatabaseUrl::parse("postgres://convene:s3cret@db:5432/convene").unwrap();
        assert_eq!(url.to_string(), "postgres://***@db:5432/convene");
        assert!(!format!("{url:?}").contains("s3cret"));
    }
}
