//! `Idempotency-Key` on `POST` (IETF httpapi-idempotency-key-header): a retried request with
//! the same key and body gets the first answer again, and nothing is done twice. A key is
//! the caller's own (scoped to the signed-in user or API key) and is kept for a day.
//! - same key, other request (operation, body, or a precondition such as `If-Match`): 422
//!   `/problems/idempotency-key-reused`;
//! - same key while the first request is still being answered: 409 with `Retry-After`;
//! - a first answer of 5xx (the database was unavailable) is not kept, so a retry runs.
//!
//! Sign-in, refresh, sign-out, password changes and new API keys answer with secrets or
//! spend them, so they never keep an answer and ignore the header; imports are idempotent by
//! themselves (a second import of a file changes nothing) and ignore it too.

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, web};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use utoipa::ToResponse;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::{OpenApi, Required};

use crate::api::body::BODY_LIMIT;
use crate::api::responses::{Conflict, ValidationFailed};
use crate::api::routes;
use crate::auth::Principal;
use crate::auth::secrets::hex;
use crate::domain::idempotency::{self, Answer, Claim};
use crate::error::{ApiError, Problem};
use crate::state::AppState;

pub const HEADER: HeaderName = HeaderName::from_static("idempotency-key");
/// Sent on a replayed answer, so a client can tell it from a first one.
const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
const KEY_LENGTH: std::ops::RangeInclusive<usize> = 16..=255;
/// Operations that ignore the header (see the module comment).
const IGNORED_BY: &[&str] = &[
    "login",
    "refresh",
    "logout",
    "change_my_password",
    "create_api_key",
    "import_organisations",
    "import_contacts",
];

/// The key of a header value: an sf-string (`"…"`) or the bare characters, 16 to 255 of
/// letters, digits and `-_.:` (a UUID fits).
fn key_of(value: &HeaderValue) -> Result<String, ApiError> {
    let text = value.to_str().unwrap_or_default().trim();
    let key = text
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or(text);
    let plain = key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if plain && KEY_LENGTH.contains(&key.len()) {
        Ok(key.to_owned())
    } else {
        Err(ApiError::bad_request(
            "Idempotency-Key must be 16 to 255 letters, digits or -_.: (a UUID is a good key)",
        ))
    }
}

/// Headers that can change a request's outcome: how its body reads, and its preconditions.
/// A request that differs in one of them is another request (a 412 must not be replayed to
/// the retry that fixed its `If-Match`), so the key is refused for it.
const FINGERPRINTED: [HeaderName; 3] = [
    header::CONTENT_TYPE,
    header::IF_MATCH,
    header::IF_NONE_MATCH,
];

/// What a key was first used with: the operation's method and path, the query, the headers
/// above and the body.
fn fingerprint(req: &ServiceRequest, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    let headers = FINGERPRINTED.iter().map(|name| {
        let values: Vec<&[u8]> = req
            .headers()
            .get_all(name)
            .map(HeaderValue::as_bytes)
            .collect();
        values.join(&b"\n"[..])
    });
    let parts = [
        req.method().as_str().as_bytes().to_vec(),
        req.path().as_bytes().to_vec(),
        req.query_string().as_bytes().to_vec(),
    ]
    .into_iter()
    .chain(headers);
    for part in parts {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(&part);
    }
    hash.update(body);
    hex(&hash.finalize())
}

/// Whom a key belongs to.
fn actor(principal: &Principal) -> String {
    match principal {
        Principal::User { id, .. } => format!("user:{id}"),
        Principal::ApiKey { id, .. } => format!("api_key:{id}"),
    }
}

/// The body, read whole up to the JSON limit (the handler reads it again from memory).
async fn read_body(req: &mut ServiceRequest) -> Result<web::Bytes, ApiError> {
    let mut payload = req.take_payload();
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("reading the body: {e}")))?;
        if body.len() + chunk.len() > BODY_LIMIT {
            return Err(ApiError::PayloadTooLarge { limit: BODY_LIMIT });
        }
        body.extend_from_slice(&chunk);
    }
    let body = body.freeze();
    req.set_payload(Payload::from(body.clone()));
    Ok(body)
}

fn replay(answer: Answer) -> HttpResponse {
    let mut response =
        HttpResponse::build(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK));
    response.insert_header((REPLAYED, "true"));
    for (name, value) in [
        (header::CONTENT_TYPE, answer.content_type),
        (header::LOCATION, answer.location),
        (header::ETAG, answer.etag),
    ] {
        if let Some(value) = value {
            response.insert_header((name, value));
        }
    }
    if answer.status >= 400 {
        // Problems are rendered on the way out (`error::render_problem`), with this request's
        // path and id: hand the kept problem to it.
        if let Ok(problem) = serde_json::from_str::<Problem>(&answer.body) {
            let mut response = response.finish();
            response.extensions_mut().insert(problem);
            return response;
        }
    }
    response.body(answer.body)
}

/// The middleware: runs after the guard, so the caller is known.
pub async fn idempotent(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<BoxBody>>, actix_web::Error> {
    let keyed = req.method() == Method::POST && req.headers().contains_key(&HEADER);
    let operations = routes::operations();
    let operation = operations.find(req.method(), req.match_info().as_str());
    let principal = req.extensions().get::<Principal>().cloned();
    let (Some(operation), Some(principal), true) = (operation, principal, keyed) else {
        return Ok(next
            .call(req)
            .await?
            .map_into_boxed_body()
            .map_into_left_body());
    };
    if IGNORED_BY.contains(&operation.operation_id.as_str()) {
        return Ok(next
            .call(req)
            .await?
            .map_into_boxed_body()
            .map_into_left_body());
    }
    let refuse =
        |req: ServiceRequest, error: ApiError| Ok(req.error_response(error).map_into_right_body());
    let key = match req.headers().get(&HEADER).map(key_of) {
        Some(Ok(key)) => key,
        Some(Err(error)) => return refuse(req, error),
        None => {
            return Ok(next
                .call(req)
                .await?
                .map_into_boxed_body()
                .map_into_left_body());
        }
    };
    let body = match read_body(&mut req).await {
        Ok(body) => body,
        Err(error) => return refuse(req, error),
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return refuse(req, ApiError::internal("the application state is missing"));
    };
    let actor = actor(&principal);
    let print = fingerprint(&req, &body);
    let claim = {
        let (actor, key) = (actor.clone(), key.clone());
        state
            .db
            .run(move |conn| idempotency::claim(conn, &actor, &key, &print))
            .await
    };
    match claim {
        Ok(Claim::Run) => {}
        Ok(Claim::Replay(answer)) => {
            let (http, _) = req.into_parts();
            return Ok(ServiceResponse::new(http, replay(answer)).map_into_right_body());
        }
        Ok(Claim::InFlight) => return refuse(req, ApiError::IdempotencyKeyInFlight),
        Ok(Claim::Reused) => return refuse(req, ApiError::IdempotencyKeyReused),
        Err(error) => return refuse(req, error.into()),
    }

    let response = next.call(req).await?;
    let status = response.status();
    if status.is_server_error() {
        let outcome = state
            .db
            .run(move |conn| idempotency::release(conn, &actor, &key))
            .await;
        if let Err(error) = outcome {
            log::warn!("an idempotency key could not be released: {error}");
        }
        return Ok(response.map_into_boxed_body().map_into_left_body());
    }
    let (http, response) = response.into_parts();
    let (head, body) = response.into_parts();
    let bytes = match actix_web::body::to_bytes(body).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let error = ApiError::internal("the answer could not be read to keep it");
            return Ok(ServiceResponse::new(
                http,
                actix_web::ResponseError::error_response(&error),
            )
            .map_into_right_body());
        }
    };
    let text = |name: header::HeaderName| {
        head.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    // A refusal's body is written on the way out from the problem it carries: keep that.
    let body = match head.extensions().get::<Problem>() {
        Some(problem) => serde_json::to_string(problem).unwrap_or_default(),
        None => String::from_utf8_lossy(&bytes).into_owned(),
    };
    let answer = Answer {
        status: status.as_u16(),
        content_type: text(header::CONTENT_TYPE),
        location: text(header::LOCATION),
        etag: text(header::ETAG),
        body,
    };
    let kept = state
        .db
        .run(move |conn| idempotency::complete(conn, &actor, &key, &answer))
        .await;
    if let Err(error) = kept {
        // The change is made; only its replay is lost. A retry within a minute gets 409,
        // later it runs again.
        log::warn!("the answer to an idempotency key could not be kept: {error}");
    }
    let response = head.set_body(BoxBody::new(bytes));
    Ok(ServiceResponse::new(http, response).map_into_right_body())
}

/// Writes the header into every `POST` operation that honours it, with its two problems.
pub fn document(document: &mut OpenApi) {
    for item in document.paths.paths.values_mut() {
        let Some(operation) = item.post.as_mut() else {
            continue;
        };
        let id = operation.operation_id.clone().unwrap_or_default();
        if IGNORED_BY.contains(&id.as_str()) {
            continue;
        }
        let parameter: Parameter = ParameterBuilder::new()
            .name("Idempotency-Key")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "Makes a retry safe: the same key with the same request gets the first answer \
                 again (with `Idempotent-Replayed: true`) for 24 hours; the same key with \
                 another request is 422, and while the first is still being answered 409.",
            ))
            .schema(Some(
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .pattern(Some(
                        r#"^([A-Za-z0-9._:-]{16,255}|"[A-Za-z0-9._:-]{16,255}")$"#,
                    )),
            ))
            .build();
        operation
            .parameters
            .get_or_insert_with(Vec::new)
            .push(parameter.into());
        for (status, (_, response)) in [
            ("409", <Conflict as ToResponse>::response()),
            ("422", <ValidationFailed as ToResponse>::response()),
        ] {
            operation
                .responses
                .responses
                .entry(status.to_owned())
                .or_insert(response);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_plain_and_long_enough() {
        let key = |text: &str| key_of(&HeaderValue::from_str(text).unwrap());
        assert_eq!(
            key("\"8e03978e-40d5-43e8-bc93-6894a57f9324\"").unwrap(),
            "8e03978e-40d5-43e8-bc93-6894a57f9324"
        );
        assert_eq!(key("retry-me-please-01").unwrap(), "retry-me-please-01");
        assert!(key("short").is_err());
        assert!(key("\"with spaces in it, long enough\"").is_err());
        assert!(key(&"x".repeat(256)).is_err());
    }
}
