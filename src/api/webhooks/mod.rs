//! Webhook subscriptions (admins): create (the signing secret is shown once), list, read,
//! change, pause, rotate the secret, delete; each one's deliveries with their attempts, a
//! retry, and a test event. `sender` sends the deliveries.

pub mod sender;

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use crate::api::audited;
use crate::api::body::{JsonBody, nullable, present, required};
use crate::api::conditional::{created_tagged, tagged, version_check};
use crate::api::csv::defuse;
use crate::api::list::{FromQuery, PageParams, negotiate};
use crate::api::paging::{self, CsvForm, Keyset};
use crate::api::path_id;
use crate::api::schemas::{enum_set, timestamp};
use crate::api::validation as rules;
use crate::domain::FieldError;
use crate::domain::audit::{self, Event, entity};
use crate::domain::changes::{is_type_name, type_names};
use crate::domain::webhooks::store::{self, Attempt, Delivery, Fields};
use crate::domain::webhooks::{DeliveryStatus, Subscription, SubscriptionStatus, targets};
use crate::error::ApiError;
use crate::state::AppState;

const TAG: &str = "webhooks";

/// A subscription as shown: never its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookResponse {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(example = "https://hooks.example.org/convene")]
    pub url: String,
    pub description: Option<String>,
    /// The event types it is sent (prefixes end in a dot); empty for every type.
    pub event_types: Vec<String>,
    pub status: SubscriptionStatus,
    /// Since when its deliveries have been failing; three days of it disables it.
    #[schema(format = DateTime)]
    pub failing_since: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<Subscription> for WebhookResponse {
    fn from(s: Subscription) -> Self {
        Self {
            id: s.id,
            url: s.url,
            description: s.description,
            event_types: s.event_types,
            status: s.status,
            failing_since: s.failing_since.map(timestamp),
            created_at: timestamp(s.created_at),
            updated_at: timestamp(s.updated_at),
        }
    }
}

/// A subscription with its signing secret: the only time the secret is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: WebhookResponse,
    /// Verify each delivery's `webhook-signature` with it (Standard Webhooks).
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    pub data: Vec<WebhookResponse>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

fn event_types() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    enum_set(
        &type_names(),
        "Event types, or prefixes ending in a dot; empty for every type",
    )
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// Where deliveries are POSTed: https (or http), a public address.
    #[validate(required(message = "is required"), length(min = 1, max = 2048))]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 2048, example = "https://hooks.example.org/convene")]
    pub url: Option<String>,
    #[serde(default)]
    #[schema(schema_with = event_types)]
    pub event_types: Option<Vec<String>>,
    #[serde(default)]
    #[validate(length(min = 1, max = 500), regex(path = *rules::SINGLE_LINE_RE, message = "must be one line of text without leading or trailing spaces"))]
    #[schema(
        max_length = 500,
        pattern = "SINGLE_LINE",
        example = "Website member directory"
    )]
    pub description: Option<String>,
}

/// JSON Merge Patch of a subscription: `status` `paused` holds deliveries, `active` resumes
/// them (and re-enables a disabled subscription).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookRequest {
    #[serde(default, deserialize_with = "present")]
    #[validate(length(min = 1, max = 2048))]
    #[schema(value_type = String, min_length = 1, max_length = 2048)]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = event_types)]
    pub event_types: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[validate(length(min = 1, max = 500), regex(path = *rules::SINGLE_LINE_RE, message = "must be one line of text without leading or trailing spaces"))]
    #[schema(value_type = Option<String>, max_length = 500, pattern = "SINGLE_LINE")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = SubscriptionStatus)]
    pub status: Option<SubscriptionStatus>,
}

fn invalid(field: &str, message: String) -> ApiError {
    ApiError::Validation {
        errors: vec![FieldError::new(field, "invalid", message)],
    }
}

/// Checks a target URL now (shape, and where it resolves), on the blocking pool: a lookup
/// may wait on a slow resolver, which must not hold up an HTTP worker.
async fn checked_url(url: String, allow_private: bool) -> Result<String, ApiError> {
    web::block(move || targets::check(&url, allow_private).map(|url| url.to_string()))
        .await
        .map_err(|e| ApiError::internal(format!("the URL check failed: {e}")))?
        .map_err(|message| invalid("url", message))
}

/// Event types and prefixes the feed has; an unknown one is a 422.
fn checked_types(types: Vec<String>) -> Result<Vec<String>, ApiError> {
    let unknown: Vec<&String> = types.iter().filter(|t| !is_type_name(t)).collect();
    if !unknown.is_empty() {
        return Err(invalid(
            "event_types",
            format!("{unknown:?} name no event type; prefixes end in a dot (membership.)"),
        ));
    }
    let mut unique = types.clone();
    unique.sort();
    unique.dedup();
    if unique.len() != types.len() {
        return Err(invalid("event_types", "repeats a type".to_owned()));
    }
    Ok(types)
}

fn subscription_event(action: &str, id: &str) -> Event {
    Event::new(action, entity::WEBHOOK, id)
}

/// Subscribe to events
///
/// Deliveries are POSTed to `url` as the change feed's events, signed as the Standard
/// Webhooks specification says (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
/// The answer is the only time `secret` is shown. A URL that resolves to a private,
/// loopback, link-local or metadata address is refused (422).
#[utoipa::path(
    tag = TAG,
    request_body = CreateWebhookRequest,
    responses(
        (status = 201, description = "Created: copy `secret` now", body = WebhookWithSecret,
         headers(("Location" = String, description = "The new subscription"), ("ETag" = String, description = "Its version"))),
    )
)]
#[post("/webhooks")]
pub async fn create_webhook(
    state: web::Data<AppState>,
    audit: audit::Context,
    body: JsonBody<CreateWebhookRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let fields = Fields {
        url: checked_url(required(request.url, "url")?, state.webhook_private_targets).await?,
        description: request.description,
        event_types: checked_types(request.event_types.unwrap_or_default())?,
        status: SubscriptionStatus::Active,
    };
    // The event holds the subscription as shown: never its secret.
    let (subscription, secret) = audited::create(
        &state.db,
        audit,
        entity::WEBHOOK,
        |(subscription, _): &(Subscription, String)| subscription.id.clone(),
        |(subscription, _)| WebhookResponse::from(subscription),
        move |conn| store::create(conn, &fields),
    )
    .await?;
    let (location, version) = (
        format!("/api/v1/webhooks/{}", subscription.id),
        subscription.version,
    );
    Ok(created_tagged(
        location,
        version,
        WebhookWithSecret {
            webhook: subscription.into(),
            secret,
        },
    ))
}

const WEBHOOK_CSV_HEADER: &[&str] = &[
    "id",
    "url",
    "description",
    "event_types",
    "status",
    "failing_since",
    "created_at",
    "updated_at",
];

fn webhook_csv_record(subscription: Subscription) -> Vec<String> {
    let w = WebhookResponse::from(subscription);
    vec![
        w.id,
        defuse(&w.url),
        defuse(&w.description.unwrap_or_default()),
        w.event_types.join(";"),
        w.status.to_string(),
        w.failing_since.unwrap_or_default(),
        w.created_at,
        w.updated_at,
    ]
}

/// List webhook subscriptions
///
/// `Accept: text/csv` streams them as CSV (`event_types` joined with `;`, empty for all).
#[utoipa::path(
    tag = TAG,
    params(PageParams),
    responses((status = 200, description = "A page of subscriptions", body = WebhookList,
               content((WebhookList = "application/json"), (String = "text/csv"))))
)]
#[get("/webhooks")]
pub async fn list_webhooks(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let format = negotiate(&req, true)?;
    let page = PageParams::parse(req.query_string())?;
    let keyset = Keyset::by_id(page.cursor, page.limit)?;
    let listing = paging::by_id(store::list);
    let csv = CsvForm {
        filename: "webhooks.csv",
        header: WEBHOOK_CSV_HEADER,
        record: webhook_csv_record,
    };
    paging::answer(&state.db, &req, format, keyset, listing, csv, |page| {
        WebhookList {
            data: page.rows.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
        }
    })
    .await
}

/// Get a webhook subscription
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Subscription id")),
    responses(
        (status = 200, description = "The subscription (without its secret)", body = WebhookResponse,
         headers(("ETag" = String, description = "Send in If-Match to change it safely"))),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[get("/webhooks/{id}")]
pub async fn get_webhook(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    let subscription = state.db.run(move |conn| store::find(conn, &id)).await?;
    Ok(tagged(
        subscription.version,
        WebhookResponse::from(subscription),
    ))
}

/// Change a webhook subscription
///
/// JSON Merge Patch. `status`: `paused` holds deliveries (they wait, in order), `active`
/// resumes them and re-enables a subscription disabled after failing.
#[utoipa::path(
    tag = TAG,
    params(
        ("id" = uuid::Uuid, Path, description = "Subscription id"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "The ETag this change was based on"),
    ),
    request_body(content = UpdateWebhookRequest, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "Changed", body = WebhookResponse, headers(("ETag" = String, description = "The new version"))),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[patch("/webhooks/{id}")]
pub async fn update_webhook(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    audit: audit::Context,
    body: JsonBody<UpdateWebhookRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    let check = version_check(&req);
    let change = body.0;
    let url = match change.url {
        Some(url) => Some(checked_url(url, state.webhook_private_targets).await?),
        None => None,
    };
    let types = change.event_types.map(checked_types).transpose()?;
    let subscription = audited::update(
        &state.db,
        audit,
        entity::WEBHOOK,
        id,
        store::find,
        WebhookResponse::from,
        move |conn, id| {
            store::update(conn, id, &check, |mut fields| {
                if let Some(url) = url {
                    fields.url = url;
                }
                if let Some(types) = types {
                    fields.event_types = types;
                }
                if let Some(description) = change.description {
                    fields.description = description;
                }
                if let Some(status) = change.status {
                    fields.status = status;
                }
                fields
            })
        },
    )
    .await?;
    Ok(tagged(
        subscription.version,
        WebhookResponse::from(subscription),
    ))
}

/// Delete a webhook subscription
///
/// For good, with its deliveries: nothing more is sent.
#[utoipa::path(
    tag = TAG,
    params(
        ("id" = uuid::Uuid, Path, description = "Subscription id"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "The ETag this deletion was based on"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[delete("/webhooks/{id}")]
pub async fn delete_webhook(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    let check = version_check(&req);
    state
        .db
        .write(audit, move |conn, log| {
            let gone = store::delete(conn, &id, &check)?;
            log.record(subscription_event("delete", &id).changes(
                &audit::snapshot(&WebhookResponse::from(gone)),
                &serde_json::Value::Null,
            ));
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Rotate a webhook's signing secret
///
/// The answer is the only time the new secret is shown. For 24 hours deliveries carry a
/// signature by each secret (space-separated in `webhook-signature`), so the receiver can
/// switch without missing one.
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Subscription id")),
    responses(
        (status = 200, description = "Rotated: copy `secret` now", body = WebhookWithSecret,
         headers(("ETag" = String, description = "The new version"))),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[post("/webhooks/{id}/rotate-secret")]
pub async fn rotate_webhook_secret(
    state: web::Data<AppState>,
    path: web::Path<String>,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    let (subscription, secret) = state
        .db
        .write(audit, move |conn, log| {
            let rotated = store::rotate(conn, &id)?;
            log.record(subscription_event("rotate_secret", &id));
            Ok(rotated)
        })
        .await?;
    Ok(tagged(
        subscription.version,
        WebhookWithSecret {
            webhook: subscription.into(),
            secret,
        },
    ))
}

/// One attempt to deliver.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptResponse {
    pub attempt: i32,
    #[schema(format = DateTime)]
    pub attempted_at: String,
    /// The receiver's status, or null when none came (refused, timed out, blocked target).
    pub status_code: Option<i32>,
    pub duration_ms: i32,
    pub error: Option<String>,
}

impl From<Attempt> for AttemptResponse {
    fn from(a: Attempt) -> Self {
        Self {
            attempt: a.attempt,
            attempted_at: timestamp(a.attempted_at),
            status_code: a.status_code,
            duration_ms: a.duration_ms,
            error: a.error,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryResponse {
    #[schema(format = Uuid)]
    pub id: String,
    /// The feed event it delivers (its `webhook-id`); null for a test delivery.
    #[schema(format = Uuid)]
    pub event_id: Option<String>,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: Vec<AttemptResponse>,
    /// When it is tried next, while pending.
    #[schema(format = DateTime)]
    pub next_attempt_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub delivered_at: Option<String>,
}

impl From<Delivery> for DeliveryResponse {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id,
            event_id: d.change_id,
            event_type: d.event_type,
            status: d.status,
            attempts: d.attempts.into_iter().map(Into::into).collect(),
            next_attempt_at: d.next_attempt_at.map(timestamp),
            created_at: timestamp(d.created_at),
            delivered_at: d.delivered_at.map(timestamp),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    pub data: Vec<DeliveryResponse>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

const DELIVERY_CSV_HEADER: &[&str] = &[
    "id",
    "event_id",
    "event_type",
    "status",
    "attempts",
    "last_attempted_at",
    "last_status_code",
    "last_duration_ms",
    "last_error",
    "next_attempt_at",
    "created_at",
    "delivered_at",
];

fn delivery_csv_record(delivery: Delivery) -> Vec<String> {
    let d = DeliveryResponse::from(delivery);
    let attempts = d.attempts.len().to_string();
    let [last_at, last_code, last_ms, last_error] = match d.attempts.into_iter().last() {
        Some(last) => [
            last.attempted_at,
            last.status_code
                .map(|code| code.to_string())
                .unwrap_or_default(),
            last.duration_ms.to_string(),
            defuse(&last.error.unwrap_or_default()),
        ],
        None => Default::default(),
    };
    vec![
        d.id,
        d.event_id.unwrap_or_default(),
        d.event_type,
        d.status.to_string(),
        attempts,
        last_at,
        last_code,
        last_ms,
        last_error,
        d.next_attempt_at.unwrap_or_default(),
        d.created_at,
        d.delivered_at.unwrap_or_default(),
    ]
}

/// A webhook's deliveries
///
/// Newest first: each with its attempts (status codes, durations) and, while pending, its
/// next retry. `Accept: text/csv` streams them as CSV, a row a delivery with its number of
/// attempts and the last one's outcome.
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Subscription id"), PageParams),
    responses(
        (status = 200, description = "A page of deliveries", body = DeliveryList,
         content((DeliveryList = "application/json"), (String = "text/csv"))),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[get("/webhooks/{id}/deliveries")]
pub async fn list_webhook_deliveries(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let format = negotiate(&req, true)?;
    let id = path_id(&path)?;
    let page = PageParams::parse(req.query_string())?;
    let keyset = Keyset::by_id(page.cursor, page.limit)?;
    let listing =
        paging::by_id(move |conn, before, limit| store::deliveries(conn, &id, before, limit));
    let csv = CsvForm {
        filename: "deliveries.csv",
        header: DELIVERY_CSV_HEADER,
        record: delivery_csv_record,
    };
    paging::answer(&state.db, &req, format, keyset, listing, csv, |page| {
        DeliveryList {
            data: page.rows.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
        }
    })
    .await
}

/// Retry a delivery
///
/// It is sent again as soon as it may go (after the subscription's earlier pending
/// deliveries); a failed one gets one more attempt.
#[utoipa::path(
    tag = TAG,
    params(
        ("id" = uuid::Uuid, Path, description = "Subscription id"),
        ("delivery_id" = uuid::Uuid, Path, description = "Delivery id"),
    ),
    responses(
        (status = 202, description = "Queued", body = DeliveryResponse),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[post("/webhooks/{id}/deliveries/{delivery_id}/retry")]
pub async fn retry_webhook_delivery(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let (id, delivery_id) = (path_id(&path.0)?, path_id(&path.1)?);
    let delivery = state
        .db
        .write(audit, move |conn, log| {
            let delivery = store::retry(conn, &id, &delivery_id)?;
            log.record(subscription_event("delivery.retry", &id).detail(
                "delivery",
                serde_json::Value::Null,
                delivery_id.into(),
            ));
            Ok(delivery)
        })
        .await?;
    Ok(HttpResponse::Accepted().json(DeliveryResponse::from(delivery)))
}

/// Send a test event
///
/// Queues a `webhook.test` delivery, sent at once whatever else is queued: check the
/// receiver and its signature verification.
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Subscription id")),
    responses(
        (status = 202, description = "Queued", body = DeliveryResponse),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[post("/webhooks/{id}/test")]
pub async fn test_webhook(
    state: web::Data<AppState>,
    path: web::Path<String>,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    let delivery = state
        .db
        .write(audit, move |conn, log| {
            let delivery = store::enqueue_test(conn, &id)?;
            log.record(subscription_event("test", &id));
            Ok::<_, ApiError>(delivery)
        })
        .await?;
    Ok(HttpResponse::Accepted().json(DeliveryResponse::from(delivery)))
}

pub fn configure(config: &mut ServiceConfig) {
    config
        .service(list_webhooks)
        .service(create_webhook)
        .service(get_webhook)
        .service(update_webhook)
        .service(delete_webhook)
        .service(rotate_webhook_secret)
        .service(list_webhook_deliveries)
        .service(retry_webhook_delivery)
        .service(test_webhook);
}
