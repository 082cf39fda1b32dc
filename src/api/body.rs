//! `JsonBody<T>`: the request-body extractor every write uses. It checks the media type and
//! size, tells malformed JSON (400) from well-formed JSON of the wrong shape (422, naming the
//! field), then runs the `validator` rules and reports every failing field at once.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use serde::de::DeserializeOwned;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

use crate::domain::FieldError;
use crate::error::ApiError;

/// The largest request body accepted (1 MiB).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Media types a body may be sent as: JSON, and JSON Merge Patch for `PATCH`.
const JSON_TYPES: &[&str] = &["application/json", "application/merge-patch+json"];

pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + Validate + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            check_media_type(&req)?;
            if declared_length(&req).is_some_and(|length| length > BODY_LIMIT) {
                return Err(ApiError::PayloadTooLarge { limit: BODY_LIMIT });
            }
            let bytes = web::Bytes::from_request(&req, &mut payload)
                .await
                .map_err(
                    |error| match error.as_response_error().status_code().as_u16() {
                        413 => ApiError::PayloadTooLarge { limit: BODY_LIMIT },
                        _ => ApiError::bad_request("the request body could not be read"),
                    },
                )?;
            let value: T = parse(&bytes)?;
            value.validate().map_err(|errors| ApiError::Validation {
                errors: field_errors(&errors),
            })?;
            Ok(JsonBody(value))
        })
    }
}

fn check_media_type(req: &HttpRequest) -> Result<(), ApiError> {
    let unsupported = || ApiError::UnsupportedMediaType {
        detail: format!("send the body as {}", JSON_TYPES.join(" or ")),
    };
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(unsupported)?;
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if JSON_TYPES.contains(&essence.as_str()) {
        Ok(())
    } else {
        Err(unsupported())
    }
}

fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Syntax errors are 400; a value of the wrong type or an unknown field is a 422 that names
/// the field.
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("a JSON request body is required"));
    }
    let syntax: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|error| ApiError::bad_request(format!("malformed JSON: {error}")))?;
    if !syntax.is_object() {
        return Err(ApiError::Validation {
            errors: vec![FieldError::new(
                "",
                "type",
                "the body must be a JSON object",
            )],
        });
    }
    serde_path_to_error::deserialize(syntax).map_err(|error| {
        let field = error.path().to_string();
        let field = if field == "." { String::new() } else { field };
        ApiError::Validation {
            errors: vec![FieldError::new(
                field,
                "invalid",
                shape_message(&error.into_inner().to_string()),
            )],
        }
    })
}

/// serde's messages, minus the line and column of a document the client did not write.
fn shape_message(message: &str) -> String {
    match message.split_once(" at line ") {
        Some((head, _)) => head.to_owned(),
        None => message.to_owned(),
    }
}

/// Flattens `validator`'s tree into one entry per failing field, with paths such as
/// `leadership.communities[2]`.
pub fn field_errors(errors: &ValidationErrors) -> Vec<FieldError> {
    let mut out = Vec::new();
    collect(errors, "", &mut out);
    out.sort_by(|a, b| a.field.cmp(&b.field));
    out
}

fn collect(errors: &ValidationErrors, prefix: &str, out: &mut Vec<FieldError>) {
    for (field, kind) in errors.errors() {
        let path = match (prefix.is_empty(), field.as_ref()) {
            (_, "__all__") => prefix.to_owned(),
            (true, field) => field.to_owned(),
            (false, field) => format!("{prefix}.{field}"),
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for error in list {
                    let message = error
                        .message
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_else(|| default_message(&error.code));
                    out.push(FieldError::new(path.clone(), &error.code, message));
                }
            }
            ValidationErrorsKind::Struct(inner) => collect(inner, &path, out),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    collect(inner, &format!("{path}[{index}]"), out);
                }
            }
        }
    }
}

fn default_message(code: &str) -> String {
    match code {
        "length" => "has the wrong length",
        "email" => "must be an email address",
        "regex" => "has the wrong format",
        "range" => "is out of range",
        _ => "is invalid",
    }
    .to_owned()
}
