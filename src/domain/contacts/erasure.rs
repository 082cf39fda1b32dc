//! Erasure (UK GDPR article 17): a contact anonymised for good. The row stays as a tombstone
//! so sync sees the deletion and counts stay true: group memberships keep pointing at it and
//! responses are kept without the person. Nothing personal is left: the profile's fields,
//! affiliations and consent records go, a response the person gave alone loses its text, and
//! the audit events about them keep what was done but not the values.

use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{consultation_responses, contact_affiliations, contact_consents, contacts};
use crate::domain::{DomainError, audit, now};

/// What an erasure did, for its audit event (counts only: nothing of what was erased).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Erased {
    pub affiliations_removed: usize,
    pub consent_records_removed: usize,
    pub responses_unattributed: usize,
    pub audit_events_scrubbed: usize,
}

/// Erases contact `id` (deleted or not). 404 for no such contact, 409 when already erased.
pub fn erase(conn: &mut DbConn, id: &str) -> Result<Erased, DomainError> {
    conn.transaction(|conn| {
        crate::domain::lock_row!(conn, contacts, id)?;
        let erased_at: Option<Option<chrono::NaiveDateTime>> = contacts::table
            .find(id)
            .select(contacts::erased_at)
            .first(conn)
            .optional()?;
        match erased_at {
            None => return Err(DomainError::NotFound("contact")),
            Some(Some(_)) => {
                return Err(DomainError::Conflict {
                    message: "this contact has already been erased".to_owned(),
                    errors: Vec::new(),
                });
            }
            Some(None) => {}
        }
        let at = now();
        diesel::update(contacts::table.find(id))
            .set((
                contacts::given_name.eq(""),
                contacts::family_name.eq(""),
                contacts::name_key.eq(""),
                contacts::email.eq(None::<String>),
                contacts::email_key.eq(None::<String>),
                contacts::email_match_key.eq(None::<String>),
                contacts::phone.eq(None::<String>),
                contacts::job_title.eq(None::<String>),
                contacts::pronouns.eq(None::<String>),
                contacts::version.eq(contacts::version + 1),
                contacts::updated_at.eq(at),
                // A contact deleted earlier keeps the day it left the lists.
                contacts::deleted_at.eq(diesel::dsl::sql::<
                    diesel::sql_types::Nullable<diesel::sql_types::Timestamp>,
                >("COALESCE(deleted_at, ")
                .bind::<diesel::sql_types::Timestamp, _>(at)
                .sql(")")),
                contacts::erased_at.eq(at),
            ))
            .execute(conn)?;
        let affiliations_removed = diesel::delete(
            contact_affiliations::table.filter(contact_affiliations::contact_id.eq(id)),
        )
        .execute(conn)?;
        let consent_records_removed =
            diesel::delete(contact_consents::table.filter(contact_consents::contact_id.eq(id)))
                .execute(conn)?;
        // An organisation's response keeps its text and loses its writer; a response the
        // person gave alone stays, anonymous and without its text, so it still counts.
        let written_for_organisations = diesel::update(
            consultation_responses::table
                .filter(consultation_responses::contact_id.eq(id))
                .filter(consultation_responses::organisation_id.is_not_null()),
        )
        .set((
            consultation_responses::contact_id.eq(None::<String>),
            consultation_responses::updated_at.eq(at),
        ))
        .execute(conn)?;
        let given_alone = diesel::update(
            consultation_responses::table.filter(consultation_responses::contact_id.eq(id)),
        )
        .set((
            consultation_responses::summary.eq(None::<String>),
            consultation_responses::attribution.eq("anonymous"),
            consultation_responses::updated_at.eq(at),
        ))
        .execute(conn)?;
        crate::domain::imports::forget_external_ids(conn, id)?;
        // Answers kept for Idempotency-Key replays hold the person's record as it was sent.
        crate::domain::idempotency::forget_answers_about(conn, id)?;
        let audit_events_scrubbed = audit::store::scrub_contact(conn, id)?;
        Ok(Erased {
            affiliations_removed,
            consent_records_removed,
            responses_unattributed: written_for_organisations + given_alone,
            audit_events_scrubbed,
        })
    })
}
