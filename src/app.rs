//! `build_app`: the one place where routes, the OpenAPI document, middleware and error
//! handling meet. `main` and the tests build the service through it.

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{DefaultHeaders, ErrorHandlers, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, web};
use utoipa::OpenApi;
use utoipa::openapi::OpenApi as OpenApiDocument;
use utoipa_actix_web::{AppExt, UtoipaApp, scope};
use utoipa_swagger_ui::SwaggerUi;

use crate::api::{self, ApiDoc, routes};
use crate::auth::limiter::LoginLimiter;
use crate::auth::tokens::Tokens;
use crate::auth::{Auth, guard::guard, passwords, rules};
use crate::config::{Config, Secret};
use crate::db::Database;
use crate::domain::membership::GraceWindow;
use crate::error::{ApiError, render_problem};

/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

/// What every handler can reach.
pub struct AppState {
    pub db: Database,
    /// Browser origins allowed to call the API (`CORS_ORIGINS`).
    pub cors_origins: Vec<String>,
    pub auth: Auth,
    pub grace: GraceWindow,
    /// Counts of people from 1 to this minus one are suppressed in reports.
    pub suppression_threshold: i64,
    /// The largest CSV body an import reads, in bytes (`IMPORT_BODY_LIMIT_MIB`).
    pub import_body_limit: usize,
}

impl AppState {
    /// The state for `config`, signing tokens with `jwt_secret` (see `auth::bootstrap`).
    pub fn new(db: Database, config: &Config, jwt_secret: &Secret) -> Self {
        passwords::warm_up();
        Self {
            db,
            cors_origins: config.cors_origins.clone(),
            grace: GraceWindow(config.membership_grace_days),
            suppression_threshold: i64::from(config.report_suppression_threshold),
            import_body_limit: config.import_body_limit_mib as usize * 1024 * 1024,
            auth: Auth {
                tokens: Tokens::new(&config.auth, jwt_secret, chrono::Utc::now()),
                limiter: LoginLimiter::default(),
            },
        }
    }
}

/// Registers every operation: the routes and the OpenAPI paths come from these calls alone.
fn register<T>(app: UtoipaApp<T>) -> UtoipaApp<T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    app.service(
        scope::scope("/api/v1")
            .configure(api::auth::configure)
            .configure(api::users::configure)
            .configure(api::api_keys::configure)
            // Before organisations: `/organisations/duplicates` is not an organisation's id.
            .configure(api::duplicates::configure)
            .configure(api::organisations::configure)
            .configure(api::merge::configure)
            .configure(api::membership::configure)
            .configure(api::taxonomies::configure)
            .configure(api::contacts::configure)
            .configure(api::expert_groups::configure)
            .configure(api::consultations::configure)
            .configure(api::reports::configure)
            .configure(api::benchmarks::configure)
            .configure(api::audit::configure)
            .configure(api::imports::configure),
    )
    .configure(api::health::configure)
}

/// The OpenAPI document of this build, with every operation's access rule written in.
pub fn openapi() -> OpenApiDocument {
    let mut document = register(App::new().into_utoipa_app().openapi(ApiDoc::openapi()))
        .split_for_parts()
        .1;
    rules::document(&mut document);
    api::idempotency::document(&mut document);
    document
}

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
    let docs = SwaggerUi::new("/docs/{_:.*}").url(OPENAPI_PATH, openapi());
    // Every response: no sniffing, no framing, no caching (API answers hold personal data).
    let security_headers = DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::CACHE_CONTROL, "no-store"));
    let app = register(
        App::new()
            .service(web::redirect("/docs", "/docs/"))
            .service(docs)
            // Bodies are read up to this limit (actix's default is 256 KiB); imports get more.
            .app_data(web::PayloadConfig::new(api::body::BODY_LIMIT))
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
    let allow = routes::methods_at(req.match_info().as_str());
    Err(if allow.is_empty() {
        ApiError::not_found("no resource at this path")
    } else {
        ApiError::MethodNotAllowed { allow }
    })
}
