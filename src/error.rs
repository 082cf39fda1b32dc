//! `ApiError`, the one error type handlers return, and its RFC 9457 problem+json rendering.
//! Every error response, including actix's own (unknown route, payload errors), leaves the
//! service through `render_problem` so clients always see the same shape.

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbError;
use crate::domain::{DomainError, FieldError};

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";
/// Seconds a client should wait before retrying when the database is unavailable.
const RETRY_AFTER_SECONDS: &str = "2";
/// The challenge sent with every 401 (RFC 6750).
const WWW_AUTHENTICATE: &str = r#"Bearer realm="convene""#;

/// This request's id, put in the request extensions by `api::request_id::assign` (which wraps
/// every route) and quoted by every problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    pub fn of(req: &HttpRequest) -> Option<String> {
        req.extensions().get::<Self>().map(|id| id.0.clone())
    }
}

/// An RFC 9457 problem details document.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct Problem {
    /// Identifies the kind of problem; each is described in the README.
    #[serde(rename = "type")]
    #[schema(example = "/problems/validation")]
    pub problem_type: String,
    #[schema(example = "Validation failed")]
    pub title: String,
    #[schema(example = 422)]
    pub status: u16,
    #[schema(example = "2 fields are invalid")]
    pub detail: String,
    /// The request path the problem occurred on.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "/api/v1/organisations")]
    pub instance: Option<String>,
    /// The request's `X-Request-Id`, to quote when asking about this problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "019377a2-5c1e-7d6b-a1f0-1c2d3e4f5a6b")]
    pub request_id: Option<String>,
    /// Every failing field (validation) or query parameter (bad request), up to the first 20.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// How many more errors there were than `errors` lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors_omitted: Option<usize>,
    /// A rejected import's report: every bad row, column and value (see the import operations).
    #[serde(skip_serializing_if = "Option::is_none")]
    // Documented by `api::spec` as the import operations' `ImportReport`, a type above here.
    #[schema(value_type = Option<Object>)]
    pub report: Option<serde_json::Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("bad request: {detail}")]
    BadRequest {
        detail: String,
        errors: Vec<FieldError>,
    },
    #[error("not found: {detail}")]
    NotFound { detail: String },
    /// What was asked for existed and is gone for good (a feed position past retention).
    #[error("gone: {detail}")]
    Gone { detail: String },
    #[error("method not allowed")]
    MethodNotAllowed { allow: Vec<String> },
    /// No credentials, or credentials that are not valid (never says which part failed).
    #[error("unauthorized: {detail}")]
    Unauthorized { detail: String },
    /// Valid credentials whose role or scopes do not allow the operation.
    #[error("forbidden: {detail}")]
    Forbidden { detail: String },
    /// Too many attempts (sign-in); retry after this many seconds.
    #[error("too many requests")]
    TooManyRequests { retry_after_seconds: u64 },
    #[error("not acceptable: {detail}")]
    NotAcceptable { detail: String },
    #[error("conflict: {detail}")]
    Conflict {
        detail: String,
        errors: Vec<FieldError>,
    },
    #[error("precondition failed")]
    PreconditionFailed,
    /// An `Idempotency-Key` already used for a different request.
    #[error("idempotency key reused")]
    IdempotencyKeyReused,
    /// The first request with this `Idempotency-Key` is still being answered.
    #[error("idempotency key in flight")]
    IdempotencyKeyInFlight,
    #[error("payload too large")]
    PayloadTooLarge { limit: usize },
    /// A request target (path and query) longer than `limit` bytes.
    #[error("URI too long")]
    UriTooLong { limit: usize },
    #[error("unsupported media type: {detail}")]
    UnsupportedMediaType { detail: String },
    #[error("validation failed")]
    Validation { errors: Vec<FieldError> },
    /// An import with bad rows: nothing was written; `report` lists every problem.
    #[error("import rejected: {detail}")]
    ImportRejected {
        detail: String,
        report: serde_json::Value,
    },
    /// An import file over the row limit (the byte limit is `PayloadTooLarge`).
    #[error("import too large: {detail}")]
    ImportTooLarge { detail: String },
    /// The database cannot be reached or is too busy; the cause is logged, never sent.
    #[error("service unavailable: {cause}")]
    Unavailable { cause: String },
    /// A fault of ours; the cause is logged, never sent.
    #[error("internal error: {cause}")]
    Internal { cause: String },
}

impl ApiError {
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::BadRequest {
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::NotFound {
            detail: detail.into(),
        }
    }

    pub fn unavailable(cause: impl Into<String>) -> Self {
        Self::Unavailable {
            cause: cause.into(),
        }
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::Unauthorized {
            detail: detail.into(),
        }
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::Forbidden {
            detail: detail.into(),
        }
    }

    pub fn internal(cause: impl Into<String>) -> Self {
        Self::Internal {
            cause: cause.into(),
        }
    }

    /// The problem document sent for this error (without `instance`, added on the way out).
    pub fn problem(&self) -> Problem {
        let (slug, title) = self.kind();
        let (detail, errors) = match self {
            Self::BadRequest { detail, errors } | Self::Conflict { detail, errors } => {
                (detail.clone(), errors.clone())
            }
            Self::NotFound { detail }
            | Self::Gone { detail }
            | Self::Unauthorized { detail }
            | Self::Forbidden { detail }
            | Self::NotAcceptable { detail }
            | Self::UnsupportedMediaType { detail }
            | Self::ImportRejected { detail, .. }
            | Self::ImportTooLarge { detail } => (detail.clone(), Vec::new()),
            Self::MethodNotAllowed { allow } => (
                format!("this resource supports {}", allow.join(", ")),
                Vec::new(),
            ),
            Self::TooManyRequests { retry_after_seconds } => (
                format!("too many attempts; try again in {retry_after_seconds} seconds"),
                Vec::new(),
            ),
            Self::IdempotencyKeyReused => (
                "this Idempotency-Key was used for a different request (another operation, body or If-Match); use a new key for a new request".to_owned(),
                Vec::new(),
            ),
            Self::IdempotencyKeyInFlight => (
                "the first request with this Idempotency-Key is still being answered; retry after the number of seconds in Retry-After to get its answer".to_owned(),
                Vec::new(),
            ),
            Self::PreconditionFailed => (
                "the resource has changed since you read it: fetch it again, reapply your change and send the new ETag in If-Match".to_owned(),
                Vec::new(),
            ),
            Self::PayloadTooLarge { limit } => (
                format!("the request body is larger than the limit of {limit} bytes"),
                Vec::new(),
            ),
            Self::UriTooLong { limit } => (
                format!("the request's path and query are longer than the limit of {limit} bytes"),
                Vec::new(),
            ),
            Self::Validation { errors } => (
                match errors.len() {
                    1 => format!("{}: {}", errors[0].field, errors[0].message),
                    n => format!("{n} fields are invalid"),
                },
                errors.clone(),
            ),
            Self::Unavailable { .. } => (
                "the database is unavailable or busy; retry after the number of seconds in Retry-After".to_owned(),
                Vec::new(),
            ),
            Self::Internal { .. } => (
                "something went wrong on our side; it has been logged".to_owned(),
                Vec::new(),
            ),
        };
        let (errors, errors_omitted) = first_of(errors, MAX_PROBLEM_ERRORS);
        Problem {
            problem_type: format!("/problems/{slug}"),
            title: title.to_owned(),
            status: self.status_code().as_u16(),
            detail,
            instance: None,
            request_id: None,
            errors,
            errors_omitted,
            report: match self {
                Self::ImportRejected { report, .. } => Some(capped_report(report)),
                _ => None,
            },
        }
    }

    /// The problem `type` slug and title: one per variant.
    fn kind(&self) -> (&'static str, &'static str) {
        match self {
            Self::BadRequest { .. } => ("bad-request", "Bad request"),
            Self::NotFound { .. } => ("not-found", "Not found"),
            Self::Gone { .. } => ("gone", "Gone"),
            Self::MethodNotAllowed { .. } => ("method-not-allowed", "Method not allowed"),
            Self::Unauthorized { .. } => ("unauthorized", "Unauthorized"),
            Self::Forbidden { .. } => ("forbidden", "Forbidden"),
            Self::TooManyRequests { .. } => ("too-many-requests", "Too many requests"),
            Self::NotAcceptable { .. } => ("not-acceptable", "Not acceptable"),
            Self::Conflict { .. } => ("conflict", "Conflict"),
            Self::PreconditionFailed => ("precondition-failed", "Precondition failed"),
            Self::IdempotencyKeyReused => ("idempotency-key-reused", "Idempotency key reused"),
            Self::IdempotencyKeyInFlight => {
                ("idempotency-key-in-flight", "Idempotency key in flight")
            }
            Self::PayloadTooLarge { .. } => ("payload-too-large", "Payload too large"),
            Self::UriTooLong { .. } => ("uri-too-long", "URI too long"),
            Self::UnsupportedMediaType { .. } => {
                ("unsupported-media-type", "Unsupported media type")
            }
            Self::Validation { .. } => ("validation", "Validation failed"),
            Self::ImportRejected { .. } => ("import-rejected", "Import rejected"),
            Self::ImportTooLarge { .. } => ("payload-too-large", "Payload too large"),
            Self::Unavailable { .. } => ("service-unavailable", "Service unavailable"),
            Self::Internal { .. } => ("internal", "Internal server error"),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Gone { .. } => StatusCode::GONE,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::NotAcceptable { .. } => StatusCode::NOT_ACCEPTABLE,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::IdempotencyKeyInFlight => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UriTooLong { .. } => StatusCode::URI_TOO_LONG,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation { .. } | Self::ImportRejected { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::ImportTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self {
            Self::Unavailable { .. } | Self::IdempotencyKeyInFlight => {
                response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECONDS));
            }
            Self::MethodNotAllowed { allow } => {
                response.insert_header((header::ALLOW, allow.join(", ")));
            }
            Self::Unauthorized { .. } => {
                response.insert_header((header::WWW_AUTHENTICATE, WWW_AUTHENTICATE));
            }
            Self::TooManyRequests {
                retry_after_seconds,
            } => {
                response.insert_header((header::RETRY_AFTER, retry_after_seconds.to_string()));
            }
            _ => {}
        }
        let mut response = response.finish();
        response.extensions_mut().insert(self.problem());
        // Logged by `render_problem`, which knows the request id.
        match self {
            Self::Internal { cause } => {
                response.extensions_mut().insert(LoggedCause {
                    level: log::Level::Error,
                    text: format!("internal error: {cause}"),
                });
            }
            Self::Unavailable { cause } => {
                response.extensions_mut().insert(LoggedCause {
                    level: log::Level::Warn,
                    text: format!("database unavailable: {cause}"),
                });
            }
            _ => {}
        }
        response
    }
}

/// The most entries a problem's `errors` lists; `errors_omitted` counts the rest. The detail
/// still gives the whole count, and a hostile request cannot make the answer huge.
pub const MAX_PROBLEM_ERRORS: usize = 20;
/// The most row errors a rejected import's `report.errors` lists (`report.errors_omitted`
/// counts the rest): enough to fix a file by, bounded however bad the file.
pub const MAX_REPORT_ERRORS: usize = 100;

/// The first `max` of `errors`, and how many were left out (`None` when none were).
fn first_of<T>(mut errors: Vec<T>, max: usize) -> (Vec<T>, Option<usize>) {
    let omitted = errors.len().saturating_sub(max);
    errors.truncate(max);
    (errors, (omitted > 0).then_some(omitted))
}

/// An import report with its `errors` cut to `MAX_REPORT_ERRORS`.
fn capped_report(report: &serde_json::Value) -> serde_json::Value {
    let mut report = report.clone();
    if let Some(object) = report.as_object_mut()
        && let Some(serde_json::Value::Array(errors)) = object.remove("errors")
    {
        let (errors, omitted) = first_of(errors, MAX_REPORT_ERRORS);
        object.insert("errors".to_owned(), serde_json::Value::Array(errors));
        if let Some(omitted) = omitted {
            object.insert("errors_omitted".to_owned(), omitted.into());
        }
    }
    report
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        match error {
            DomainError::NotFound(what) => Self::not_found(format!("{what} not found")),
            DomainError::Conflict { message, errors } => Self::Conflict {
                detail: message,
                errors,
            },
            DomainError::Invalid(errors) => Self::Validation { errors },
            DomainError::BadFilter(errors) => Self::BadRequest {
                detail: errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("; "),
                errors,
            },
            DomainError::Stale => Self::PreconditionFailed,
            DomainError::Unrecorded => Self::internal(DomainError::Unrecorded.to_string()),
            DomainError::Database(error) => error.into(),
            DomainError::Db(error) => error.into(),
        }
    }
}

/// The database layer's failures: no connection in time is a 503 (retry), a failed blocking
/// task a logged 500, a query's error as below.
impl From<DbError> for ApiError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Unavailable(detail) => Self::unavailable(detail),
            DbError::Task(_) => Self::internal(error.to_string()),
            DbError::Query(error) => error.into(),
        }
    }
}

/// Database errors: not-found is a 404, a lost or busy database a 503, a constraint a 409,
/// anything else a logged 500.
impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind as Kind, Error};
        match &error {
            Error::NotFound => Self::not_found("resource not found"),
            Error::DatabaseError(Kind::UniqueViolation, _) => Self::Conflict {
                detail: "the request conflicts with an existing record".to_owned(),
                errors: Vec::new(),
            },
            _ if crate::db::is_transient(&error) => {
                Self::unavailable(without_values(&error.to_string()))
            }
            _ => Self::internal(without_values(&error.to_string())),
        }
    }
}

/// A database message fit for the log: PostgreSQL quotes the value it refused after a colon
/// (`invalid input syntax for type date: "…"`), and that value may be a person's; names of
/// relations and constraints (quoted without a colon) are kept.
fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(": \"") {
        out.push_str(&rest[..start + 3]);
        let after = &rest[start + 3..];
        match after.find('"') {
            Some(end) => {
                out.push_str("[value]\"");
                rest = &after[end + 1..];
            }
            None => {
                out.push_str("[value]");
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Why a request failed on our side, for the log only (never the response).
struct LoggedCause {
    level: log::Level,
    text: String,
}

/// Rewrites every error response as problem+json with `instance` set: our own (whose problem
/// rides in the response extensions) and actix's (built from the status alone).
pub fn render_problem<B: MessageBody + 'static>(
    response: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let (request, mut response) = response.into_parts();
    let status = response.status();
    let request_id = RequestId::of(&request);
    if let Some(cause) = response.extensions_mut().remove::<LoggedCause>() {
        log::log!(
            cause.level,
            "{} {} request_id={}: {}",
            request.method(),
            request.path(),
            request_id.as_deref().unwrap_or("-"),
            cause.text
        );
    }
    let mut problem = response
        .extensions_mut()
        .remove::<Problem>()
        .unwrap_or_else(|| {
            if status.is_server_error() {
                log::error!(
                    "{} {} request_id={} failed with {status}",
                    request.method(),
                    request.path(),
                    request_id.as_deref().unwrap_or("-")
                );
            }
            problem_for_status(status)
        });
    problem.instance = Some(request.path().to_owned());
    problem.request_id = request_id;

    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let mut rendered = HttpResponse::build(status);
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rendered.append_header((name.clone(), value.clone()));
        }
    }
    rendered.insert_header((
        header::CONTENT_TYPE,
        HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
    ));
    let rendered: HttpResponse<BoxBody> = rendered.body(body);
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(request, rendered).map_body(|_, body| EitherBody::right(body)),
    ))
}

/// The problem for an error actix produced itself (we did not build an `ApiError`).
fn problem_for_status(status: StatusCode) -> Problem {
    let error = match status {
        StatusCode::BAD_REQUEST => ApiError::bad_request("the request could not be read"),
        StatusCode::NOT_FOUND => ApiError::not_found("no resource at this path"),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge {
            limit: crate::config::BODY_LIMIT,
        },
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType {
            detail: "send application/json".to_owned(),
        },
        StatusCode::SERVICE_UNAVAILABLE => ApiError::unavailable("reported by the framework"),
        status if status.is_client_error() => {
            let mut problem = ApiError::bad_request("the request could not be handled").problem();
            problem.status = status.as_u16();
            problem.title = status
                .canonical_reason()
                .unwrap_or("Client error")
                .to_owned();
            return problem;
        }
        _ => ApiError::internal(format!("framework error with status {status}")),
    };
    error.problem()
}

#[cfg(test)]
mod tests {
    use super::without_values;

    #[test]
    fn a_logged_database_message_keeps_names_and_drops_values() {
        assert_eq!(
            without_values(r#"invalid input syntax for type date: "ada@example.org""#),
            r#"invalid input syntax for type date: "[value]""#
        );
        assert_eq!(
            without_values(
                r#"duplicate key value violates unique constraint "contacts_email_key""#
            ),
            r#"duplicate key value violates unique constraint "contacts_email_key""#
        );
        assert_eq!(
            without_values(r#"a: "Ada" and b: "Lovelace" in "contacts""#),
            r#"a: "[value]" and b: "[value]" in "contacts""#
        );
        assert_eq!(without_values(r#"cut: "Ada"#), r#"cut: "[value]"#);
    }
}
