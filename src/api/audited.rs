//! The audited shapes every resource shares: create, update and soft delete, each one
//! transaction with its audit event. The event holds the record as the API shows it
//! (`shown`), so its fields are the names clients know, and nothing the API hides.

use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

use crate::api::conditional::version_check;
use crate::db::{Database, DbConn};
use crate::domain::audit::{Context, Event, snapshot};
use crate::domain::{DomainError, VersionCheck};
use crate::error::ApiError;

/// What an audited record's events are filed under: its entity type, and whether the record
/// is a person. A person's events are also about them, so that subject access and erasure
/// find every change to their personal data. A bare entity name is a record about no one.
#[derive(Debug, Clone, Copy)]
pub struct Subject {
    entity: &'static str,
    person: bool,
}

impl Subject {
    /// A record about no one in particular.
    pub const fn record(entity: &'static str) -> Self {
        Self {
            entity,
            person: false,
        }
    }

    /// A record that is a person (a contact): its events are about that person.
    pub const fn person(entity: &'static str) -> Self {
        Self {
            entity,
            person: true,
        }
    }

    /// `event` on record `id`, marked as about the person when the record is one.
    fn about(self, event: Event, id: &str) -> Event {
        match self.person {
            true => event.about_contact(Some(id)),
            false => event,
        }
    }
}

impl From<&'static str> for Subject {
    fn from(entity: &'static str) -> Self {
        Self::record(entity)
    }
}

/// Runs `create` and records the new record (`id` names it) as a `create` event.
pub async fn create<T, R>(
    db: &Database,
    audit: Context,
    subject: impl Into<Subject>,
    id: fn(&T) -> String,
    shown: impl Fn(T) -> R + Send + 'static,
    create: impl FnOnce(&mut DbConn) -> Result<T, DomainError> + Send + 'static,
) -> Result<T, ApiError>
where
    T: Clone + Send + 'static,
    R: Serialize + 'static,
{
    let subject = subject.into();
    db.write(audit, move |conn, log| {
        let created = create(conn)?;
        let id = id(&created);
        let event = Event::created(subject.entity, &id, &shown(created.clone()));
        log.record(subject.about(event, &id));
        Ok(created)
    })
    .await
}

/// Runs `update` on record `id` (read first with `find`) and records the fields it changed.
pub async fn update<T, R>(
    db: &Database,
    audit: Context,
    subject: impl Into<Subject>,
    id: String,
    find: fn(&mut DbConn, &str) -> Result<T, DomainError>,
    shown: impl Fn(T) -> R + Send + 'static,
    update: impl FnOnce(&mut DbConn, &str) -> Result<T, DomainError> + Send + 'static,
) -> Result<T, ApiError>
where
    T: Clone + Send + 'static,
    R: Serialize + 'static,
{
    let subject = subject.into();
    db.write(audit, move |conn, log| {
        let before = shown(find(conn, &id)?);
        let after = update(conn, &id)?;
        let event = Event::updated(subject.entity, &id, &before, &shown(after.clone()));
        log.record(subject.about(event, &id));
        Ok(after)
    })
    .await
}

/// Runs `change` on a part of record `id` (an affiliation, a consent) and records it as
/// `action`, with the record as shown before and after (both read with `find`).
#[allow(clippy::too_many_arguments)] // the shapes above, plus the action's name
pub async fn change<T, R, V>(
    db: &Database,
    audit: Context,
    subject: impl Into<Subject>,
    action: &'static str,
    id: String,
    find: fn(&mut DbConn, &str) -> Result<T, DomainError>,
    shown: impl Fn(T) -> R + Send + 'static,
    change: impl FnOnce(&mut DbConn, &str) -> Result<V, DomainError> + Send + 'static,
) -> Result<V, ApiError>
where
    T: Send + 'static,
    R: Serialize + 'static,
    V: Send + 'static,
{
    let subject = subject.into();
    db.write(audit, move |conn, log| {
        let before = snapshot(&shown(find(conn, &id)?));
        let value = change(conn, &id)?;
        let after = snapshot(&shown(find(conn, &id)?));
        let event = Event::new(action, subject.entity, &id).changes(&before, &after);
        log.record(subject.about(event, &id));
        Ok(value)
    })
    .await
}

/// `DELETE` of record `id` under the request's `If-Match`: the store's `delete` leaves it as
/// a tombstone, the deletion is recorded, and the answer is 204.
pub async fn soft_delete(
    db: &Database,
    audit: Context,
    subject: impl Into<Subject>,
    id: String,
    req: &HttpRequest,
    delete: fn(&mut DbConn, &str, &VersionCheck) -> Result<(), DomainError>,
) -> Result<HttpResponse, ApiError> {
    let subject = subject.into();
    let check = version_check(req);
    db.write(audit, move |conn, log| {
        delete(conn, &id, &check)?;
        log.record(subject.about(Event::soft_deleted(subject.entity, &id), &id));
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
