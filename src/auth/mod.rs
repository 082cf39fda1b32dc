//! Who is calling and what they may do: staff sign in with passwords and carry short-lived
//! JWTs; integrations carry read-only API keys. `guard` authenticates every request and
//! applies the one table of rules in `rules`; handlers that need the caller take `Principal`.

pub mod api_keys;
pub mod bootstrap;
pub mod guard;
pub mod limiter;
pub mod operations;
pub mod passwords;
pub mod rules;
pub mod secrets;
pub mod tokens;

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload};

pub use crate::domain::api_keys::Scope;
pub use crate::domain::users::Role;
use crate::error::ApiError;

/// Sign-in machinery shared by every worker.
pub struct Auth {
    pub tokens: tokens::Tokens,
    pub limiter: limiter::LoginLimiter,
}

/// The authenticated caller of this request, put in the request extensions by `guard`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A staff member signed in through a session.
    User {
        id: String,
        role: Role,
        session_id: String,
    },
    /// An integration's API key.
    ApiKey { id: String, scopes: Vec<Scope> },
}

impl Principal {
    /// Whether the caller may know who gave an anonymous consultation response: staff and
    /// admins may; viewers and API keys never do.
    pub fn sees_anonymous_responses(&self) -> bool {
        matches!(
            self,
            Self::User {
                role: Role::Admin | Role::Staff,
                ..
            }
        )
    }

    /// The signed-in user's id, or 403 for an API key (for operations about "me").
    pub fn user_id(&self) -> Result<&str, ApiError> {
        match self {
            Self::User { id, .. } => Ok(id),
            Self::ApiKey { .. } => Err(ApiError::forbidden("API keys cannot use this operation")),
        }
    }
}

/// The caller, for handlers that need to know who it is. The guard runs before every
/// handler, so a missing principal means an operation that is public: refuse it rather than
/// guess (fail closed).
impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<Principal>()
                .cloned()
                .ok_or_else(|| ApiError::unauthorized("sign in first")),
        )
    }
}
