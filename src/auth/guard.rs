//! The middleware in front of every operation: finds the operation (in the `Operations` table
//! the app gives it as app data), authenticates the bearer credential (a session JWT or an API
//! key), applies the operation's rule, and hands the principal to the handler. Refusals are
//! 401 (who are you?) or 403 (not you).

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};

use super::operations::Operations;
use super::rules::{self, Access};
use super::secrets::digest;
use super::tokens::TokenType;
use super::{Principal, api_keys};
use crate::domain::api_keys::store as key_store;
use crate::domain::users::sessions;
use crate::error::ApiError;
use crate::state::AppState;

/// Longer bearer values are refused unread.
const MAX_CREDENTIAL_LENGTH: usize = 4096;

pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(operations) = req.app_data::<web::Data<Operations>>().cloned() else {
        let error = ApiError::internal("the table of operations is missing");
        return Ok(req.error_response(error).map_into_right_body());
    };
    let path = req.match_info().as_str();
    let Some(operation) = operations.find(req.method(), path) else {
        let allow = operations.methods_at(path);
        if !allow.is_empty() {
            // A documented path, another method: 405 here, never routed on, since actix
            // could match a handler of a less specific path (DELETE /reports/snapshots/compare
            // would reach DELETE /reports/snapshots/{id}) that no rule admitted.
            let error = ApiError::MethodNotAllowed { allow };
            return Ok(req.error_response(error).map_into_right_body());
        }
        // Not an operation: the fallback answers 404, or it is the docs.
        return Ok(next.call(req).await?.map_into_left_body());
    };
    match admit(&req, &operation.operation_id).await {
        Ok(Some(principal)) => {
            req.extensions_mut().insert(principal);
        }
        Ok(None) => {}
        Err(error) => return Ok(req.error_response(error).map_into_right_body()),
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// The principal allowed to call `operation_id` (`None` for public operations).
async fn admit(req: &ServiceRequest, operation_id: &str) -> Result<Option<Principal>, ApiError> {
    let Some(access) = rules::rule(operation_id) else {
        log::error!("operation {operation_id} has no access rule; refusing it");
        return Err(ApiError::forbidden("this operation is not available"));
    };
    if access == Access::Public {
        return Ok(None);
    }
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal("the application state is missing"))?;
    let principal = authenticate(state, req.headers()).await?;
    access.check(&principal)?;
    Ok(Some(principal))
}

/// Who the `Authorization: Bearer …` credential belongs to. Every failure reads the same to
/// the client, so nothing is learnt from probing.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let invalid =
        || ApiError::unauthorized("the bearer token or API key is invalid, expired or revoked");
    let value = headers.get(header::AUTHORIZATION).ok_or_else(|| {
        ApiError::unauthorized(
            "this operation needs credentials: Authorization: Bearer <access token or API key>",
        )
    })?;
    let credential = value
        .to_str()
        .ok()
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, credential)| credential.trim())
        .filter(|credential| !credential.is_empty() && credential.len() <= MAX_CREDENTIAL_LENGTH)
        .ok_or_else(invalid)?;

    if api_keys::looks_like_key(credential) {
        let key_digest = digest(credential);
        let found = state
            .db
            .run(move |conn| key_store::authenticate(conn, &key_digest))
            .await?;
        let (id, scopes) = found.ok_or_else(invalid)?;
        return Ok(Principal::ApiKey { id, scopes });
    }

    let claims = state
        .auth
        .tokens
        .verify(credential, TokenType::Access)
        .ok_or_else(invalid)?;
    let session_id = claims.sid.clone();
    // The session decides, not the token: sign-out, deactivation and role changes apply
    // to tokens already issued.
    let live = state
        .db
        .run(move |conn| sessions::live_session(conn, &session_id))
        .await?;
    match live {
        Some((user_id, role, _)) if user_id == claims.sub => Ok(Principal::User {
            id: user_id,
            role,
            session_id: claims.sid,
        }),
        _ => Err(invalid()),
    }
}
