//! The one integration-test binary. Every behaviour test runs on SQLite and, when
//! `TEST_DATABASE_URL` is set, again on PostgreSQL (see `helpers::db_test!`).

mod access;
mod access_log;
mod accounts;
mod audit;
mod changes;
mod concurrency;
mod consultations;
mod contact_records;
mod csv_exports;
mod demo;
mod disclosure;
mod documented;
mod duplicates;
mod errors;
mod expert_groups;
mod health;
mod helpers;
mod http_limits;
mod idempotency;
mod imports;
mod membership;
mod merge;
mod migrations;
mod openapi;
mod organisation_lists;
mod organisations;
mod password_storage;
mod reports;
mod resilience;
mod sessions;
mod snapshots;
mod startup;
mod sync;
mod taxonomies;
mod webhooks;
