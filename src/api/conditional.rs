//! Entity tags and conditional requests: every single resource has an `ETag` (its version),
//! `If-None-Match` answers 304, and `If-Match` guards writes so two admins cannot silently
//! overwrite each other.

use actix_web::HttpRequest;
use actix_web::http::header;

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
