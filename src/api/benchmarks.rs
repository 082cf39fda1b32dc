//! `/api/v1/benchmarks` and `/api/v1/targets`: what the gaps report holds the membership
//! against: benchmark sets (a population's share per community code, with its source) and
//! the targets staff set.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use validator::{Validate, ValidationError};

use crate::api::audited::Subject;
use crate::api::body::{JsonBody, field_errors, nullable, present};
use crate::api::conditional::version_check;
use crate::api::list::{FromQuery, PageParams};
use crate::api::paging::{self, Keyset};
use crate::api::path_id;
use crate::api::resource::{self, Resource};
use crate::api::schemas::timestamp;
use crate::api::validation as rules;
use crate::domain::audit::{self, entity};
use crate::domain::reports::Dimension;
use crate::domain::reports::benchmarks::{self, BenchmarkProfile, BenchmarkSet};
use crate::domain::reports::targets::{self, Minimum, Target, TargetProfile};
use crate::domain::{DomainError, FieldError};
use crate::error::ApiError;
use crate::state::AppState;

const TAG: &str = "reports";
/// The sort benchmark list cursors carry.
const BY_NAME: &str = "name";

#[derive(Debug, Serialize, ToSchema)]
pub struct BenchmarkResponse {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(example = "youth_custody_2025_01")]
    pub code: String,
    pub name: String,
    pub population: String,
    pub source: String,
    pub year: i32,
    /// False where the figures came from a secondary source and should be checked against
    /// the publication before they are quoted.
    pub verified: bool,
    /// Percentage (0-100) of the population per community code.
    #[schema(value_type = BTreeMap<String, f64>, example = json!({"DEI010100": 24.1}))]
    pub shares: BTreeMap<String, f64>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl Resource for BenchmarkSet {
    type Shown = BenchmarkResponse;
    const SUBJECT: Subject = Subject::record(entity::BENCHMARK);
    const PATH: &'static str = "/api/v1/benchmarks";
    const KEY: fn(&Self) -> (&str, i64) = |r| (&r.id, r.version);
}

impl From<BenchmarkSet> for BenchmarkResponse {
    fn from(set: BenchmarkSet) -> Self {
        let p = set.profile;
        Self {
            id: set.id,
            code: p.code,
            name: p.name,
            population: p.population,
            source: p.source,
            year: p.year,
            verified: p.verified,
            shares: p.shares,
            created_at: timestamp(set.created_at),
            updated_at: timestamp(set.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BenchmarkList {
    pub data: Vec<BenchmarkResponse>,
    pub next_cursor: Option<String>,
}

/// Shares are percentages of community codes' shape, at most 100 of them.
fn valid_shares(shares: &BTreeMap<String, f64>) -> Result<(), ValidationError> {
    if shares.len() > 100 {
        return Err(ValidationError::new("length").with_message("at most 100 shares".into()));
    }
    for (code, share) in shares {
        if !rules::COMMUNITY_CODE_RE.is_match(code) {
            return Err(ValidationError::new("invalid")
                .with_message(format!("{code:?} is not shaped like a community code").into()));
        }
        if !(0.0..=100.0).contains(share) || share.is_nan() {
            return Err(ValidationError::new("range")
                .with_message(format!("the share of {code} must be from 0 to 100").into()));
        }
    }
    Ok(())
}

/// A new benchmark set: a population's share (percent) per community code, with its source.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBenchmarkRequest {
    /// A short unique name in lower snake case.
    #[validate(required(message = "is required"), regex(path = *rules::EXPERTISE_CODE_RE, message = "must be lower-case words joined by underscores"))]
    #[schema(value_type = String, required = true, pattern = "EXPERTISE_CODE", example = "youth_custody_2026_01")]
    pub code: Option<String>,
    #[validate(required(message = "is required"), length(min = 1, max = 200), regex(path = *rules::SINGLE_LINE_RE, message = "must be one line of text without leading or trailing spaces"))]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 200, pattern = "SINGLE_LINE")]
    pub name: Option<String>,
    /// Who the shares describe.
    #[validate(required(message = "is required"), length(min = 1, max = 500), regex(path = *rules::SINGLE_LINE_RE, message = "must be one line of text without leading or trailing spaces"))]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 500, pattern = "SINGLE_LINE")]
    pub population: Option<String>,
    /// Where the figures come from.
    #[validate(required(message = "is required"), length(min = 1, max = 2000), regex(path = *rules::MULTI_LINE_RE, message = "must not contain control characters other than line breaks and tabs"))]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 2000, pattern = "MULTI_LINE")]
    pub source: Option<String>,
    #[validate(required(message = "is required"), range(min = 1900, max = 9999))]
    #[schema(value_type = i32, required = true, minimum = 1900, maximum = 9999)]
    pub year: Option<i32>,
    #[serde(default)]
    pub verified: bool,
    /// Percentage (0-100) of the population per community code.
    #[serde(default)]
    #[validate(custom(function = valid_shares))]
    #[schema(value_type = BTreeMap<String, f64>)]
    pub shares: BTreeMap<String, f64>,
}

impl CreateBenchmarkRequest {
    fn into_profile(self) -> Result<BenchmarkProfile, DomainError> {
        let required = |field: &str| {
            DomainError::Invalid(vec![FieldError::new(field, "required", "is required")])
        };
        Ok(BenchmarkProfile {
            code: self.code.ok_or_else(|| required("code"))?,
            name: self.name.ok_or_else(|| required("name"))?,
            population: self.population.ok_or_else(|| required("population"))?,
            source: self.source.ok_or_else(|| required("source"))?,
            year: self.year.ok_or_else(|| required("year"))?,
            verified: self.verified,
            shares: self.shares,
        })
    }
}

/// A JSON Merge Patch. `shares` merges too: `{"shares": {"DEI010100": 25.0}}` changes one
/// share and `{"shares": {"DEI010100": null}}` removes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBenchmarkRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, pattern = "EXPERTISE_CODE")]
    pub code: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, min_length = 1, max_length = 500)]
    pub population: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, min_length = 1, max_length = 2000)]
    pub source: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = i32, minimum = 1900, maximum = 9999)]
    pub year: Option<i32>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = bool)]
    pub verified: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = BTreeMap<String, Option<f64>>)]
    pub shares: Option<BTreeMap<String, Option<f64>>>,
}

/// Rules are checked on the patched whole (as a new set would be), in `apply`.
impl Validate for UpdateBenchmarkRequest {
    fn validate(&self) -> Result<(), validator::ValidationErrors> {
        Ok(())
    }
}

impl UpdateBenchmarkRequest {
    fn apply(&self, current: &BenchmarkProfile) -> Result<BenchmarkProfile, DomainError> {
        let mut shares = current.shares.clone();
        for (code, share) in self.shares.iter().flatten() {
            match share {
                Some(share) => shares.insert(code.clone(), *share),
                None => shares.remove(code),
            };
        }
        let next = CreateBenchmarkRequest {
            code: Some(self.code.clone().unwrap_or_else(|| current.code.clone())),
            name: Some(self.name.clone().unwrap_or_else(|| current.name.clone())),
            population: Some(
                self.population
                    .clone()
                    .unwrap_or_else(|| current.population.clone()),
            ),
            source: Some(
                self.source
                    .clone()
                    .unwrap_or_else(|| current.source.clone()),
            ),
            year: Some(self.year.unwrap_or(current.year)),
            verified: self.verified.unwrap_or(current.verified),
            shares,
        };
        next.validate()
            .map_err(|errors| DomainError::Invalid(field_errors(&errors)))?;
        next.into_profile()
    }
}

/// List benchmark sets
///
/// In name order. The three defaults come from the alliance's reference data, each with its
/// source; `verified: false` marks figures to check before quoting.
#[utoipa::path(
    tag = TAG,
    params(PageParams),
    responses(
        (status = 200, description = "A page of benchmark sets", body = BenchmarkList),
    )
)]
#[get("/benchmarks")]
pub async fn list_benchmarks(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let page = PageParams::parse(req.query_string())?;
    let keyset = Keyset::sorted(BY_NAME, page.cursor, page.limit)?;
    paging::page(
        &state.db,
        &req,
        keyset,
        paging::unfiltered(benchmarks::list),
        |page| BenchmarkList {
            data: page.rows.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
        },
    )
    .await
}

/// Create a benchmark set
#[utoipa::path(
    tag = TAG,
    request_body = CreateBenchmarkRequest,
    responses(
        (status = 201, description = "Created", body = BenchmarkResponse,
         headers(("Location" = String, description = "The new set"), ("ETag" = String, description = "Its version"))),
        (status = 409, response = crate::api::responses::Conflict),
    )
)]
#[post("/benchmarks")]
pub async fn create_benchmark(
    state: web::Data<AppState>,
    body: JsonBody<CreateBenchmarkRequest>,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let profile = body.0.into_profile()?;
    resource::create(&state.db, audit, move |conn| {
        benchmarks::create(conn, &profile)
    })
    .await
}

/// Get a benchmark set
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Benchmark set id")),
    responses(
        (status = 200, description = "The set", body = BenchmarkResponse,
         headers(("ETag" = String, description = "Send in If-Match to update safely"))),
        (status = 304, description = "Not modified: the If-None-Match tag is current"),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[get("/benchmarks/{id}")]
pub async fn get_benchmark(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    let set = state
        .db
        .run(move |conn| benchmarks::find(conn, &id))
        .await?;
    Ok(resource::read(&req, set))
}

/// Update a benchmark set
///
/// JSON Merge Patch; send the `ETag` you read in `If-Match` (412 when it is stale).
#[utoipa::path(
    tag = TAG,
    params(
        ("id" = uuid::Uuid, Path, description = "Benchmark set id"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "The ETag this change was based on"),
    ),
    request_body(content = UpdateBenchmarkRequest, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "Updated", body = BenchmarkResponse, headers(("ETag" = String, description = "The new version"))),
        (status = 404, response = crate::api::responses::NotFound),
        (status = 409, response = crate::api::responses::Conflict),
    )
)]
#[patch("/benchmarks/{id}")]
pub async fn update_benchmark(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    body: JsonBody<UpdateBenchmarkRequest>,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    let check = version_check(&req);
    let patch = body.0;
    resource::update(&state.db, audit, id, benchmarks::find, move |conn, id| {
        benchmarks::update(conn, id, &check, |current| patch.apply(current))
    })
    .await
}

/// Delete a benchmark set
#[utoipa::path(
    tag = TAG,
    params(
        ("id" = uuid::Uuid, Path, description = "Benchmark set id"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "The ETag this deletion was based on"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[delete("/benchmarks/{id}")]
pub async fn delete_benchmark(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    resource::delete::<BenchmarkSet>(&state.db, audit, id, &req, benchmarks::soft_delete).await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TargetResponse {
    #[schema(format = Uuid)]
    pub id: String,
    pub dimension: Dimension,
    /// A row code of the dimension: a community code, a kind, a size band, a region, an
    /// expertise code, or `true`/`false` for lived-experience leadership.
    #[schema(example = "DEI010000")]
    pub code: String,
    /// At least this percentage (0-100) of the active members who answered.
    pub minimum_share: Option<f64>,
    /// At least this many active members.
    pub minimum_count: Option<i32>,
    pub note: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl Resource for Target {
    type Shown = TargetResponse;
    const SUBJECT: Subject = Subject::record(entity::TARGET);
    const PATH: &'static str = "/api/v1/targets";
    const KEY: fn(&Self) -> (&str, i64) = |r| (&r.id, r.version);
}

impl From<Target> for TargetResponse {
    fn from(target: Target) -> Self {
        let p = target.profile;
        let (minimum_share, minimum_count) = match p.minimum {
            Minimum::Share(share) => (Some(share), None),
            Minimum::Count(count) => (None, Some(count)),
        };
        Self {
            id: target.id,
            dimension: p.dimension,
            code: p.code,
            minimum_share,
            minimum_count,
            note: p.note,
            created_at: timestamp(target.created_at),
            updated_at: timestamp(target.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TargetList {
    pub data: Vec<TargetResponse>,
    pub next_cursor: Option<String>,
}

/// A target: exactly one of `minimum_share` and `minimum_count`.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTargetRequest {
    #[validate(required(message = "is required"))]
    #[schema(value_type = Dimension, required = true)]
    pub dimension: Option<Dimension>,
    #[validate(required(message = "is required"), length(min = 1, max = 64), regex(path = *rules::TARGET_CODE_RE, message = "must be a code: letters, digits and underscores"))]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 64, pattern = "TARGET_CODE")]
    pub code: Option<String>,
    #[serde(default)]
    #[validate(range(min = 0.0, max = 100.0))]
    #[schema(minimum = 0, maximum = 100)]
    pub minimum_share: Option<f64>,
    #[serde(default)]
    #[validate(range(min = 0))]
    #[schema(minimum = 0)]
    pub minimum_count: Option<i32>,
    #[serde(default)]
    #[validate(length(max = 1000), regex(path = *rules::MULTI_LINE_RE, message = "must not contain control characters other than line breaks and tabs"))]
    #[schema(max_length = 1000, pattern = "MULTI_LINE")]
    pub note: Option<String>,
}

impl CreateTargetRequest {
    fn into_profile(self) -> Result<TargetProfile, DomainError> {
        let required = |field: &str| {
            DomainError::Invalid(vec![FieldError::new(field, "required", "is required")])
        };
        let minimum = match (self.minimum_share, self.minimum_count) {
            (Some(share), None) => Minimum::Share(share),
            (None, Some(count)) => Minimum::Count(count),
            _ => {
                return Err(DomainError::Invalid(vec![FieldError::new(
                    "minimum_share",
                    "one_of",
                    "give exactly one of minimum_share and minimum_count",
                )]));
            }
        };
        Ok(TargetProfile {
            dimension: self.dimension.ok_or_else(|| required("dimension"))?,
            code: self.code.ok_or_else(|| required("code"))?,
            minimum,
            note: self.note,
        })
    }
}

/// A JSON Merge Patch; set the other minimum to null when switching between a share and a
/// count.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTargetRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Dimension)]
    pub dimension: Option<Dimension>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, min_length = 1, max_length = 64, pattern = "TARGET_CODE")]
    pub code: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<f64>, minimum = 0, maximum = 100)]
    pub minimum_share: Option<Option<f64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i32>, minimum = 0)]
    pub minimum_count: Option<Option<i32>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 1000)]
    pub note: Option<Option<String>>,
}

/// Rules are checked on the patched whole (as a new target would be), in `apply`.
impl Validate for UpdateTargetRequest {
    fn validate(&self) -> Result<(), validator::ValidationErrors> {
        Ok(())
    }
}

impl UpdateTargetRequest {
    fn apply(&self, current: &TargetProfile) -> Result<TargetProfile, DomainError> {
        let (share, count) = match current.minimum {
            Minimum::Share(share) => (Some(share), None),
            Minimum::Count(count) => (None, Some(count)),
        };
        let next = CreateTargetRequest {
            dimension: Some(self.dimension.unwrap_or(current.dimension)),
            code: Some(self.code.clone().unwrap_or_else(|| current.code.clone())),
            minimum_share: self.minimum_share.unwrap_or(share),
            minimum_count: self.minimum_count.unwrap_or(count),
            note: self.note.clone().unwrap_or_else(|| current.note.clone()),
        };
        next.validate()
            .map_err(|errors| DomainError::Invalid(field_errors(&errors)))?;
        next.into_profile()
    }
}

/// List targets
#[utoipa::path(
    tag = TAG,
    params(PageParams),
    responses(
        (status = 200, description = "A page of targets", body = TargetList),
    )
)]
#[get("/targets")]
pub async fn list_targets(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let page = PageParams::parse(req.query_string())?;
    let keyset = Keyset::by_id(page.cursor, page.limit)?;
    paging::page(
        &state.db,
        &req,
        keyset,
        paging::unfiltered(targets::list),
        |page| TargetList {
            data: page.rows.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
        },
    )
    .await
}

/// Create a target
#[utoipa::path(
    tag = TAG,
    request_body = CreateTargetRequest,
    responses(
        (status = 201, description = "Created", body = TargetResponse,
         headers(("Location" = String, description = "The new target"), ("ETag" = String, description = "Its version"))),
    )
)]
#[post("/targets")]
pub async fn create_target(
    state: web::Data<AppState>,
    body: JsonBody<CreateTargetRequest>,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let profile = body.0.into_profile()?;
    resource::create(&state.db, audit, move |conn| {
        targets::create(conn, &profile)
    })
    .await
}

/// Get a target
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Target id")),
    responses(
        (status = 200, description = "The target", body = TargetResponse,
         headers(("ETag" = String, description = "Send in If-Match to update safely"))),
        (status = 304, description = "Not modified: the If-None-Match tag is current"),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[get("/targets/{id}")]
pub async fn get_target(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    let target = state.db.run(move |conn| targets::find(conn, &id)).await?;
    Ok(resource::read(&req, target))
}

/// Update a target
///
/// JSON Merge Patch; send the `ETag` you read in `If-Match` (412 when it is stale).
#[utoipa::path(
    tag = TAG,
    params(
        ("id" = uuid::Uuid, Path, description = "Target id"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "The ETag this change was based on"),
    ),
    request_body(content = UpdateTargetRequest, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "Updated", body = TargetResponse, headers(("ETag" = String, description = "The new version"))),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[patch("/targets/{id}")]
pub async fn update_target(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    body: JsonBody<UpdateTargetRequest>,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    let check = version_check(&req);
    let patch = body.0;
    resource::update(&state.db, audit, id, targets::find, move |conn, id| {
        targets::update(conn, id, &check, |current| patch.apply(current))
    })
    .await
}

/// Delete a target
#[utoipa::path(
    tag = TAG,
    params(
        ("id" = uuid::Uuid, Path, description = "Target id"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "The ETag this deletion was based on"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[delete("/targets/{id}")]
pub async fn delete_target(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    resource::delete::<Target>(&state.db, audit, id, &req, targets::soft_delete).await
}

pub fn configure(config: &mut ServiceConfig) {
    config
        .service(list_benchmarks)
        .service(create_benchmark)
        .service(get_benchmark)
        .service(update_benchmark)
        .service(delete_benchmark)
        .service(list_targets)
        .service(create_target)
        .service(get_target)
        .service(update_target)
        .service(delete_target);
}
