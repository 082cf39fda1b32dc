//! `/api/v1/taxonomies/*`: the community codes (DEI Data Standard plus the alliance's
//! extension codes) and expertise areas organisations are coded against. Admins add, rename
//! and retire codes; a retired code stays on old records and still filters lists, but cannot
//! be newly assigned.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use crate::api::audited;
use crate::api::body::{JsonBody, nullable, present, required};
use crate::api::list::{FromQuery, query_params};
use crate::api::schemas::timestamp;
use crate::api::validation as rules;
use crate::domain::FieldError;
use crate::domain::audit::{self, entity};
use crate::domain::taxonomies::{
    self as store, CodeChange, Community, ExpertiseArea, NewCommunity, NewExpertiseArea,
};
use crate::error::ApiError;
use crate::state::AppState;

const TAG: &str = "taxonomies";

#[derive(Debug, Serialize, ToSchema)]
pub struct CommunityResponse {
    #[schema(example = "DEI010110")]
    pub code: String,
    /// The broader community this one belongs to; null at the top.
    pub parent_code: Option<String>,
    #[schema(example = "African")]
    pub title: String,
    pub description: Option<String>,
    /// Where the code comes from (e.g. "DEI Data Standard").
    pub source: Option<String>,
    /// Set when retired: kept on old records, not assignable any more.
    #[schema(format = DateTime)]
    pub retired_at: Option<String>,
}

impl From<Community> for CommunityResponse {
    fn from(c: Community) -> Self {
        Self {
            code: c.code,
            parent_code: c.parent_code,
            title: c.title,
            description: c.description,
            source: c.source,
            retired_at: c.retired_at.map(timestamp),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExpertiseAreaResponse {
    #[schema(example = "racial_justice")]
    pub code: String,
    #[schema(example = "Racial justice and disproportionality")]
    pub title: String,
    #[schema(format = DateTime)]
    pub retired_at: Option<String>,
}

impl From<ExpertiseArea> for ExpertiseAreaResponse {
    fn from(e: ExpertiseArea) -> Self {
        Self {
            code: e.code,
            title: e.title,
            retired_at: e.retired_at.map(timestamp),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommunityList {
    /// Every code, in code order (parents before their children).
    pub data: Vec<CommunityResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExpertiseAreaList {
    pub data: Vec<ExpertiseAreaResponse>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCommunityRequest {
    #[validate(required(message = "is required"), regex(path = *rules::COMMUNITY_CODE_RE, message = "must be three capitals and six digits, e.g. EXT030000"))]
    #[schema(value_type = String, required = true, pattern = "COMMUNITY_CODE", example = "EXT030000")]
    pub code: Option<String>,
    /// An active code to file this one under.
    #[serde(default)]
    #[validate(regex(path = *rules::COMMUNITY_CODE_RE, message = "must be three capitals and six digits"))]
    #[schema(pattern = "COMMUNITY_CODE")]
    pub parent_code: Option<String>,
    #[validate(required(message = "is required"), length(min = 1, max = 200), regex(path = *rules::SINGLE_LINE_RE, message = "must be one line of text without leading or trailing spaces"))]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 200, pattern = "SINGLE_LINE")]
    pub title: Option<String>,
    #[serde(default)]
    #[validate(length(max = 2000), regex(path = *rules::MULTI_LINE_RE, message = "must not contain control characters"))]
    #[schema(max_length = 2000, pattern = "MULTI_LINE")]
    pub description: Option<String>,
    #[serde(default)]
    #[validate(length(max = 200), regex(path = *rules::SINGLE_LINE_RE, message = "must be one line of text without leading or trailing spaces"))]
    #[schema(max_length = 200, pattern = "SINGLE_LINE")]
    pub source: Option<String>,
}

/// Rename, re-describe, retire (`"retired": true`) or bring back a code (JSON Merge Patch).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCommunityRequest {
    #[serde(default, deserialize_with = "present")]
    #[validate(length(min = 1, max = 200), regex(path = *rules::SINGLE_LINE_RE, message = "must be one line of text without leading or trailing spaces"))]
    #[schema(value_type = String, min_length = 1, max_length = 200, pattern = "SINGLE_LINE")]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[validate(length(max = 2000), regex(path = *rules::MULTI_LINE_RE, message = "must not contain control characters"))]
    #[schema(value_type = Option<String>, max_length = 2000, pattern = "MULTI_LINE")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = bool)]
    pub retired: Option<bool>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateExpertiseAreaRequest {
    #[validate(required(message = "is required"), regex(path = *rules::EXPERTISE_CODE_RE, message = "must be lower-case words joined by underscores, e.g. school_exclusion"))]
    #[schema(value_type = String, required = true, pattern = "EXPERTISE_CODE", example = "school_exclusion")]
    pub code: Option<String>,
    #[validate(required(message = "is required"), length(min = 1, max = 200), regex(path = *rules::SINGLE_LINE_RE, message = "must be one line of text without leading or trailing spaces"))]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 200, pattern = "SINGLE_LINE")]
    pub title: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateExpertiseAreaRequest {
    #[serde(default, deserialize_with = "present")]
    #[validate(length(min = 1, max = 200), regex(path = *rules::SINGLE_LINE_RE, message = "must be one line of text without leading or trailing spaces"))]
    #[schema(value_type = String, min_length = 1, max_length = 200, pattern = "SINGLE_LINE")]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = bool)]
    pub retired: Option<bool>,
}

query_params! {
    /// A taxonomy list's query.
    pub struct TaxonomyListParams {
        /// Also list retired codes (default false).
        pub include_retired: Option<bool> = boolean,
    }
}

/// `include_retired=true|false` and nothing else.
fn include_retired(req: &HttpRequest) -> Result<bool, ApiError> {
    let params = TaxonomyListParams::parse(req.query_string())?;
    Ok(params.include_retired.unwrap_or(false))
}

/// A code from the path, checked against its shape (404 for anything else).
fn code_param(raw: &str, pattern: &regex::Regex) -> Result<String, ApiError> {
    if pattern.is_match(raw) {
        Ok(raw.to_owned())
    } else {
        Err(ApiError::BadRequest {
            detail: format!("code: must match {}", pattern.as_str()),
            errors: vec![FieldError::new(
                "code",
                "invalid",
                format!("must match {}", pattern.as_str()),
            )],
        })
    }
}

/// List community codes
///
/// Active codes in code order; `include_retired=true` adds retired ones.
#[utoipa::path(
    tag = TAG,
    params(TaxonomyListParams),
    responses(
        (status = 200, description = "The codes", body = CommunityList),
    )
)]
#[get("/taxonomies/communities")]
pub async fn list_communities(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let include = include_retired(&req)?;
    let codes = state
        .db
        .run(move |conn| store::communities(conn, include))
        .await?;
    Ok(HttpResponse::Ok().json(CommunityList {
        data: codes.into_iter().map(Into::into).collect(),
    }))
}

/// Add a community code
#[utoipa::path(
    tag = TAG,
    request_body = CreateCommunityRequest,
    responses(
        (status = 201, description = "Added", body = CommunityResponse),
        (status = 409, response = crate::api::responses::Conflict),
    )
)]
#[post("/taxonomies/communities")]
pub async fn create_community(
    state: web::Data<AppState>,
    body: JsonBody<CreateCommunityRequest>,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let new = NewCommunity {
        code: required(request.code, "code")?,
        parent_code: request.parent_code,
        title: required(request.title, "title")?,
        description: request.description,
        source: request.source,
    };
    let added = audited::create(
        &state.db,
        audit,
        entity::COMMUNITY,
        |added: &store::Community| added.code.clone(),
        CommunityResponse::from,
        move |conn| store::add_community(conn, &new),
    )
    .await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(CommunityResponse::from(added)))
}

/// Rename or retire a community code
///
/// A retired code stays on the records that have it and still filters lists; it cannot be
/// given to an organisation any more. `"retired": false` brings it back.
#[utoipa::path(
    tag = TAG,
    params(("code" = String, Path, description = "Community code", pattern = "COMMUNITY_CODE")),
    request_body(content = UpdateCommunityRequest, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "Changed", body = CommunityResponse),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[patch("/taxonomies/communities/{code}")]
pub async fn update_community(
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: JsonBody<UpdateCommunityRequest>,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let code = code_param(&path, &rules::COMMUNITY_CODE_RE)?;
    let change = CodeChange {
        title: body.0.title,
        description: body.0.description,
        retired: body.0.retired,
    };
    let changed = audited::update(
        &state.db,
        audit,
        entity::COMMUNITY,
        code,
        store::community,
        CommunityResponse::from,
        move |conn, code| store::change_community(conn, code, &change),
    )
    .await?;
    Ok(HttpResponse::Ok().json(CommunityResponse::from(changed)))
}

/// List expertise areas
///
/// Active areas in code order; `include_retired=true` adds retired ones.
#[utoipa::path(
    tag = TAG,
    params(TaxonomyListParams),
    responses(
        (status = 200, description = "The areas", body = ExpertiseAreaList),
    )
)]
#[get("/taxonomies/expertise-areas")]
pub async fn list_expertise_areas(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let include = include_retired(&req)?;
    let areas = state
        .db
        .run(move |conn| store::expertise_areas(conn, include))
        .await?;
    Ok(HttpResponse::Ok().json(ExpertiseAreaList {
        data: areas.into_iter().map(Into::into).collect(),
    }))
}

/// Add an expertise area
#[utoipa::path(
    tag = TAG,
    request_body = CreateExpertiseAreaRequest,
    responses(
        (status = 201, description = "Added", body = ExpertiseAreaResponse),
        (status = 409, response = crate::api::responses::Conflict),
    )
)]
#[post("/taxonomies/expertise-areas")]
pub async fn create_expertise_area(
    state: web::Data<AppState>,
    body: JsonBody<CreateExpertiseAreaRequest>,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let new = NewExpertiseArea {
        code: required(body.0.code, "code")?,
        title: required(body.0.title, "title")?,
    };
    let added = audited::create(
        &state.db,
        audit,
        entity::EXPERTISE_AREA,
        |added: &store::ExpertiseArea| added.code.clone(),
        ExpertiseAreaResponse::from,
        move |conn| store::add_expertise_area(conn, &new),
    )
    .await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(ExpertiseAreaResponse::from(added)))
}

/// Rename or retire an expertise area
#[utoipa::path(
    tag = TAG,
    params(("code" = String, Path, description = "Expertise area code", pattern = "EXPERTISE_CODE")),
    request_body(content = UpdateExpertiseAreaRequest, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "Changed", body = ExpertiseAreaResponse),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[patch("/taxonomies/expertise-areas/{code}")]
pub async fn update_expertise_area(
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: JsonBody<UpdateExpertiseAreaRequest>,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let code = code_param(&path, &rules::EXPERTISE_CODE_RE)?;
    let change = CodeChange {
        title: body.0.title,
        description: None,
        retired: body.0.retired,
    };
    let changed = audited::update(
        &state.db,
        audit,
        entity::EXPERTISE_AREA,
        code,
        store::expertise_area,
        ExpertiseAreaResponse::from,
        move |conn, code| store::change_expertise_area(conn, code, &change),
    )
    .await?;
    Ok(HttpResponse::Ok().json(ExpertiseAreaResponse::from(changed)))
}

pub fn configure(config: &mut ServiceConfig) {
    config
        .service(list_communities)
        .service(create_community)
        .service(update_community)
        .service(list_expertise_areas)
        .service(create_expertise_area)
        .service(update_expertise_area);
}
