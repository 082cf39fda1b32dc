//! Health checks for orchestrators: liveness (the process answers) and readiness (the
//! database answers). Neither needs credentials.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct HealthResponse {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Liveness
#[utoipa::path(
    tag = "health",
    responses((status = 200, description = "The process is up", body = HealthResponse))
)]
#[get("/health/live")]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(HealthResponse { status: "ok" })
}

/// Readiness
#[utoipa::path(
    tag = "health",
    responses(
        (status = 200, description = "The database answers", body = HealthResponse),
        (status = 503, response = crate::api::responses::Unavailable),
    )
)]
#[get("/health/ready")]
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.db.ping().await?;
    Ok(HttpResponse::Ok().json(HealthResponse { status: "ok" }))
}

pub fn configure(config: &mut ServiceConfig) {
    config.service(live).service(ready);
}
