//! `JsonBody<T>`: the request-body extractor every write uses. It checks the media type and
//! size, tells malformed JSON (400) from well-formed JSON of the wrong shape (422, naming the
//! field), then runs the `validator` rules and reports every failing field at once.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_path_to_error::Segment;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

use crate::domain::FieldError;
use crate::error::ApiError;

pub use crate::config::BODY_LIMIT;

/// JSON Merge Patch (RFC 7396), the media type `PATCH` bodies are documented as.
pub const MERGE_PATCH: &str = "application/merge-patch+json";
/// Media types a body may be sent as: JSON, and JSON Merge Patch for `PATCH`.
pub const JSON_TYPES: &[&str] = &["application/json", MERGE_PATCH];

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
            parse(&bytes).map(JsonBody)
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

/// For JSON Merge Patch fields: one that may be left out (`None`) but not set to null.
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// For JSON Merge Patch fields: one that may be left out (outer `None`) or set to null
/// (`Some(None)`, clearing it).
pub fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A field the `validator` rules already required (request DTOs keep required fields as
/// `Option` so a body missing them still reads; see `parse`). A 422 if it is somehow absent.
pub fn required<T>(value: Option<T>, field: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::Validation {
        errors: vec![FieldError::new(field, "required", "is required")],
    })
}

/// The most shape errors gathered from one body. Each one costs a fresh pass over the
/// document, so a hostile body with thousands of bad fields is cut short here.
const MAX_SHAPE_ERRORS: usize = 32;

/// Syntax errors are 400; values of the wrong type and unknown fields are 422s that name the
/// field. serde stops at the first such error, so the failing top-level field is set aside
/// and the rest read again, until the body reads cleanly: the client hears about every bad
/// field at once, and the `validator` rules still run on the fields that were readable.
pub fn parse<T: DeserializeOwned + Validate>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("a JSON request body is required"));
    }
    let syntax: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|error| ApiError::bad_request(format!("malformed JSON: {error}")))?;
    let serde_json::Value::Object(mut object) = syntax else {
        return Err(ApiError::Validation {
            errors: vec![FieldError::new(
                "",
                "type",
                "the body must be a JSON object",
            )],
        });
    };
    // Values neither database can store are refused before anything reads them.
    let mut errors = unstorable_values(&object);
    let mut set_aside = Vec::new();
    for error in &errors {
        let key = top_level_field(&error.field).to_owned();
        object.remove(&key);
        set_aside.push(key);
    }
    let parsed = loop {
        let document = serde_json::Value::Object(object.clone());
        match serde_path_to_error::deserialize::<_, T>(&document) {
            Ok(value) => break Some(value),
            Err(error) => {
                let top_level = match error.path().iter().next() {
                    Some(Segment::Map { key }) if object.contains_key(key) => Some(key.clone()),
                    _ => None,
                };
                errors.push(shape_error(&error));
                match top_level {
                    Some(key) if errors.len() < MAX_SHAPE_ERRORS => {
                        object.remove(&key);
                        set_aside.push(key);
                    }
                    // An error about the body as a whole (a required field left out), or
                    // too many errors: report what we have.
                    _ => break None,
                }
            }
        }
    };
    if let Some(value) = &parsed
        && let Err(rule_errors) = value.validate()
    {
        // Fields set aside read as absent, so their "required" errors are not news.
        errors.extend(field_errors(&rule_errors).into_iter().filter(|error| {
            !set_aside
                .iter()
                .any(|key| top_level_field(&error.field) == key)
        }));
    }
    match parsed {
        Some(value) if errors.is_empty() => Ok(value),
        _ => {
            errors.sort_by(|a, b| a.field.cmp(&b.field));
            Err(ApiError::Validation { errors })
        }
    }
}

/// Strings PostgreSQL cannot store (a NUL character), and dates and times outside the years
/// 0001 to 9999 in fields named like dates (`*_on`) and times (`*_at`): PostgreSQL refuses
/// some of them and SQLite's text order is wrong for the rest. Every such value is listed.
fn unstorable_values(object: &serde_json::Map<String, serde_json::Value>) -> Vec<FieldError> {
    fn walk(path: &str, key: &str, value: &serde_json::Value, out: &mut Vec<FieldError>) {
        match value {
            serde_json::Value::String(text) => {
                if text.contains('\0') {
                    out.push(FieldError::new(
                        path,
                        "invalid",
                        "must not contain NUL characters",
                    ));
                } else if key.ends_with("_on") || key.ends_with("_at") {
                    // Judged as stored: a time in UTC (an offset can carry 9999 into 10000).
                    let utc_year = chrono::DateTime::parse_from_rfc3339(text)
                        .map(|at| at.with_timezone(&chrono::Utc))
                        .or_else(|_| text.parse::<chrono::DateTime<chrono::Utc>>())
                        .ok()
                        .map(|at| chrono::Datelike::year(&at));
                    let out_of_range = match utc_year {
                        Some(year) => !(1..=9999).contains(&year),
                        None => {
                            !four_digit_year(text)
                                && chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
                        }
                    };
                    if out_of_range {
                        out.push(FieldError::new(
                            path,
                            "range",
                            "must be in the years 0001 to 9999",
                        ));
                    }
                }
            }
            serde_json::Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    walk(&format!("{path}[{index}]"), key, item, out);
                }
            }
            serde_json::Value::Object(fields) => {
                for (name, item) in fields {
                    walk(&format!("{path}.{name}"), name, item, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (name, value) in object {
        walk(name, name, value, &mut out);
    }
    out
}

/// `2026-…` but not `0000-…`, `-5000-…` or `+10000-…`.
pub fn four_digit_year(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 5
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && &bytes[..4] != b"0000"
}

fn shape_error(error: &serde_path_to_error::Error<serde_json::Error>) -> FieldError {
    let path = error.path().to_string();
    let path = if path == "." { String::new() } else { path };
    let message = shape_message(&error.inner().to_string());
    // serde names a missing field in its message, at the path of the object that lacks it.
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'));
    match missing {
        Some(name) if path.is_empty() => FieldError::new(name, "required", "is required"),
        Some(name) => FieldError::new(format!("{path}.{name}"), "required", "is required"),
        None if message.starts_with("unknown field") => {
            FieldError::new(path, "unknown_field", message)
        }
        None => FieldError::new(path, "invalid", message),
    }
}

/// `leadership` for `leadership.communities[1]`.
fn top_level_field(path: &str) -> &str {
    path.split(['.', '[']).next().unwrap_or_default()
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
