//! `build_app`: the one place where the registered operations (`api::routes`), the docs,
//! middleware and error handling are wired together. `main` and the tests build the service
//! through it; it holds no handlers and no rules of its own.

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{DefaultHeaders, ErrorHandlers, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, web};
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::api::{self, ApiDoc, routes};
use crate::auth::guard::guard;
use crate::error::{ApiError, render_problem};
use crate::state::AppState;

/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

pub fn build_app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let cors = cors(&state.cors_origins);
    // The document and docs are registered first: the `/api/v1` scope would otherwise claim
    // `/api/v1/openapi.json` and answer 404.
    let docs = SwaggerUi::new("/docs/{_:.*}").url(OPENAPI_PATH, routes::openapi());
    // Every response: no sniffing, no framing, no caching (API answers hold personal data).
    let security_headers = DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::CACHE_CONTROL, "no-store"));
    let app = routes::register(
        App::new()
            .service(web::redirect("/docs", "/docs/"))
            .service(docs)
            // Bodies are read up to this limit (actix's default is 256 KiB); imports get more.
            .app_data(web::PayloadConfig::new(api::body::BODY_LIMIT))
            // The guard finds each request's operation in this table.
            .app_data(routes::operations())
            .into_utoipa_app()
            .openapi(ApiDoc::openapi())
            .app_data(state),
    )
    .into_app();
    // Middleware runs outermost last: logging, request ids, closing the connection after a
    // 413, problem rendering, security headers (on every answer, preflights too), CORS
    // (answers preflights), the URI length limit, the guard before routing, then idempotency
    // keys (which need the caller the guard found).
    app.default_service(web::to(fallback))
        .wrap(from_fn(api::idempotency::idempotent))
        .wrap(from_fn(guard))
        .wrap(from_fn(api::limits::limit_uri))
        .wrap(cors)
        .wrap(security_headers)
        .wrap(ErrorHandlers::new().default_handler(render_problem))
        // Outside the problem rendering, which builds a new answer.
        .wrap(from_fn(api::limits::close_when_too_large))
        .wrap(from_fn(api::request_id::assign))
        .wrap(api::access_log::logger())
}

fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            api::request_id::HEADER,
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::LINK,
            header::RETRY_AFTER,
            header::WWW_AUTHENTICATE,
            api::request_id::HEADER,
        ])
        .max_age(3600);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// What no route matched: a wrong method on a known path (405 with `Allow`) or an unknown
/// path (404).
async fn fallback(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let allow = routes::operations().methods_at(req.match_info().as_str());
    Err(if allow.is_empty() {
        ApiError::not_found("no resource at this path")
    } else {
        ApiError::MethodNotAllowed { allow }
    })
}
