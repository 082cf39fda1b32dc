//! `/api/v1/api-keys`: read-only keys for integrations, managed by admins. The key itself is
//! shown once, in the answer to its creation; afterwards only its prefix.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use crate::api::audited;
use crate::api::body::{JsonBody, required};
use crate::api::conditional::created;
use crate::api::list::{FromQuery, PageParams};
use crate::api::paging::{self, Keyset};
use crate::api::path_id;
use crate::api::schemas::{scopes, timestamp};
use crate::api::validation::{self as rules, unique_items};
use crate::auth::{Principal, Scope, api_keys};
use crate::domain::FieldError;
use crate::domain::api_keys::{ApiKey, NewApiKey, store};
use crate::domain::audit::{self, Event, entity};
use crate::error::ApiError;
use crate::state::AppState;

const TAG: &str = "api-keys";
const SORT: &str = "created";

/// Whether a key can be used now.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    Active,
    Expired,
    Revoked,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiKeyResponse {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(example = "Website member directory")]
    pub name: String,
    /// The start of the key, to recognise it; the rest is never shown again.
    #[schema(example = "cvk_1a2b3c4d")]
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub status: KeyStatus,
    /// The admin who created it.
    #[schema(format = Uuid)]
    pub created_by: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    #[schema(format = DateTime)]
    pub revoked_at: Option<String>,
    /// When the key was last used (to the minute). A use while another write holds the
    /// database is not noted; the next one is.
    #[schema(format = DateTime)]
    pub last_used_at: Option<String>,
}

impl From<ApiKey> for ApiKeyResponse {
    fn from(key: ApiKey) -> Self {
        let now = Utc::now().naive_utc();
        let status = match (key.revoked_at, key.expires_at) {
            (Some(_), _) => KeyStatus::Revoked,
            (None, Some(expires)) if expires <= now => KeyStatus::Expired,
            _ => KeyStatus::Active,
        };
        Self {
            id: key.id,
            name: key.name,
            prefix: key.prefix,
            scopes: key.scopes,
            status,
            created_by: key.created_by,
            created_at: timestamp(key.created_at),
            expires_at: key.expires_at.map(timestamp),
            revoked_at: key.revoked_at.map(timestamp),
            last_used_at: key.last_used_at.map(timestamp),
        }
    }
}

/// A key just created, with its secret: store it now, it cannot be shown again.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub api_key: ApiKeyResponse,
    /// Send as `Authorization: Bearer <key>`.
    #[schema(example = "cvk_1a2b3c4d_Xq3…")]
    pub key: String,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// What the key is for, so it can be recognised and revoked later.
    #[validate(required(message = "is required"), length(min = 1, max = 200), regex(path = *rules::SINGLE_LINE_RE, message = "must be one line of text without leading or trailing spaces"))]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 200, pattern = "SINGLE_LINE", example = "Website member directory")]
    pub name: Option<String>,
    #[validate(required(message = "is required"), length(min = 1, message = "needs at least one scope"), custom(function = unique_items))]
    #[schema(schema_with = scopes, required = true)]
    pub scopes: Option<Vec<Scope>>,
    /// When the key stops working; must be in the future. Without it the key works until
    /// revoked.
    #[serde(default)]
    #[schema(format = DateTime)]
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyList {
    pub data: Vec<ApiKeyResponse>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// List API keys
///
/// Every key, revoked and expired ones included, oldest first. Secrets are never shown.
#[utoipa::path(
    tag = TAG,
    params(PageParams),
    responses(
        (status = 200, description = "A page of keys", body = ApiKeyList),
    )
)]
#[get("/api-keys")]
pub async fn list_api_keys(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let page = PageParams::parse(req.query_string())?;
    let keyset = Keyset::sorted(SORT, page.cursor, page.limit)?;
    // In id order (creation order for UUIDv7): the cursors' sort key is empty.
    let listing = paging::unfiltered(|conn, after, limit| {
        let keys = store::list(conn, after.map(|(_, id)| id.as_str()), limit)?;
        Ok(paging::next_after_last(keys, |last| {
            (String::new(), last.id.clone())
        }))
    });
    paging::page(&state.db, &req, keyset, listing, |page| ApiKeyList {
        data: page.rows.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    })
    .await
}

/// Create an API key
///
/// The answer is the only time the key is shown. Keys only read, within their scopes.
#[utoipa::path(
    tag = TAG,
    request_body = CreateApiKeyRequest,
    responses(
        (status = 201, description = "Created: copy `key` now", body = CreatedApiKey,
         headers(("Location" = String, description = "The new key's record"))),
    )
)]
#[post("/api-keys")]
pub async fn create_api_key(
    state: web::Data<AppState>,
    principal: Principal,
    audit: audit::Context,
    body: JsonBody<CreateApiKeyRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    if let Some(expires_at) = request.expires_at
        && expires_at <= Utc::now()
    {
        return Err(ApiError::Validation {
            errors: vec![FieldError::new(
                "expires_at",
                "past",
                "must be in the future",
            )],
        });
    }
    let generated = api_keys::generate();
    let new = NewApiKey {
        name: required(request.name, "name")?,
        prefix: generated.prefix,
        secret_digest: generated.digest,
        scopes: required(request.scopes, "scopes")?,
        expires_at: request.expires_at.map(|at| at.naive_utc()),
        created_by: principal.user_id()?.to_owned(),
    };
    // The event holds the key as listed: never its secret.
    let key = audited::create(
        &state.db,
        audit,
        entity::API_KEY,
        |key: &ApiKey| key.id.clone(),
        ApiKeyResponse::from,
        move |conn| store::create(conn, &new),
    )
    .await?;
    Ok(created(
        format!("/api/v1/api-keys/{}", key.id),
        CreatedApiKey {
            api_key: key.into(),
            key: generated.key,
        },
    ))
}

/// Get an API key
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "API key id")),
    responses(
        (status = 200, description = "The key (without its secret)", body = ApiKeyResponse),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[get("/api-keys/{id}")]
pub async fn get_api_key(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    let key = state.db.run(move |conn| store::get(conn, &id)).await?;
    Ok(HttpResponse::Ok().json(ApiKeyResponse::from(key)))
}

/// Revoke an API key
///
/// The key stops working at once. Its record stays, marked revoked. Revoking twice is fine.
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "API key id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[delete("/api-keys/{id}")]
pub async fn revoke_api_key(
    state: web::Data<AppState>,
    path: web::Path<String>,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    state
        .db
        .write(audit, move |conn, log| {
            let before = ApiKeyResponse::from(store::get(conn, &id)?);
            store::revoke(conn, &id)?;
            let after = ApiKeyResponse::from(store::get(conn, &id)?);
            log.record(
                Event::new("revoke", entity::API_KEY, &id)
                    .changes(&audit::snapshot(&before), &audit::snapshot(&after)),
            );
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn configure(config: &mut ServiceConfig) {
    config
        .service(list_api_keys)
        .service(create_api_key)
        .service(get_api_key)
        .service(revoke_api_key);
}
