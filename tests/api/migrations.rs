//! Migrations come in pairs with the same names, and each pair can be undone and redone.

use std::collections::BTreeSet;

use convene::db::{DbConn, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
use diesel::Connection;
use diesel::connection::SimpleConnection;
use diesel_migrations::MigrationHarness;

use crate::helpers::{Backend, TestDatabase, postgres_admin_url};

fn names(folder: &str) -> BTreeSet<String> {
    std::fs::read_dir(format!(
        "{}/migrations/{folder}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .map(|entry| entry.unwrap().file_name().into_string().unwrap())
    .collect()
}

#[test]
fn both_backends_have_the_same_migrations_each_with_up_and_down() {
    let sqlite = names("sqlite");
    assert_eq!(sqlite, names("postgres"));
    for folder in ["sqlite", "postgres"] {
        for name in &sqlite {
            for file in ["up.sql", "down.sql"] {
                let path = format!(
                    "{}/migrations/{folder}/{name}/{file}",
                    env!("CARGO_MANIFEST_DIR")
                );
                let sql = std::fs::read_to_string(&path).unwrap();
                assert!(!sql.trim().is_empty(), "{path} is empty");
            }
        }
    }
}

fn up_down_up(backend: Backend) {
    let db = TestDatabase::create(backend);
    // Opening runs every migration (and seeds the taxonomies).
    convene::startup::open_database(&db.url, 1).unwrap();
    let url = match &db.url {
        convene::config::DatabaseUrl::Sqlite(path) => path.to_str().unwrap().to_owned(),
        convene::config::DatabaseUrl::Postgres(url) => url.clone(),
    };
    let mut conn = match backend {
        Backend::Sqlite => {
            let mut c = diesel::SqliteConnection::establish(&url).unwrap();
            // The pool's last connection checkpoints the WAL as it closes, which takes a lock
            // for a moment: wait for it rather than fail with "database is locked".
            c.batch_execute("PRAGMA busy_timeout = 10000;").unwrap();
            DbConn::Sqlite(c)
        }
        Backend::Postgres => DbConn::Postgres(diesel::PgConnection::establish(&url).unwrap()),
    };
    let (reverted, rerun) = match &mut conn {
        DbConn::Sqlite(c) => (
            c.revert_all_migrations(SQLITE_MIGRATIONS).unwrap().len(),
            c.run_pending_migrations(SQLITE_MIGRATIONS).unwrap().len(),
        ),
        DbConn::Postgres(c) => (
            c.revert_all_migrations(POSTGRES_MIGRATIONS).unwrap().len(),
            c.run_pending_migrations(POSTGRES_MIGRATIONS).unwrap().len(),
        ),
    };
    assert_eq!(reverted, names("sqlite").len());
    assert_eq!(rerun, reverted);
}

#[test]
fn migrations_go_up_down_and_up_again_on_sqlite() {
    up_down_up(Backend::Sqlite);
}

#[test]
fn migrations_go_up_down_and_up_again_on_postgres() {
    if postgres_admin_url().is_none() {
        eprintln!("note: TEST_DATABASE_URL is not set; skipping the PostgreSQL run");
        return;
    }
    up_down_up(Backend::Postgres);
}
