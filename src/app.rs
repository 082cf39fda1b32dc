//! `build_app`: the one place where routes, the OpenAPI document, middleware and error
//! handling meet. `main` and the tests build the service through it.

use std::sync::LazyLock;

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::{ErrorHandlers, Logger};
use actix_web::{App, HttpRequest, HttpResponse, web};
use utoipa::OpenApi;
use utoipa::openapi::OpenApi as OpenApiDocument;
use utoipa_actix_web::{AppExt, UtoipaApp, scope};
use utoipa_swagger_ui::SwaggerUi;

use crate::api::{self, ApiDoc};
use crate::db::Database;
use crate::error::{ApiError, render_problem};

/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

/// What every handler can reach.
pub struct AppState {
    pub db: Database,
    /// Browser origins allowed to call the API (`CORS_ORIGINS`).
    pub cors_origins: Vec<String>,
}

/// Registers every operation: the routes and the OpenAPI paths come from these calls alone.
fn register<T>(app: UtoipaApp<T>) -> UtoipaApp<T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    app.service(scope::scope("/api/v1").configure(api::organisations::configure))
        .configure(api::health::configure)
}

/// The OpenAPI document of this build.
pub fn openapi() -> OpenApiDocument {
    register(App::new().into_utoipa_app().openapi(ApiDoc::openapi()))
        .split_for_parts()
        .1
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
    let app = register(
        App::new()
            .service(docs)
            .into_utoipa_app()
            .openapi(ApiDoc::openapi())
            .app_data(state),
    )
    .into_app();
    app.default_service(web::to(fallback))
        .wrap(cors)
        .wrap(ErrorHandlers::new().default_handler(render_problem))
        .wrap(Logger::new("%a \"%r\" %s %b %Dms"))
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
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::LINK,
            header::RETRY_AFTER,
        ])
        .max_age(3600);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// A path template from the OpenAPI document, split into segments (`{…}` matches any one).
struct Route {
    segments: Vec<String>,
    methods: Vec<String>,
}

/// Every documented path and its methods, to tell 404 (no such path) from 405.
static ROUTES: LazyLock<Vec<Route>> = LazyLock::new(|| {
    openapi()
        .paths
        .paths
        .iter()
        .map(|(path, item)| {
            let methods = [
                (&item.get, Method::GET),
                (&item.post, Method::POST),
                (&item.put, Method::PUT),
                (&item.patch, Method::PATCH),
                (&item.delete, Method::DELETE),
            ]
            .into_iter()
            .filter(|(operation, _)| operation.is_some())
            .map(|(_, method)| method.to_string())
            .collect();
            Route {
                segments: path.split('/').map(str::to_owned).collect(),
                methods,
            }
        })
        .collect()
});

/// What no route matched: a wrong method on a known path (405 with `Allow`) or an unknown
/// path (404).
async fn fallback(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let segments: Vec<&str> = req.path().split('/').collect();
    let route = ROUTES.iter().find(|route| {
        route.segments.len() == segments.len()
            && route
                .segments
                .iter()
                .zip(&segments)
                .all(|(template, actual)| template.starts_with('{') || template == actual)
    });
    Err(match route {
        Some(route) => ApiError::MethodNotAllowed {
            allow: route.methods.clone(),
        },
        None => ApiError::not_found("no resource at this path"),
    })
}
