//! The single-record operations every resource answers alike: create (201, `Location`, `ETag`),
//! read (200 or 304), update (200, `ETag`), soft delete (204), each write audited.

use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

use crate::api::audited::{self, Subject};
use crate::api::conditional::{created_tagged, tagged, tagged_unless_current};
use crate::db::{Database, DbConn};
use crate::domain::audit::Context;
use crate::domain::{DomainError, VersionCheck};
use crate::error::ApiError;

/// A stored record the API serves at its own URL.
pub trait Resource: Clone + Send + 'static {
    /// The record as the API shows it (and its audit events hold it).
    type Shown: Serialize + From<Self> + 'static;
    /// What its audit events are filed under.
    const SUBJECT: Subject;
    /// Where the records live: a record's URL is this, `/`, its id.
    const PATH: &'static str;
    /// Its id, and its stored version (the `ETag`).
    const KEY: fn(&Self) -> (&str, i64);
}

fn id<T: Resource>(record: &T) -> String {
    T::KEY(record).0.to_owned()
}

/// `POST`: runs `create`, audited, and answers 201.
pub async fn create<T: Resource>(
    db: &Database,
    audit: Context,
    create: impl FnOnce(&mut DbConn) -> Result<T, DomainError> + Send + 'static,
) -> Result<HttpResponse, ApiError> {
    let created = audited::create(db, audit, T::SUBJECT, id, T::Shown::from, create).await?;
    Ok(created_answer(created))
}

/// 201 for a record just made: its URL in `Location`, its version as `ETag`.
pub fn created_answer<T: Resource>(record: T) -> HttpResponse {
    let (id, version) = T::KEY(&record);
    let location = format!("{}/{id}", T::PATH);
    created_tagged(location, version, T::Shown::from(record))
}

/// `GET`: the record, or 304 when the client's copy is current.
pub fn read<T: Resource>(req: &HttpRequest, record: T) -> HttpResponse {
    tagged_unless_current(req, T::KEY(&record).1, || T::Shown::from(record))
}

/// `PATCH`: runs `update` on record `id` (read first with `find`), audited, and answers 200.
pub async fn update<T: Resource>(
    db: &Database,
    audit: Context,
    id: String,
    find: fn(&mut DbConn, &str) -> Result<T, DomainError>,
    update: impl FnOnce(&mut DbConn, &str) -> Result<T, DomainError> + Send + 'static,
) -> Result<HttpResponse, ApiError> {
    let updated = audited::update(db, audit, T::SUBJECT, id, find, T::Shown::from, update).await?;
    Ok(tagged(T::KEY(&updated).1, T::Shown::from(updated)))
}

/// `DELETE`: the store's soft `delete` of record `id` under `If-Match`, audited; 204.
pub async fn delete<T: Resource>(
    db: &Database,
    audit: Context,
    id: String,
    req: &HttpRequest,
    delete: fn(&mut DbConn, &str, &VersionCheck) -> Result<(), DomainError>,
) -> Result<HttpResponse, ApiError> {
    audited::soft_delete(db, audit, T::SUBJECT, id, req, delete).await
}
