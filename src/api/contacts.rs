//! `/api/v1/contacts`: people, their affiliations to organisations and their consent per
//! purpose. Emails are unique among contacts that are not deleted (409 otherwise).

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use crate::api::audited::{self, Subject};
use crate::api::body::{JsonBody, field_errors, nullable, present, required};
use crate::api::conditional::{created, version_check};
use crate::api::csv;
use crate::api::list::{Cursor, FromQuery, negotiate, query_params, sync_by_changes_only};
use crate::api::paging::{self, CsvForm, Keyset, Listing};
use crate::api::path_id;
use crate::api::resource::{self, Resource};
use crate::api::schemas::{ListEntry, Listable, timestamp};
use crate::api::validation as rules;
use crate::auth::Principal;
use crate::db::DbConn;
use crate::domain::audit::{self, Event, entity};
use crate::domain::contacts::{
    Affiliation, AffiliationFields, ConsentRecord, Contact, ContactFilter, ContactProfile,
    ContactSort, Purpose, store,
};
use crate::domain::{DomainError, Listed};
use crate::error::ApiError;
use crate::state::AppState;

const TAG: &str = "contacts";

/// A contact is a person: every event on the record is about them.
const CONTACT: Subject = Subject::person(entity::CONTACT);

#[derive(Debug, Serialize, ToSchema)]
pub struct AffiliationResponse {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Uuid)]
    pub organisation_id: String,
    #[schema(example = "Policy officer")]
    pub role: Option<String>,
    pub is_primary: bool,
    pub start_on: Option<NaiveDate>,
    /// The last day; null while it lasts.
    pub end_on: Option<NaiveDate>,
    /// Not ended as of today.
    pub current: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentResponse {
    pub purpose: Purpose,
    pub granted: bool,
    #[schema(example = "Signed up at the 2026 annual conference")]
    pub source: String,
    #[schema(format = DateTime)]
    pub recorded_at: String,
    /// The staff member who recorded it.
    #[schema(format = Uuid)]
    pub recorded_by: Option<String>,
}

impl From<ConsentRecord> for ConsentResponse {
    fn from(record: ConsentRecord) -> Self {
        Self {
            purpose: record.purpose,
            granted: record.granted,
            source: record.source,
            recorded_at: timestamp(record.recorded_at),
            recorded_by: record.recorded_by,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContactResponse {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(example = "Amara")]
    pub given_name: String,
    #[schema(example = "Okafor")]
    pub family_name: String,
    #[schema(format = Email)]
    pub email: Option<String>,
    pub phone: Option<String>,
    pub job_title: Option<String>,
    #[schema(example = "she/her")]
    pub pronouns: Option<String>,
    /// Past and present, oldest first.
    pub affiliations: Vec<AffiliationResponse>,
    /// The consent in force for each purpose ever asked about.
    pub consents: Vec<ConsentResponse>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl AffiliationResponse {
    fn new(affiliation: Affiliation, today: NaiveDate) -> Self {
        Self {
            current: affiliation.is_current(today),
            id: affiliation.id,
            organisation_id: affiliation.organisation_id,
            role: affiliation.role,
            is_primary: affiliation.is_primary,
            start_on: affiliation.start_on,
            end_on: affiliation.end_on,
        }
    }

    /// The affiliation `affiliation_id` of `contact`, as sent.
    fn of(contact: Contact, affiliation_id: &str) -> Result<Self, ApiError> {
        let today = Utc::now().date_naive();
        contact
            .affiliations
            .into_iter()
            .find(|a| a.id == affiliation_id)
            .map(|a| Self::new(a, today))
            .ok_or_else(|| DomainError::NotFound("affiliation").into())
    }
}

impl Resource for Contact {
    type Shown = ContactResponse;
    const SUBJECT: Subject = CONTACT;
    const PATH: &'static str = "/api/v1/contacts";
    const KEY: fn(&Self) -> (&str, i64) = |r| (&r.id, r.version);
}

impl From<Contact> for ContactResponse {
    fn from(contact: Contact) -> Self {
        let today = Utc::now().date_naive();
        let p = contact.profile;
        Self {
            id: contact.id,
            given_name: p.given_name,
            family_name: p.family_name,
            email: p.email,
            phone: p.phone,
            job_title: p.job_title,
            pronouns: p.pronouns,
            affiliations: contact
                .affiliations
                .into_iter()
                .map(|a| AffiliationResponse::new(a, today))
                .collect(),
            consents: contact.consents.into_iter().map(Into::into).collect(),
            created_at: timestamp(contact.created_at),
            updated_at: timestamp(contact.updated_at),
        }
    }
}

/// A contact list's query as recorded when exported, with any `q` search text left out.
fn exported_query(query: &str) -> String {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    let kept: Vec<(String, String)> = pairs
        .into_iter()
        .map(|(name, value)| match name.as_str() {
            "q" => (name, "[not kept]".to_owned()),
            _ => (name, value),
        })
        .collect();
    serde_urlencoded::to_string(kept).unwrap_or_default()
}

/// `change` to contact `id` as one audited write: the event (`action` on the contact) holds
/// the contact's fields before and after, affiliations and consents included.
async fn write_contact<T: Send + 'static>(
    state: &AppState,
    audit: audit::Context,
    id: String,
    action: &'static str,
    change: impl FnOnce(&mut DbConn, &str) -> Result<T, DomainError> + Send + 'static,
) -> Result<T, ApiError> {
    let (db, shown) = (&state.db, ContactResponse::from);
    audited::change(db, audit, CONTACT, action, id, store::find, shown, change).await
}

/// A list entry: a contact, or a tombstone when `include_deleted=true`.
pub type ContactListEntry = ListEntry<ContactResponse>;

impl Listable for ContactResponse {
    const ENTRY: &'static str = "ContactListEntry";
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContactList {
    pub data: Vec<ContactListEntry>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// A new contact. Only the names are required; keep only what the alliance needs.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateContactRequest {
    #[validate(required(message = "is required"), length(min = 1, max = 100), regex(path = *rules::SINGLE_LINE_RE, message = "must be one line of text without leading or trailing spaces"))]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 100, pattern = "SINGLE_LINE")]
    pub given_name: Option<String>,
    #[validate(required(message = "is required"), length(min = 1, max = 100), regex(path = *rules::SINGLE_LINE_RE, message = "must be one line of text without leading or trailing spaces"))]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 100, pattern = "SINGLE_LINE")]
    pub family_name: Option<String>,
    /// Unique among contacts that are not deleted (case ignored): 409 otherwise.
    #[serde(default)]
    #[validate(length(max = 254), email(message = "must be an email address"))]
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    #[serde(default)]
    #[validate(regex(path = *rules::PHONE_RE, message = "must be a telephone number"))]
    #[schema(pattern = "PHONE")]
    pub phone: Option<String>,
    #[serde(default)]
    #[validate(length(max = 200), regex(path = *rules::SINGLE_LINE_RE, message = "must be one line of text without leading or trailing spaces"))]
    #[schema(max_length = 200, pattern = "SINGLE_LINE")]
    pub job_title: Option<String>,
    #[serde(default)]
    #[validate(length(max = 50), regex(path = *rules::SINGLE_LINE_RE, message = "must be one line of text without leading or trailing spaces"))]
    #[schema(max_length = 50, pattern = "SINGLE_LINE")]
    pub pronouns: Option<String>,
}

impl CreateContactRequest {
    pub(crate) fn into_profile(self) -> Result<ContactProfile, ApiError> {
        Ok(ContactProfile {
            given_name: required(self.given_name, "given_name")?,
            family_name: required(self.family_name, "family_name")?,
            email: self.email,
            phone: self.phone,
            job_title: self.job_title,
            pronouns: self.pronouns,
        })
    }
}

impl From<&ContactProfile> for CreateContactRequest {
    fn from(p: &ContactProfile) -> Self {
        Self {
            given_name: Some(p.given_name.clone()),
            family_name: Some(p.family_name.clone()),
            email: p.email.clone(),
            phone: p.phone.clone(),
            job_title: p.job_title.clone(),
            pronouns: p.pronouns.clone(),
        }
    }
}

/// A JSON Merge Patch: fields left out keep their value, `null` clears an optional one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateContactRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, min_length = 1, max_length = 100, pattern = "SINGLE_LINE")]
    pub given_name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, min_length = 1, max_length = 100, pattern = "SINGLE_LINE")]
    pub family_name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = Email, max_length = 254)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, pattern = "PHONE")]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 200, pattern = "SINGLE_LINE")]
    pub job_title: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 50, pattern = "SINGLE_LINE")]
    pub pronouns: Option<Option<String>>,
}

/// Rules are checked on the patched whole (as a new contact would be), in `apply`.
impl Validate for UpdateContactRequest {
    fn validate(&self) -> Result<(), validator::ValidationErrors> {
        Ok(())
    }
}

impl UpdateContactRequest {
    pub(crate) fn apply(&self, current: &ContactProfile) -> Result<ContactProfile, DomainError> {
        let mut next = CreateContactRequest::from(current);
        if let Some(value) = &self.given_name {
            next.given_name = Some(value.clone());
        }
        if let Some(value) = &self.family_name {
            next.family_name = Some(value.clone());
        }
        macro_rules! merge {
            ($($field:ident),+) => { $(if let Some(value) = &self.$field { next.$field = value.clone(); })+ };
        }
        merge!(email, phone, job_title, pronouns);
        next.validate()
            .map_err(|errors| DomainError::Invalid(field_errors(&errors)))?;
        next.into_profile()
            .map_err(|_| DomainError::Invalid(Vec::new()))
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddAffiliationRequest {
    #[validate(required(message = "is required"))]
    #[schema(value_type = uuid::Uuid, required = true)]
    pub organisation_id: Option<uuid::Uuid>,
    #[serde(default)]
    #[validate(length(max = 200), regex(path = *rules::SINGLE_LINE_RE, message = "must be one line of text without leading or trailing spaces"))]
    #[schema(max_length = 200, pattern = "SINGLE_LINE")]
    pub role: Option<String>,
    /// The contact's main organisation; setting it clears it on the others.
    #[serde(default)]
    pub is_primary: bool,
    #[serde(default)]
    pub start_on: Option<NaiveDate>,
    #[serde(default)]
    pub end_on: Option<NaiveDate>,
}

/// Change an affiliation (JSON Merge Patch); set `end_on` when someone moves on, so the
/// history stays.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAffiliationRequest {
    #[serde(default, deserialize_with = "nullable")]
    #[validate(length(max = 200), regex(path = *rules::SINGLE_LINE_RE, message = "must be one line of text without leading or trailing spaces"))]
    #[schema(value_type = Option<String>, max_length = 200, pattern = "SINGLE_LINE")]
    pub role: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = bool)]
    pub is_primary: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<NaiveDate>)]
    pub start_on: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<NaiveDate>)]
    pub end_on: Option<Option<NaiveDate>>,
}

/// A grant or a withdrawal of consent for one purpose; withdrawing is the same call with
/// `granted: false`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordConsentRequest {
    #[validate(required(message = "is required"))]
    #[schema(value_type = Purpose, required = true)]
    pub purpose: Option<Purpose>,
    #[validate(required(message = "is required"))]
    #[schema(value_type = bool, required = true)]
    pub granted: Option<bool>,
    /// How it was obtained or withdrawn.
    #[validate(required(message = "is required"), length(min = 1, max = 500), regex(path = *rules::SINGLE_LINE_RE, message = "must be one line of text without leading or trailing spaces"))]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 500, pattern = "SINGLE_LINE", example = "Ticked the box on the events sign-up form")]
    pub source: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentHistory {
    /// Every grant and withdrawal, oldest first.
    pub data: Vec<ConsentResponse>,
}

query_params! {
    /// Filters and order for `GET /contacts`.
    pub struct ContactListParams {
        /// Most entries per page (1 to 500). Ignored by CSV, which streams every match.
        #[param(value_type = Option<u32>, minimum = 1, maximum = 500, default = 50)]
        pub limit: usize = limit,
        /// `next_cursor` from the previous page.
        #[param(value_type = Option<String>, pattern = "CURSOR")]
        pub cursor: Option<Cursor> = cursor,
        /// `name` (family then given) or `updated_at`; `updated_at` when `updated_since` is given.
        #[param(inline)]
        pub sort: Option<ContactSort> = parsed,
        /// Only contacts changed after this instant, for incremental sync.
        #[param(value_type = Option<String>, format = DateTime)]
        pub updated_since: Option<NaiveDateTime> = timestamp,
        /// Include deleted contacts as tombstones `{id, deleted_at}`.
        pub include_deleted: Option<bool> = boolean,
        /// Contacts currently affiliated with this organisation; repeat for several. Not with
        /// `updated_since` (400): affiliations start and end by date; follow `GET /changes`.
        pub organisation: Vec<uuid::Uuid> = many,
        /// Contacts who currently consent to this purpose (for mailing lists); repeat to need all.
        #[param(inline)]
        pub consent: Vec<Purpose> = many,
        /// Case-insensitive part of the name or email.
        #[param(max_length = 200, pattern = "QUERY_TEXT")]
        pub q: Option<String> = text,
    }
}

/// The list's CSV columns; an import reads the same (see `api::imports`).
pub(crate) const CSV_HEADER: &[&str] = &[
    "id",
    "given_name",
    "family_name",
    "email",
    "phone",
    "job_title",
    "pronouns",
    "current_organisations",
    "consents_granted",
    "created_at",
    "updated_at",
    "deleted_at",
];

/// The free-text columns the list's CSV defuses (and an import undoes).
pub(crate) const CSV_DEFUSED: &[&str] = &[
    "given_name",
    "family_name",
    "email",
    "phone",
    "job_title",
    "pronouns",
];

fn csv_record(entry: Listed<Contact>) -> Vec<String> {
    paging::listed_record(CSV_HEADER, entry, |contact| {
        let today = Utc::now().date_naive();
        let opt = |value: &Option<String>| value.clone().unwrap_or_default();
        let p = &contact.profile;
        let organisations: Vec<&str> = contact
            .affiliations
            .iter()
            .filter(|a| a.is_current(today))
            .map(|a| a.organisation_id.as_str())
            .collect();
        let granted: Vec<&str> = contact
            .consents
            .iter()
            .filter(|c| c.granted)
            .map(|c| c.purpose.as_str())
            .collect();
        let mut row = vec![
            contact.id.clone(),
            p.given_name.clone(),
            p.family_name.clone(),
            opt(&p.email),
            opt(&p.phone),
            opt(&p.job_title),
            opt(&p.pronouns),
            organisations.join(";"),
            granted.join(";"),
            timestamp(contact.created_at),
            timestamp(contact.updated_at),
            String::new(),
        ];
        csv::defuse_columns(CSV_HEADER, CSV_DEFUSED, &mut row);
        row
    })
}

/// List contacts
///
/// Keyset-paginated and filtered; `Accept: text/csv` streams every match as CSV.
#[utoipa::path(
    tag = TAG,
    params(ContactListParams),
    responses(
        (status = 200, description = "A page of contacts", body = ContactList,
         content((ContactList = "application/json"), (String = "text/csv"))),
    )
)]
#[get("/contacts")]
pub async fn list_contacts(
    state: web::Data<AppState>,
    req: HttpRequest,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let format = negotiate(&req, true)?;
    let params = ContactListParams::parse(req.query_string())?;
    sync_by_changes_only(
        params.updated_since.is_some(),
        "organisation",
        !params.organisation.is_empty(),
    )?;
    let sort = params.sort;
    let filter = ContactFilter {
        organisations: params
            .organisation
            .iter()
            .map(ToString::to_string)
            .collect(),
        consents: params.consent,
        q: params.q,
        updated_since: params.updated_since,
        include_deleted: params.include_deleted.unwrap_or(false),
        today: None,
    };
    let sort = sort.unwrap_or(if filter.updated_since.is_some() {
        ContactSort::UpdatedAt
    } else {
        ContactSort::Name
    });
    let keyset = Keyset::sorted(sort.as_str(), params.cursor, params.limit)?;
    let listing = Listing::new(filter, move |conn, filter, after, limit| {
        store::list(conn, filter, sort, after, limit)
    });
    let csv = CsvForm {
        filename: "contacts.csv",
        header: CSV_HEADER,
        record: csv_record,
    }
    .before_sending(record_export(&state, audit, req.query_string()));
    paging::answer(&state.db, &req, format, keyset, listing, csv, |page| {
        ContactList {
            data: page
                .rows
                .into_iter()
                .map(|entry| ListEntry::new(entry, ContactResponse::from))
                .collect(),
            next_cursor: page.next_cursor,
        }
    })
    .await
}

/// A spreadsheet of people is an export of personal data: records who took which one (a
/// name searched for is not kept, it may be the person's). A read: while another writer
/// holds the database the record follows as soon as it can (README).
async fn record_export(
    state: &AppState,
    audit: audit::Context,
    query: &str,
) -> Result<(), ApiError> {
    let event = Event::unnamed("export", entity::CONTACT).detail(
        "query",
        serde_json::Value::Null,
        serde_json::Value::String(exported_query(query)),
    );
    audit::record_read(&state.db, audit, vec![event]).await?;
    Ok(())
}

/// Create a contact
#[utoipa::path(
    tag = TAG,
    request_body = CreateContactRequest,
    responses(
        (status = 201, description = "Created", body = ContactResponse,
         headers(("Location" = String, description = "The new contact"), ("ETag" = String, description = "Its version"))),
        (status = 409, response = crate::api::responses::Conflict),
    )
)]
#[post("/contacts")]
pub async fn create_contact(
    state: web::Data<AppState>,
    body: JsonBody<CreateContactRequest>,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let profile = body.0.into_profile()?;
    resource::create(&state.db, audit, move |conn| store::create(conn, &profile)).await
}

/// Get a contact
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Contact id")),
    responses(
        (status = 200, description = "The contact", body = ContactResponse,
         headers(("ETag" = String, description = "Send in If-Match to update safely"))),
        (status = 304, description = "Not modified: the If-None-Match tag is current"),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[get("/contacts/{id}")]
pub async fn get_contact(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    let contact = state.db.run(move |conn| store::find(conn, &id)).await?;
    Ok(resource::read(&req, contact))
}

/// Update a contact
///
/// JSON Merge Patch; send the `ETag` you read in `If-Match` (412 when it is stale).
#[utoipa::path(
    tag = TAG,
    params(
        ("id" = uuid::Uuid, Path, description = "Contact id"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "The ETag this change was based on"),
    ),
    request_body(content = UpdateContactRequest, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "Updated", body = ContactResponse, headers(("ETag" = String, description = "The new version"))),
        (status = 404, response = crate::api::responses::NotFound),
        (status = 409, response = crate::api::responses::Conflict),
    )
)]
#[patch("/contacts/{id}")]
pub async fn update_contact(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    body: JsonBody<UpdateContactRequest>,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    let check = version_check(&req);
    let patch = body.0;
    resource::update(&state.db, audit, id, store::find, move |conn, id| {
        store::update(conn, id, &check, |current| patch.apply(current))
    })
    .await
}

/// Delete a contact
///
/// A soft delete: the contact leaves reads and lists; sync sees a tombstone.
#[utoipa::path(
    tag = TAG,
    params(
        ("id" = uuid::Uuid, Path, description = "Contact id"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "The ETag this deletion was based on"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[delete("/contacts/{id}")]
pub async fn delete_contact(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    resource::delete::<Contact>(&state.db, audit, id, &req, store::soft_delete).await
}

/// Add an affiliation
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Contact id")),
    request_body = AddAffiliationRequest,
    responses(
        (status = 201, description = "The new affiliation", body = AffiliationResponse,
         headers(("Location" = String, description = "The new affiliation"))),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[post("/contacts/{id}/affiliations")]
pub async fn add_affiliation(
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: JsonBody<AddAffiliationRequest>,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    let request = body.0;
    let organisation_id = required(request.organisation_id, "organisation_id")?.to_string();
    let fields = AffiliationFields {
        role: request.role,
        is_primary: request.is_primary,
        start_on: request.start_on,
        end_on: request.end_on,
    };
    let (contact, affiliation_id) =
        write_contact(&state, audit, id, "affiliation.create", move |conn, id| {
            store::add_affiliation(conn, id, &organisation_id, &fields)
        })
        .await?;
    Ok(created(
        format!(
            "/api/v1/contacts/{}/affiliations/{affiliation_id}",
            contact.id
        ),
        AffiliationResponse::of(contact, &affiliation_id)?,
    ))
}

/// Get an affiliation
#[utoipa::path(
    tag = TAG,
    params(
        ("id" = uuid::Uuid, Path, description = "Contact id"),
        ("affiliation_id" = uuid::Uuid, Path, description = "Affiliation id"),
    ),
    responses(
        (status = 200, description = "The affiliation", body = AffiliationResponse),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[get("/contacts/{id}/affiliations/{affiliation_id}")]
pub async fn get_affiliation(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, affiliation_id) = (path_id(&path.0)?, path_id(&path.1)?);
    let contact = state.db.run(move |conn| store::find(conn, &id)).await?;
    Ok(HttpResponse::Ok().json(AffiliationResponse::of(contact, &affiliation_id)?))
}

/// Change an affiliation
#[utoipa::path(
    tag = TAG,
    params(
        ("id" = uuid::Uuid, Path, description = "Contact id"),
        ("affiliation_id" = uuid::Uuid, Path, description = "Affiliation id"),
    ),
    request_body(content = UpdateAffiliationRequest, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The changed affiliation", body = AffiliationResponse),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[patch("/contacts/{id}/affiliations/{affiliation_id}")]
pub async fn update_affiliation(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: JsonBody<UpdateAffiliationRequest>,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let (id, affiliation_id) = (path_id(&path.0)?, path_id(&path.1)?);
    let change = body.0;
    let changed_id = affiliation_id.clone();
    let contact = write_contact(&state, audit, id, "affiliation.update", move |conn, id| {
        store::change_affiliation(conn, id, &changed_id, |mut fields| {
            if let Some(role) = change.role {
                fields.role = role;
            }
            if let Some(is_primary) = change.is_primary {
                fields.is_primary = is_primary;
            }
            if let Some(start_on) = change.start_on {
                fields.start_on = start_on;
            }
            if let Some(end_on) = change.end_on {
                fields.end_on = end_on;
            }
            fields
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(AffiliationResponse::of(contact, &affiliation_id)?))
}

/// Remove an affiliation entered by mistake
///
/// To record that someone moved on, set `end_on` instead so the history stays.
#[utoipa::path(
    tag = TAG,
    params(
        ("id" = uuid::Uuid, Path, description = "Contact id"),
        ("affiliation_id" = uuid::Uuid, Path, description = "Affiliation id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[delete("/contacts/{id}/affiliations/{affiliation_id}")]
pub async fn remove_affiliation(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let (id, affiliation_id) = (path_id(&path.0)?, path_id(&path.1)?);
    write_contact(&state, audit, id, "affiliation.delete", move |conn, id| {
        store::remove_affiliation(conn, id, &affiliation_id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Record consent
///
/// Grants or withdraws consent for one purpose, with how it was obtained. Earlier records
/// stay in the history.
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Contact id")),
    request_body = RecordConsentRequest,
    responses(
        (status = 201, description = "Recorded; the contact with its consents now in force", body = ContactResponse,
         headers(("Location" = String, description = "The contact"), ("ETag" = String, description = "The contact's new version"))),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[post("/contacts/{id}/consents")]
pub async fn record_consent(
    state: web::Data<AppState>,
    path: web::Path<String>,
    principal: Principal,
    audit: audit::Context,
    body: JsonBody<RecordConsentRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    let request = body.0;
    let purpose = required(request.purpose, "purpose")?;
    let granted = required(request.granted, "granted")?;
    let source = required(request.source, "source")?;
    let actor = principal.user_id()?.to_owned();
    let contact = write_contact(&state, audit, id, "consent.record", move |conn, id| {
        store::record_consent(conn, id, purpose, granted, &source, Some(&actor))
    })
    .await?;
    Ok(resource::created_answer(contact))
}

/// Consent history
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Contact id")),
    responses(
        (status = 200, description = "Every grant and withdrawal, oldest first", body = ConsentHistory),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[get("/contacts/{id}/consents")]
pub async fn consent_history(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    let history = state
        .db
        .run(move |conn| store::consent_history(conn, &id))
        .await?;
    Ok(HttpResponse::Ok().json(ConsentHistory {
        data: history.into_iter().map(Into::into).collect(),
    }))
}

/// Everything held about one person, as one document (UK GDPR subject access).
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactExport {
    #[schema(format = DateTime)]
    pub exported_at: String,
    /// The profile, affiliations and the consents in force.
    pub contact: ContactResponse,
    /// Every grant and withdrawal of consent, oldest first.
    pub consent_history: Vec<ConsentResponse>,
    /// Expert group memberships, past ones included.
    pub expert_group_memberships: Vec<crate::api::expert_groups::GroupMembershipResponse>,
    /// Consultation responses the person gave or wrote, anonymous ones included.
    pub consultation_responses: Vec<crate::api::consultations::ResponseRecord>,
    /// The audit trail about the person, oldest first.
    pub audit_events: Vec<crate::api::audit::AuditEventResponse>,
}

/// Most group memberships an export lists (far beyond any real person's).
const EXPORT_MEMBERSHIPS: usize = 10_000;

/// Export everything held about a contact
///
/// Subject access: the profile, affiliations, consents with their history, expert group
/// memberships, consultation responses (anonymous ones too: it is the person's own data) and
/// the audit events about them, as one JSON document. The export itself is audited. An
/// erased or deleted contact is 404.
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Contact id")),
    responses(
        (status = 200, description = "Everything held about the contact", body = ContactExport),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[get("/contacts/{id}/export")]
pub async fn export_contact(
    state: web::Data<AppState>,
    path: web::Path<String>,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    use crate::domain::expert_groups::{Party, Tenure, store as groups};
    let id = path_id(&path)?;
    let subject = id.clone();
    let export = state
        .db
        .run(move |conn| {
            let contact = store::find(conn, &id)?;
            let consents = store::consent_history(conn, &id)?;
            let party = Party::Contact(id.clone());
            let (memberships, _) =
                groups::memberships_of(conn, &party, Tenure::All, None, EXPORT_MEMBERSHIPS)?;
            let responses = crate::domain::consultations::store::responses_of_contact(conn, &id)?;
            let events = audit::store::about_contact(conn, &id)?;
            Ok::<_, crate::domain::DomainError>(ContactExport {
                exported_at: timestamp(crate::domain::now()),
                contact: contact.into(),
                consent_history: consents.into_iter().map(Into::into).collect(),
                expert_group_memberships: memberships.into_iter().map(Into::into).collect(),
                consultation_responses: responses
                    .into_iter()
                    .map(|r| crate::api::consultations::ResponseRecord::new(r, true))
                    .collect(),
                audit_events: events.into_iter().map(Into::into).collect(),
            })
        })
        .await?;
    // A read: its audit record must not make it wait for the write lock (README).
    let event = Event::new("export", entity::CONTACT, &subject).about_contact(Some(&subject));
    audit::record_read(&state.db, audit, vec![event]).await?;
    Ok(HttpResponse::Ok().json(export))
}

/// What an erasure did (counts only).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErasureResponse {
    #[schema(format = Uuid)]
    pub contact_id: String,
    pub affiliations_removed: usize,
    pub consent_records_removed: usize,
    pub responses_unattributed: usize,
    pub audit_events_scrubbed: usize,
}

/// Erase a contact
///
/// Anonymises the person for good (UK GDPR erasure); it cannot be undone. The name, email,
/// phone, job title and pronouns are removed; affiliations and consent records are deleted;
/// expert group memberships stay (so counts stay true) pointing at the anonymous record;
/// responses stay, an organisation's without its writer and the person's own anonymous and
/// without their text; audit events about them keep what was done but not the values. The
/// contact then appears only as a tombstone in sync. 409 when already erased.
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Contact id")),
    responses(
        (status = 200, description = "Erased", body = ErasureResponse),
        (status = 404, response = crate::api::responses::NotFound),
        (status = 409, response = crate::api::responses::Conflict),
    )
)]
#[post("/contacts/{id}/erasure")]
pub async fn erase_contact(
    state: web::Data<AppState>,
    path: web::Path<String>,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    let erased = state
        .db
        .write(audit, move |conn, log| {
            let erased = crate::domain::contacts::erasure::erase(conn, &id)?;
            // Written after the scrub, and holding nothing of what was erased.
            let mut event = Event::new("erase", entity::CONTACT, &id);
            event.changes = audit::diff(&serde_json::Value::Null, &audit::snapshot(&erased));
            log.record(event);
            Ok(ErasureResponse {
                contact_id: id,
                affiliations_removed: erased.affiliations_removed,
                consent_records_removed: erased.consent_records_removed,
                responses_unattributed: erased.responses_unattributed,
                audit_events_scrubbed: erased.audit_events_scrubbed,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(erased))
}

pub fn configure(config: &mut ServiceConfig) {
    config
        .service(list_contacts)
        .service(create_contact)
        .service(get_contact)
        .service(update_contact)
        .service(delete_contact)
        .service(add_affiliation)
        .service(get_affiliation)
        .service(update_affiliation)
        .service(remove_affiliation)
        .service(record_consent)
        .service(consent_history)
        .service(export_contact)
        .service(erase_contact);
}
