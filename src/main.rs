//! The `convene` binary: `convene` (or `convene serve`) runs the service; `convene openapi`
//! prints the OpenAPI document that is committed as `openapi/openapi.json`.

use std::process::ExitCode;

use actix_web::{HttpServer, web};
use convene::app::{AppState, build_app, openapi};
use convene::config::Config;
use convene::db::Database;

const USAGE: &str = "usage: convene [serve | openapi]\n\n  serve    run the API (default); configured by environment variables, see README.md\n  openapi  print the OpenAPI document (regenerate with: cargo run -- openapi > openapi/openapi.json)";

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

fn serve() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("convene: configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    let db = match Database::connect(&config.database_url, config.pool_size) {
        Ok(db) => db,
        Err(error) => {
            eprintln!("convene: {error}");
            return ExitCode::FAILURE;
        }
    };
    let state = web::Data::new(AppState {
        db,
        cors_origins: config.cors_origins.clone(),
    });
    log::info!(
        "Convene listening on http://{} (database {}, docs at /docs)",
        config.bind,
        config.database_url
    );
    let server = HttpServer::new(move || build_app(state.clone())).bind(config.bind);
    let result = match server {
        Ok(server) => actix_web::rt::System::new().block_on(server.run()),
        Err(error) => {
            eprintln!("convene: cannot listen on {}: {error}", config.bind);
            return ExitCode::FAILURE;
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("convene: server stopped: {error}");
            ExitCode::FAILURE
        }
    }
}
