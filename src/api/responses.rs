//! The error responses operations document, each a problem+json `Problem`. Referenced from
//! `#[utoipa::path]` so every operation states its failures the same way.

use utoipa::ToResponse;

use crate::error::Problem;

macro_rules! problem_response {
    ($($name:ident => $description:literal,)+) => {
        $(
            #[derive(ToResponse)]
            #[response(description = $description, content_type = "application/problem+json")]
            #[allow(dead_code)] // only its OpenAPI description is used
            pub struct $name(Problem);
        )+
    };
}

problem_response! {
    BadRequest => "Malformed JSON or a bad query or path parameter (every bad parameter listed in `errors`)",
    NotFound => "No such resource",
    Unauthorized => "No credentials, or a token or key that is invalid, expired or revoked; `WWW-Authenticate: Bearer`",
    Forbidden => "Signed in, but your role or your key's scopes do not allow this operation",
    TooManyRequests => "Too many attempts; retry after `Retry-After` seconds",
    NotAcceptable => "The Accept header asks for a representation this resource does not have",
    Conflict => "Conflicts with stored data, e.g. a registration number another organisation has",
    PreconditionFailed => "If-Match does not name the current version: read again, reapply, retry",
    PayloadTooLarge => "The body is larger than 1 MiB",
    UnsupportedMediaType => "The body is not sent as application/json (or application/merge-patch+json)",
    ValidationFailed => "The body is well-formed JSON but breaks the rules: every failing field is in `errors`",
    Gone => "Changes after this position have passed the feed's retention: sync in full, then follow the feed again",
    Unavailable => "The database is unavailable or busy; retry after `Retry-After` seconds",
}
