//! `/api/v1/auth/*` and `/api/v1/me`: signing in (a short-lived access token and a rotating
//! refresh token), refreshing, signing out, and one's own account and password.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use crate::accounts::normalise_email;
use crate::api::body::{JsonBody, required};
use crate::api::schemas::timestamp;
use crate::api::users::{UserResponse, check_password, hash_password, user_response};
use crate::auth::Principal;
use crate::auth::passwords;
use crate::auth::secrets::digest;
use crate::auth::tokens::{Issued, TokenType};
use crate::domain::audit::{self, ActorType, Event, entity};
use crate::domain::users::sessions::{self, Exchange};
use crate::domain::users::{RevokeReason, User, store};
use crate::domain::{DomainError, FieldError};
use crate::error::ApiError;
use crate::state::AppState;

const TAG: &str = "auth";
/// The same answer for an unknown email, a wrong password and an inactive account.
const SIGN_IN_REFUSED: &str = "the email or password is not right";
const REFRESH_REFUSED: &str = "the refresh token is invalid, expired or revoked: sign in again";

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[validate(required(message = "is required"), length(max = 254))]
    #[schema(value_type = String, required = true, format = Email, max_length = 254, example = "admin@convene.local")]
    pub email: Option<String>,
    #[validate(required(message = "is required"), length(max = 1024))]
    #[schema(value_type = String, required = true, format = Password, max_length = 1024)]
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[validate(required(message = "is required"), length(max = 4096))]
    #[schema(value_type = String, required = true, max_length = 4096)]
    pub refresh_token: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    #[validate(required(message = "is required"), length(max = 1024))]
    #[schema(value_type = String, required = true, format = Password, max_length = 1024)]
    pub current_password: Option<String>,
    #[validate(required(message = "is required"))]
    #[schema(value_type = String, required = true, format = Password, min_length = 12, max_length = 128)]
    pub new_password: Option<String>,
}

/// What signing in and refreshing return. Send `access_token` as `Authorization: Bearer …`;
/// before it expires, exchange `refresh_token` for a new pair (each refresh token works once).
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionTokens {
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    pub expires_in: i64,
    pub refresh_token: String,
    /// When the session ends; sign in again after that.
    #[schema(format = DateTime)]
    pub refresh_token_expires_at: String,
}

impl SessionTokens {
    fn new(access: Issued, refresh_token: Issued) -> Self {
        Self {
            access_token: access.token,
            token_type: "Bearer",
            expires_in: (access.expires_at - Utc::now()).num_seconds().max(0),
            refresh_token: refresh_token.token,
            refresh_token_expires_at: timestamp(refresh_token.expires_at.naive_utc()),
        }
    }
}

/// Checks `password` against the stored hash on the blocking pool (argon2 is slow by design),
/// spending the same time when there is no account. Returns the account when it matched,
/// and a fresh hash when the stored one used outdated parameters.
async fn verify_password(
    found: Option<(User, String)>,
    password: String,
) -> Result<Option<(User, Option<String>)>, ApiError> {
    web::block(move || match found {
        Some((user, stored)) if passwords::verify(&password, &stored) => {
            let rehashed = passwords::needs_rehash(&stored)
                .then(|| passwords::hash(&password).ok())
                .flatten();
            Some((user, rehashed))
        }
        Some(_) => None,
        None => {
            passwords::verify_dummy(&password);
            None
        }
    })
    .await
    .map_err(|error| ApiError::internal(format!("password check failed: {error}")))
}

/// Sign in
///
/// Exchanges an email and password for an access token (15 minutes by default) and a refresh
/// token. Limited per account and per client address (429 with `Retry-After`). A wrong
/// password, an unknown email and an inactive account get the same 401.
#[utoipa::path(
    tag = TAG,
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = SessionTokens),
        (status = 401, response = crate::api::responses::Unauthorized),
        (status = 429, response = crate::api::responses::TooManyRequests),
    )
)]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    audit: audit::Context,
    body: JsonBody<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let email = normalise_email(&required(body.0.email, "email")?);
    let password = required(body.0.password, "password")?;
    let address = req.peer_addr().map(|peer| peer.ip());
    // Counted before the password is checked, and not written to the audit trail: a flood
    // of attempts must stay cheap to refuse (one short write each, shared by every instance).
    state
        .auth
        .limiter
        .attempt(&state.db, &email, address)
        .await?;

    let found = state
        .db
        .run(move |conn| store::credentials(conn, &email))
        .await?;
    let account = found.as_ref().map(|(user, _)| user.id.clone());
    let Some((user, rehashed)) = verify_password(found, password).await? else {
        let reason = if account.is_some() {
            "wrong_password"
        } else {
            "unknown_account"
        };
        sign_in_failed(&state, audit, account, reason, address).await;
        return Err(ApiError::unauthorized(SIGN_IN_REFUSED));
    };
    if !user.active {
        sign_in_failed(&state, audit, Some(user.id), "inactive", address).await;
        return Err(ApiError::unauthorized(SIGN_IN_REFUSED));
    }

    let tokens = &state.auth.tokens;
    let session_id = sessions::new_session_id();
    let expires_at = Utc::now() + tokens.session_lifetime;
    let refresh_token = tokens.refresh(&user.id, user.role, &session_id, expires_at)?;
    let access = tokens.access(&user.id, user.role, &session_id)?;
    let refresh_digest = digest(&refresh_token.token);
    let audit = audit::Context {
        actor_type: ActorType::User,
        actor_id: Some(user.id.clone()),
        ..audit
    };
    state
        .db
        .write(audit, move |conn, log| {
            sessions::start(conn, &session_id, &user.id, expires_at, &refresh_digest)?;
            store::record_login(conn, &user.id, rehashed.as_deref())?;
            log.record(
                Event::new("sign_in", entity::USER, &user.id)
                    .detail("session_id", Value::Null, Value::String(session_id.clone()))
                    .detail("address", Value::Null, address_value(address)),
            );
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Ok().json(SessionTokens::new(access, refresh_token)))
}

fn address_value(address: Option<std::net::IpAddr>) -> Value {
    address.map_or(Value::Null, |address| Value::String(address.to_string()))
}

/// Records a refused sign-in (its own write: the sign-in itself changed nothing). The
/// attempted email is not kept; an attempt on a known account names the account.
async fn sign_in_failed(
    state: &AppState,
    audit: audit::Context,
    account: Option<String>,
    reason: &'static str,
    address: Option<std::net::IpAddr>,
) {
    log::info!("sign-in refused ({reason}) from {address:?}");
    let recorded = state
        .db
        .write(audit, move |_, log| {
            let event = Event::unnamed("sign_in_failed", entity::USER)
                .detail("reason", Value::Null, Value::String(reason.to_owned()))
                .detail("address", Value::Null, address_value(address));
            log.record(Event {
                entity_id: account,
                ..event
            });
            Ok(())
        })
        .await;
    if recorded.is_err() {
        log::warn!("a refused sign-in could not be written to the audit trail");
    }
}

/// Refresh the session
///
/// Exchanges a refresh token for a new access token and a new refresh token. Each refresh
/// token works once: presenting a spent one ends the whole session (someone may have copied
/// it), and both holders must sign in again.
#[utoipa::path(
    tag = TAG,
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new pair of tokens", body = SessionTokens),
        (status = 401, response = crate::api::responses::Unauthorized),
    )
)]
#[post("/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    audit: audit::Context,
    body: JsonBody<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let presented = required(body.0.refresh_token, "refresh_token")?;
    let tokens = &state.auth.tokens;
    let claims = tokens
        .verify(&presented, TokenType::Refresh)
        .ok_or_else(|| ApiError::unauthorized(REFRESH_REFUSED))?;
    // The next token ends with the session, like the one it replaces.
    let session_end = DateTime::from_timestamp(claims.exp, 0)
        .ok_or_else(|| ApiError::unauthorized(REFRESH_REFUSED))?;
    let next = tokens.refresh(&claims.sub, claims.role, &claims.sid, session_end)?;
    let (session_id, old_digest, next_digest) =
        (claims.sid.clone(), digest(&presented), digest(&next.token));
    // Every outcome is recorded: a rotation, a replayed token (the session ends), a refusal.
    let audit = audit::Context {
        actor_type: ActorType::User,
        actor_id: Some(claims.sub.clone()),
        ..audit
    };
    let outcome = state
        .db
        .write(audit, move |conn, log| {
            let outcome = sessions::exchange(conn, &session_id, &old_digest, &next_digest)?;
            let action = match outcome {
                Exchange::Rotated { .. } => "refresh",
                Exchange::Reused => "refresh_reused",
                Exchange::Refused => "refresh_refused",
            };
            log.record(Event::new(action, entity::SESSION, &session_id));
            Ok(outcome)
        })
        .await?;
    match outcome {
        Exchange::Rotated { user_id, role, .. } => {
            let access = tokens.access(&user_id, role, &claims.sid)?;
            Ok(HttpResponse::Ok().json(SessionTokens::new(access, next)))
        }
        Exchange::Reused => {
            log::warn!(
                "a spent refresh token was presented again; session {} ended",
                claims.sid
            );
            Err(ApiError::unauthorized(
                "this refresh token was already used, so the session has been ended for safety: sign in again",
            ))
        }
        Exchange::Refused => Err(ApiError::unauthorized(REFRESH_REFUSED)),
    }
}

/// Sign out
///
/// Ends the session of the access token used: its refresh token stops working and its access
/// tokens are refused from now on.
#[utoipa::path(
    tag = TAG,
    responses(
        (status = 204, description = "Signed out"),
    )
)]
#[post("/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    principal: Principal,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let Principal::User { session_id, .. } = principal else {
        return Err(ApiError::forbidden("API keys have no session to end"));
    };
    state
        .db
        .write(audit, move |conn, log| {
            sessions::revoke(conn, &session_id, RevokeReason::Logout)?;
            log.record(Event::new("sign_out", entity::SESSION, &session_id));
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Your account
#[utoipa::path(
    tag = TAG,
    responses(
        (status = 200, description = "The signed-in account", body = UserResponse,
         headers(("ETag" = String, description = "Its version"))),
    )
)]
#[get("/me")]
pub async fn get_me(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    let id = principal.user_id()?.to_owned();
    let user = state.db.run(move |conn| store::get(conn, &id)).await?;
    Ok(user_response(user))
}

/// Change your password
///
/// Needs the current password. Every other session of the account ends, so a leaked
/// password stops working everywhere; this one continues. Attempts are limited like sign-in.
#[utoipa::path(
    tag = TAG,
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Changed"),
        (status = 429, response = crate::api::responses::TooManyRequests),
    )
)]
#[post("/me/password")]
pub async fn change_my_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    principal: Principal,
    audit: audit::Context,
    body: JsonBody<ChangePasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let Principal::User { id, session_id, .. } = principal else {
        return Err(ApiError::forbidden("API keys have no password"));
    };
    let current = required(body.0.current_password, "current_password")?;
    let new_password = required(body.0.new_password, "new_password")?;
    let user_id = id.clone();
    let found = state
        .db
        .run(move |conn| {
            let user = store::get(conn, &user_id)?;
            let credentials = store::credentials(conn, &user.email)?;
            Ok::<_, DomainError>(credentials)
        })
        .await?;
    let email = found
        .as_ref()
        .map(|(user, _)| user.email.clone())
        .unwrap_or_default();
    let address = req.peer_addr().map(|peer| peer.ip());
    state
        .auth
        .limiter
        .attempt(&state.db, &email, address)
        .await?;
    if verify_password(found, current).await?.is_none() {
        return Err(ApiError::Validation {
            errors: vec![FieldError::new(
                "current_password",
                "mismatch",
                "is not your current password",
            )],
        });
    }
    check_password(&new_password, &email, "new_password")?;
    let hash = hash_password(new_password).await?;
    // The event says the password changed, never what to.
    state
        .db
        .write(audit, move |conn, log| {
            store::set_password(
                conn,
                &id,
                &hash,
                RevokeReason::PasswordChanged,
                Some(&session_id),
            )?;
            log.record(Event::new("password_change", entity::USER, &id));
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn configure(config: &mut ServiceConfig) {
    config
        .service(login)
        .service(refresh)
        .service(logout)
        .service(get_me)
        .service(change_my_password);
}
