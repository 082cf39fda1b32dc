//! Convene: a membership CRM for alliances whose members are organisations, served as a JSON
//! REST API over SQLite (embedded default) or PostgreSQL (production).

pub mod accounts;
pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
#[cfg(test)]
mod layers;
pub mod server;
pub mod startup;
pub mod state;
