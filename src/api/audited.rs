//! The audited shapes every resource shares: create, update and soft delete, each one
//! transaction with its audit event. The event holds the record as the API shows it
//! (`shown`), so its fields are the names clients know, and nothing the API hides.

use serde::Serialize;

use crate::db::{Database, DbConn};
use crate::domain::DomainError;
use crate::domain::audit::{Context, Event};
use crate::error::ApiError;

/// Runs `create` and records the new record (`id` names it) as a `create` event.
pub async fn create<T, R>(
    db: &Database,
    audit: Context,
    entity: &'static str,
    id: fn(&T) -> String,
    shown: fn(T) -> R,
    create: impl FnOnce(&mut DbConn) -> Result<T, DomainError> + Send + 'static,
) -> Result<T, ApiError>
where
    T: Clone + Send + 'static,
    R: Serialize + 'static,
{
    db.write(audit, move |conn, log| {
        let created = create(conn)?;
        log.record(Event::created(
            entity,
            &id(&created),
            &shown(created.clone()),
        ));
        Ok(created)
    })
    .await
}

/// Runs `update` on record `id` (read first with `find`) and records the fields it changed.
pub async fn update<T, R>(
    db: &Database,
    audit: Context,
    entity: &'static str,
    id: String,
    find: fn(&mut DbConn, &str) -> Result<T, DomainError>,
    shown: fn(T) -> R,
    update: impl FnOnce(&mut DbConn, &str) -> Result<T, DomainError> + Send + 'static,
) -> Result<T, ApiError>
where
    T: Clone + Send + 'static,
    R: Serialize + 'static,
{
    db.write(audit, move |conn, log| {
        let before = shown(find(conn, &id)?);
        let after = update(conn, &id)?;
        log.record(Event::updated(entity, &id, &before, &shown(after.clone())));
        Ok(after)
    })
    .await
}

/// Runs `delete` on record `id`, which stays as a tombstone, and records the deletion.
pub async fn soft_delete(
    db: &Database,
    audit: Context,
    entity: &'static str,
    id: String,
    delete: impl FnOnce(&mut DbConn, &str) -> Result<(), DomainError> + Send + 'static,
) -> Result<(), ApiError> {
    db.write(audit, move |conn, log| {
        delete(conn, &id)?;
        log.record(Event::soft_deleted(entity, &id));
        Ok(())
    })
    .await
}
