//! `X-Request-Id`: every response carries one, taken from the request when the client sent a
//! sane value (so a frontend can follow its own ids through) and made up otherwise. The id
//! is in the access log, in every problem, and in the audit events a request writes.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use crate::auth::Principal;
use crate::domain::audit::{ActorType, Context};
use crate::error::{ApiError, RequestId};

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");
const MAX_LENGTH: usize = 128;

/// A client's id is kept when it is short and plain (letters, digits, `-`, `_`, `.`, `:`),
/// so it cannot forge log lines or smuggle markup into the audit trail.
fn sane(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_LENGTH
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

pub async fn assign(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(&HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|value| sane(value))
        .map(str::to_owned)
        .unwrap_or_else(crate::domain::new_id);
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.call(req).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    Ok(response)
}

/// Who is making this request and under which request id, for the audit events it writes.
impl FromRequest for Context {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let (actor_type, actor_id) = match req.extensions().get::<Principal>() {
            Some(Principal::User { id, .. }) => (ActorType::User, Some(id.clone())),
            Some(Principal::ApiKey { id, .. }) => (ActorType::ApiKey, Some(id.clone())),
            None => (ActorType::Anonymous, None),
        };
        std::future::ready(Ok(Context {
            actor_type,
            actor_id,
            request_id: RequestId::of(req),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::sane;

    #[test]
    fn plain_ids_are_kept_and_anything_else_is_replaced() {
        assert!(sane("3f2c9a1e-req"));
        assert!(sane("frontend:42.7"));
        assert!(!sane(""));
        assert!(!sane("two words"));
        assert!(!sane("line\nbreak"));
        assert!(!sane("<script>"));
        assert!(!sane(&"a".repeat(129)));
    }
}
