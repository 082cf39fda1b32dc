//! The one integration-test binary. Every behaviour test runs on SQLite and, when
//! `TEST_DATABASE_URL` is set, again on PostgreSQL (see `helpers::db_test!`).

mod errors;
mod health;
mod helpers;
mod migrations;
mod openapi;
mod organisation_lists;
mod organisations;
mod resilience;
