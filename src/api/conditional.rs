//! Entity tags and conditional requests: every single resource has an `ETag` (its version),
//! `If-None-Match` answers 304, and `If-Match` guards writes so two admins cannot silently
//! overwrite each other. Also the answers that carry a tag: 200, 201 and 304.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

use crate::domain::organisations::VersionCheck;

/// The strong entity tag for a stored version.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// Entity tags in a header value; `None` for `*`. Weak tags never match a strong comparison,
/// so they are dropped; quotes are optional, for clients that forget them.
fn tags(value: &str) -> Option<Vec<String>> {
    if value.trim() == "*" {
        return None;
    }
    Some(
        value
            .split(',')
            .map(str::trim)
            .filter(|tag| !tag.starts_with("W/"))
            .map(|tag| tag.trim_matches('"').to_owned())
            .collect(),
    )
}

/// What `If-Match` allows a write to replace. A tag that is no version of ours can never
/// match, which makes the write stale (412), as RFC 9110 asks.
pub fn version_check(req: &HttpRequest) -> VersionCheck {
    let Some(value) = req.headers().get(header::IF_MATCH) else {
        return VersionCheck::Any;
    };
    match tags(&String::from_utf8_lossy(value.as_bytes())) {
        None => VersionCheck::Any,
        Some(tags) => VersionCheck::OneOf(tags.iter().filter_map(|tag| tag.parse().ok()).collect()),
    }
}

/// True when `If-None-Match` names the current version (or `*`): answer 304.
pub fn not_modified(req: &HttpRequest, version: i64) -> bool {
    let Some(value) = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let current = etag(version);
    // If-None-Match uses the weak comparison: W/"3" matches "3".
    value.trim() == "*"
        || value
            .split(',')
            .map(|tag| tag.trim().trim_start_matches("W/"))
            .any(|tag| tag == current)
}

/// 200 with the record's version as its `ETag`: what a read or an update answers.
pub fn tagged(version: i64, body: impl Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::ETAG, etag(version)))
        .json(body)
}

/// A read: 304 (with the tag) when `If-None-Match` names the current version, otherwise
/// 200 with the body `show` makes and its `ETag`.
pub fn tagged_unless_current<B: Serialize>(
    req: &HttpRequest,
    version: i64,
    show: impl FnOnce() -> B,
) -> HttpResponse {
    if not_modified(req, version) {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, etag(version)))
            .finish();
    }
    tagged(version, show())
}

/// 201 with the new record's URL in `Location`, for records that have no version.
pub fn created(location: String, body: impl Serialize) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .json(body)
}

/// 201 with the new record's version as its `ETag` and its URL in `Location`.
pub fn created_tagged(location: String, version: i64, body: impl Serialize) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::ETAG, etag(version)))
        .insert_header((header::LOCATION, location))
        .json(body)
}
