//! The `convene` binary: `convene` (or `convene serve`) runs the service; `convene openapi`
//! prints the OpenAPI document that is committed as `openapi/openapi.json`; `convene admin …`
//! manages accounts from the operator's shell.

use std::io::BufRead;
use std::process::ExitCode;

use actix_web::web;
use convene::accounts;
use convene::api::routes::openapi;
use convene::api::users::UserResponse;
use convene::auth::{Role, bootstrap, passwords, secrets};
use convene::config::Config;
use convene::demo::DemoOptions;
use convene::domain::DomainError;
use convene::domain::audit::{self, Context, Event, entity};
use convene::domain::membership::GraceWindow;
use convene::domain::users::{NewUser, RevokeReason, store};
use convene::startup;
use convene::state::AppState;
use diesel::Connection;

const USAGE: &str = "usage: convene [serve | openapi | demo … | admin …]

  serve    run the API (default); configured by environment variables, see README.md
  openapi  print the OpenAPI document (regenerate with: cargo run -- openapi > openapi/openapi.json)
  demo [--seed N] [--organisations N] [--contacts N]
           fill an empty database with a fictional alliance (default 80 organisations,
           240 contacts, seed 2026); large counts are written in batches for benchmarks
  report-sql composition|expertise-coverage [--as-of YYYY-MM-DD] [--dimension NAME …]
           print the report's SQL aggregations with their dates written in, to time the
           database alone (scripts/report-timings)
  admin create-user --email EMAIL --name NAME --role admin|staff|viewer [--password-stdin]
  admin reset-password --email EMAIL [--password-stdin]
           without --password-stdin a strong password is generated and printed once;
           reset-password also ends the account's sessions";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] | ["serve"] => serve(),
        ["openapi"] => match openapi().to_pretty_json() {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("convene: cannot render the OpenAPI document: {error}");
                ExitCode::FAILURE
            }
        },
        ["admin", rest @ ..] => admin(rest),
        ["demo", rest @ ..] => demo(rest),
        ["report-sql", rest @ ..] => report_sql(rest),
        ["-h" | "--help" | "help"] => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// Two glibc malloc settings that keep the service's memory flat; each variable, when set in
/// the environment, still decides.
/// - Arenas: glibc gives each thread that allocates at once an arena of its own, up to 8 per
///   core, and keeps what each arena once held. Requests do their database work on a pool of
///   blocking threads, one per request in flight, so the memory grew with concurrency (SQLite,
///   the bench's phases: 139 MiB, against 71 MiB with two arenas and no change in speed;
///   BENCHMARKS.md).
/// - A fixed mmap threshold of 1 MiB: by default glibc raises the threshold to the size of
///   the largest block it has given back, so after the first sign-in, argon2's 19 MiB block
///   came from the heap and stayed there (a third of the service's memory at rest), and a
///   report's large blocks stacked on top of it. Fixed, a block that large is mapped for its
///   use and returned when freed.
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const SETTINGS: [(&str, libc::c_int, libc::c_int); 2] = [
            ("MALLOC_ARENA_MAX", libc::M_ARENA_MAX, 2),
            ("MALLOC_MMAP_THRESHOLD_", libc::M_MMAP_THRESHOLD, 1 << 20),
        ];
        for (variable, parameter, value) in SETTINGS {
            if std::env::var_os(variable).is_none() {
                // SAFETY: mallopt only sets an allocator parameter; it is called before any
                // other thread exists.
                unsafe {
                    libc::mallopt(parameter, value);
                }
            }
        }
    }
}

fn serve() -> ExitCode {
    tune_malloc();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("convene: configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    // A key file that cannot be used stops start-up before anything is created.
    if let Err(error) = bootstrap::check_key_file(&config) {
        eprintln!("convene: {error}");
        return ExitCode::FAILURE;
    }
    let db = match startup::open_database(&config.database_url, config.pool_size) {
        Ok(db) => db,
        Err(error) => {
            eprintln!("convene: {error}");
            return ExitCode::FAILURE;
        }
    };
    let (jwt_secret, key_file) = match bootstrap::jwt_secret(&config) {
        Ok(found) => found,
        Err(error) => {
            eprintln!("convene: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = key_file {
        log::warn!(
            "JWT_SECRET is not set: signing tokens with the key kept in {}. Set JWT_SECRET in production (the same on every instance).",
            path.display()
        );
    }
    match db
        .connection()
        .map_err(|e| e.to_string())
        .and_then(|mut conn| {
            startup::ensure_admin(&mut conn, &config.auth).map_err(|e| e.to_string())
        }) {
        Ok(Some(admin)) => match admin.generated_password {
            Some(password) => log::warn!(
                "created the first admin, {}, with the one-time password {password} : sign in and change it now (POST /api/v1/me/password); it is not shown again",
                admin.email
            ),
            None => log::info!("created the first admin, {}", admin.email),
        },
        Ok(None) => {}
        Err(error) => {
            eprintln!("convene: {error}");
            return ExitCode::FAILURE;
        }
    }
    // The calendar's membership status moves of the days the service was not running go
    // into the change feed before the first request; then a thread keeps it up to date.
    let grace = GraceWindow(config.membership_grace_days);
    let today = chrono::Utc::now().date_naive();
    if let Err(error) = startup::keep_feed(&db, today, grace, config.change_retention_days) {
        log::warn!("the change feed could not be brought up to date at start-up: {error}");
    }
    startup::start_feed_keeper(db.clone(), grace, config.change_retention_days);
    let state = web::Data::new(AppState::new(db.clone(), &config, &jwt_secret));
    convene::api::webhooks::sender::start(state.clone());
    let listener = match convene::server::bind(config.bind) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("convene: cannot listen on {}: {error}", config.bind);
            return ExitCode::FAILURE;
        }
    };
    // Only now, with the address held: said earlier, it would be untrue whenever the
    // address is taken.
    if let Ok(address) = listener.local_addr() {
        log::info!(
            "Convene listening on http://{address} (database {}, docs at /docs)",
            config.database_url
        );
    }
    let result = actix_web::rt::System::new()
        .block_on(async move { convene::server::serve(listener, state)?.await });
    // Audit events of exports made while the database was locked may still be waiting.
    let unwritten = db.finish_deferred_writes(std::time::Duration::from_secs(10));
    if unwritten > 0 {
        log::error!("{unwritten} audit records of exports could not be written before shutdown");
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("convene: server stopped: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `convene admin …`: account tasks for operators, run against the configured database.
fn admin(args: &[&str]) -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("convene: configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    let (command, options) = match args.split_first() {
        Some((command, options)) => (*command, options),
        None => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    if !["create-user", "reset-password"].contains(&command) {
        eprintln!("convene: unknown admin command {command}; see convene --help");
        return ExitCode::from(2);
    }
    let options = match AdminOptions::parse(options) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("convene: {message}; see convene --help");
            return ExitCode::from(2);
        }
    };
    match run_admin(&config, command, &options) {
        Ok(message) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("convene: {message}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Default)]
struct AdminOptions {
    email: Option<String>,
    name: Option<String>,
    role: Option<Role>,
    password_stdin: bool,
}

impl AdminOptions {
    fn parse(args: &[&str]) -> Result<Self, String> {
        let mut options = Self::default();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = || {
                args.next()
                    .map(|value| value.to_string())
                    .ok_or_else(|| format!("{arg} needs a value"))
            };
            match *arg {
                "--email" => options.email = Some(value()?.trim().to_lowercase()),
                "--name" => options.name = Some(value()?.trim().to_owned()),
                "--role" => {
                    options.role = Some(value()?.parse().map_err(|e| format!("--role {e}"))?)
                }
                "--password-stdin" => options.password_stdin = true,
                other => return Err(format!("unknown option {other}")),
            }
        }
        Ok(options)
    }

    /// The password from the first line of stdin, or a generated one (and whether it was).
    fn password(&self, email: &str) -> Result<(String, bool), String> {
        if !self.password_stdin {
            return Ok((secrets::random_secret(), true));
        }
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        match accounts::password_weakness(&password, email) {
            Some(weakness) => Err(format!("the password {weakness}")),
            None => Ok((password, false)),
        }
    }
}

fn run_admin(config: &Config, command: &str, options: &AdminOptions) -> Result<String, String> {
    let email = options.email.clone().ok_or("--email is required")?;
    if accounts::account_email(&email).is_err() {
        return Err("--email must be an email address".to_owned());
    }
    if command == "create-user" && (options.name.is_none() || options.role.is_none()) {
        return Err("create-user needs --name and --role".to_owned());
    }
    let db = startup::open_database(&config.database_url, 1).map_err(|e| e.to_string())?;
    let mut conn = db.connection().map_err(|e| e.to_string())?;
    let (password, generated) = options.password(&email)?;
    let hash = passwords::hash(&password).map_err(|e| e.to_string())?;
    let shown = |done: String| match generated {
        true => format!("{done}\npassword (shown once): {password}"),
        false => done,
    };
    match command {
        "create-user" => {
            let name = options.name.clone().ok_or("--name is required")?;
            let role = options.role.ok_or("--role is required")?;
            let new = NewUser {
                email,
                name,
                role,
                password_hash: hash,
            };
            let user = conn
                .transaction(|conn| {
                    let user = store::create(conn, &new)?;
                    let shown = UserResponse::from(user.clone());
                    let event = Event::created(entity::USER, &user.id, &shown);
                    audit::store::insert(conn, &Context::system(), &[event])?;
                    Ok::<_, DomainError>(user)
                })
                .map_err(|e| e.to_string())?;
            Ok(shown(format!(
                "created {} ({}) with id {}",
                user.email, user.role, user.id
            )))
        }
        "reset-password" => {
            let (user, _) = store::credentials(&mut conn, &email)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no account has the email {email}"))?;
            conn.transaction(|conn| {
                store::set_password(conn, &user.id, &hash, RevokeReason::PasswordReset, None)?;
                let event = Event::new("password_reset", entity::USER, &user.id);
                audit::store::insert(conn, &Context::system(), &[event])
            })
            .map_err(|e| e.to_string())?;
            Ok(shown(format!(
                "reset the password of {}; its sessions have ended",
                user.email
            )))
        }
        other => Err(format!("unknown admin command {other}")),
    }
}

/// `convene report-sql …`: a report's aggregation as plain SQL, for timing the database alone.
fn report_sql(args: &[&str]) -> ExitCode {
    use convene::domain::membership::GraceWindow;
    use convene::domain::reports::Dimension;
    use convene::domain::reports::composition::{Statement, active_members_statements};

    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("convene: configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    let Some((report, options)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let report = match *report {
        "composition" => Statement::Composition,
        "expertise-coverage" => Statement::ExpertiseCoverage,
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut on = chrono::Utc::now().date_naive();
    let mut dimensions = Vec::new();
    let mut options = options.iter();
    while let Some(option) = options.next() {
        let value = options.next().copied().unwrap_or_default();
        match (*option, value.parse(), value.parse::<Dimension>()) {
            ("--as-of", Ok(day), _) => on = day,
            ("--dimension", _, Ok(dimension)) => dimensions.push(dimension),
            _ => {
                eprintln!(
                    "convene: report-sql takes --as-of YYYY-MM-DD and --dimension NAME (repeatable)"
                );
                return ExitCode::from(2);
            }
        }
    }
    if dimensions.is_empty() {
        dimensions = Dimension::ALL.to_vec();
    }
    let grace = GraceWindow(config.membership_grace_days);
    for statement in active_members_statements(report, on, grace, &dimensions) {
        println!("{};", statement.trim());
    }
    ExitCode::SUCCESS
}

/// `convene demo …`: a fictional alliance in an empty database.
fn demo(args: &[&str]) -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("convene: configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    let mut options = DemoOptions::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let value = args.next().and_then(|value| value.parse::<u64>().ok());
        let (Some(value), true) = (
            value,
            ["--seed", "--organisations", "--contacts"].contains(arg),
        ) else {
            eprintln!(
                "convene: demo takes --seed, --organisations and --contacts, each with a number; see convene --help"
            );
            return ExitCode::from(2);
        };
        match *arg {
            "--seed" => options.seed = value,
            "--organisations" => options.organisations = value as usize,
            _ => options.contacts = value as usize,
        }
    }
    let started = std::time::Instant::now();
    let result = startup::open_database(&config.database_url, 1)
        .map_err(|e| e.to_string())
        .and_then(|db| db.connection().map_err(|e| e.to_string()))
        .and_then(|mut conn| convene::demo::fill(&mut conn, options));
    match result {
        Ok(summary) => {
            println!(
                "added {} organisations, {} contacts, {} expert groups and {} consultations to {} in {:.1} s (seed {})",
                summary.organisations,
                summary.contacts,
                summary.groups,
                summary.consultations,
                config.database_url,
                started.elapsed().as_secs_f64(),
                options.seed
            );
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("convene: {message}");
            ExitCode::FAILURE
        }
    }
}
