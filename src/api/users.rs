//! `/api/v1/users`: staff accounts, managed by admins. Accounts are never deleted (their
//! history matters); they are deactivated, which ends their sessions at once.

use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use crate::accounts;
use crate::api::audited::Subject;
use crate::api::body::{JsonBody, present, required};
use crate::api::conditional::{tagged, version_check};
use crate::api::list::{Cursor, FromQuery, query_params};
use crate::api::paging::{self, Keyset, Listing};
use crate::api::path_id;
use crate::api::resource::{self, Resource};
use crate::api::schemas::timestamp;
use crate::api::validation as rules;
use crate::auth::{Principal, Role, passwords};
use crate::domain::FieldError;
use crate::domain::audit::{self, entity};
use crate::domain::users::{NewUser, User, UserChange, UserFilter, store};
use crate::error::ApiError;
use crate::state::AppState;

const TAG: &str = "users";
/// The only order of the account list; cursors are bound to it.
const SORT: &str = "email";

/// A staff account. Password hashes are never sent.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserResponse {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Email, example = "sam.jones@alliance.example.org")]
    pub email: String,
    #[schema(example = "Sam Jones")]
    pub name: String,
    pub role: Role,
    /// Inactive accounts cannot sign in and their sessions have ended.
    pub active: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    #[schema(format = DateTime)]
    pub last_login_at: Option<String>,
}

impl Resource for User {
    type Shown = UserResponse;
    const SUBJECT: Subject = Subject::record(entity::USER);
    const PATH: &'static str = "/api/v1/users";
    const KEY: fn(&Self) -> (&str, i64) = |r| (&r.id, r.version);
}

impl From<User> for UserResponse {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            email: user.email,
            name: user.name,
            role: user.role,
            active: user.active,
            created_at: timestamp(user.created_at),
            updated_at: timestamp(user.updated_at),
            last_login_at: user.last_login_at.map(timestamp),
        }
    }
}

/// A user with its `ETag`, as a read or an update answers.
pub fn user_response(user: User) -> HttpResponse {
    tagged(user.version, UserResponse::from(user))
}

/// A new staff account. The password must be at least 12 characters and not a common one.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    #[validate(
        required(message = "is required"),
        custom(function = accounts::account_email)
    )]
    #[schema(value_type = String, required = true, format = Email, max_length = 254)]
    pub email: Option<String>,
    #[validate(required(message = "is required"), length(min = 1, max = 200), regex(path = *rules::SINGLE_LINE_RE, message = "must be one line of text without leading or trailing spaces"))]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 200, pattern = "SINGLE_LINE", example = "Sam Jones")]
    pub name: Option<String>,
    #[validate(required(message = "is required"))]
    #[schema(value_type = Role, required = true)]
    pub role: Option<Role>,
    #[validate(required(message = "is required"))]
    #[schema(value_type = String, required = true, format = Password, min_length = 12, max_length = 128)]
    pub password: Option<String>,
}

/// A change to an account (JSON Merge Patch). Deactivating ends the account's sessions.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    #[serde(default, deserialize_with = "present")]
    #[validate(length(min = 1, max = 200), regex(path = *rules::SINGLE_LINE_RE, message = "must be one line of text without leading or trailing spaces"))]
    #[schema(value_type = String, min_length = 1, max_length = 200, pattern = "SINGLE_LINE")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Role)]
    pub role: Option<Role>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = bool)]
    pub active: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    pub data: Vec<UserResponse>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

query_params! {
    /// Filters for `GET /users`, in email order.
    pub struct UserListParams {
        /// Most entries per page (1 to 500).
        #[param(value_type = Option<u32>, minimum = 1, maximum = 500, default = 50)]
        pub limit: usize = limit,
        /// `next_cursor` from the previous page.
        #[param(value_type = Option<String>, pattern = "CURSOR")]
        pub cursor: Option<Cursor> = cursor,
        /// Repeat for several roles.
        #[param(inline)]
        pub role: Vec<Role> = many,
        pub active: Option<bool> = boolean,
        /// Case-insensitive part of the email or name.
        #[param(max_length = 200, pattern = "QUERY_TEXT")]
        pub q: Option<String> = text,
    }
}

/// 422 for a password the policy refuses, on `field`.
pub fn check_password(password: &str, email: &str, field: &str) -> Result<(), ApiError> {
    match accounts::password_weakness(password, email) {
        Some(message) => Err(ApiError::Validation {
            errors: vec![FieldError::new(field, "weak_password", message)],
        }),
        None => Ok(()),
    }
}

/// Hashes on the blocking pool: argon2 takes tens of milliseconds of CPU by design.
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    web::block(move || passwords::hash(&password))
        .await
        .map_err(|error| ApiError::internal(format!("hashing task failed: {error}")))?
}

/// List staff accounts
#[utoipa::path(
    tag = TAG,
    params(UserListParams),
    responses(
        (status = 200, description = "A page of accounts", body = UserList),
    )
)]
#[get("/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let params = UserListParams::parse(req.query_string())?;
    let filter = UserFilter {
        roles: params.role.iter().map(ToString::to_string).collect(),
        active: params.active,
        q: params.q,
    };
    let keyset = Keyset::sorted(SORT, params.cursor, params.limit)?;
    let listing = Listing::new(filter, |conn, filter, after, limit| {
        let users = store::list(conn, filter, after, limit)?;
        Ok(paging::next_after_last(users, |last| {
            (last.email.clone(), last.id.clone())
        }))
    });
    paging::page(&state.db, &req, keyset, listing, |page| UserList {
        data: page.rows.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    })
    .await
}

/// Create a staff account
#[utoipa::path(
    tag = TAG,
    request_body = CreateUserRequest,
    responses(
        (status = 201, description = "Created", body = UserResponse,
         headers(("Location" = String, description = "The new account"),
                 ("ETag" = String, description = "Its version"))),
        (status = 409, response = crate::api::responses::Conflict),
    )
)]
#[post("/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    body: JsonBody<CreateUserRequest>,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let email = accounts::normalise_email(&required(request.email, "email")?);
    let password = required(request.password, "password")?;
    check_password(&password, &email, "password")?;
    let new = NewUser {
        name: required(request.name, "name")?,
        role: required(request.role, "role")?,
        password_hash: hash_password(password).await?,
        email,
    };
    resource::create(&state.db, audit, move |conn| store::create(conn, &new)).await
}

/// Get a staff account
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "The account", body = UserResponse,
         headers(("ETag" = String, description = "Send in If-Match to update safely"))),
        (status = 304, description = "Not modified: the If-None-Match tag is current"),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[get("/users/{id}")]
pub async fn get_user(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    let user = state.db.run(move |conn| store::get(conn, &id)).await?;
    Ok(resource::read(&req, user))
}

/// Update a staff account
///
/// Change the name, role or active state. Deactivating an account ends its sessions at once.
/// The last active admin cannot be demoted or deactivated, nor can you demote or deactivate
/// yourself (409).
#[utoipa::path(
    tag = TAG,
    params(
        ("id" = uuid::Uuid, Path, description = "User id"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "The ETag this change was based on"),
    ),
    request_body(content = UpdateUserRequest, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "Updated", body = UserResponse,
         headers(("ETag" = String, description = "The new version"))),
        (status = 404, response = crate::api::responses::NotFound),
        (status = 409, response = crate::api::responses::Conflict),
    )
)]
#[patch("/users/{id}")]
pub async fn update_user(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    principal: Principal,
    audit: audit::Context,
    body: JsonBody<UpdateUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    let check = version_check(&req);
    let actor = principal.user_id()?.to_owned();
    let change = UserChange {
        name: body.0.name,
        role: body.0.role,
        active: body.0.active,
    };
    resource::update(&state.db, audit, id, store::get, move |conn, id| {
        store::update(conn, id, &change, &check, &actor)
    })
    .await
}

pub fn configure(config: &mut ServiceConfig) {
    config
        .service(list_users)
        .service(create_user)
        .service(get_user)
        .service(update_user);
}
