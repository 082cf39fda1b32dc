//! The records that point at the organisations of a merge, read once before it plans.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::DbConn;
use crate::db::schema::{
    consultation_invitations, consultation_responses, contact_affiliations, expert_group_members,
};
use crate::domain::DomainError;

/// A seat in an expert group.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Seat {
    pub(super) id: String,
    pub(super) group_id: String,
    pub(super) organisation_id: String,
    pub(super) joined_on: NaiveDate,
    pub(super) left_on: Option<NaiveDate>,
}

impl Seat {
    /// Whether two seats are held on some common day (`left_on` is the last day held), as
    /// the expert groups' own rule counts it.
    pub(super) fn overlaps(&self, other: &Seat) -> bool {
        crate::domain::expert_groups::spans_overlap(
            (self.joined_on, self.left_on),
            (other.joined_on, other.left_on),
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct Invitation {
    pub(super) id: String,
    pub(super) consultation_id: String,
    pub(super) organisation_id: String,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct ResponseRef {
    pub(super) id: String,
    pub(super) consultation_id: String,
    pub(super) organisation_id: String,
    /// Who wrote it for the organisation, if anyone.
    pub(super) contact_id: Option<String>,
    /// The response's text: personal data of its writer, kept out of organisation events.
    #[serde(skip)]
    pub(super) summary: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct Affiliation {
    pub(super) id: String,
    pub(super) contact_id: String,
    pub(super) organisation_id: String,
    pub(super) role: Option<String>,
    pub(super) is_primary: bool,
    pub(super) start_on: Option<NaiveDate>,
    pub(super) end_on: Option<NaiveDate>,
}

/// Everything that points at the organisations of one merge.
pub(super) struct Holdings {
    pub(super) seats: Vec<Seat>,
    pub(super) invitations: Vec<Invitation>,
    pub(super) responses: Vec<ResponseRef>,
    pub(super) affiliations: Vec<Affiliation>,
}

impl Holdings {
    pub(super) fn load(conn: &mut DbConn, ids: &[String]) -> Result<Self, DomainError> {
        let seats = expert_group_members::table
            .filter(expert_group_members::organisation_id.eq_any(ids))
            .order(expert_group_members::id)
            .select((
                expert_group_members::id,
                expert_group_members::group_id,
                expert_group_members::organisation_id.assume_not_null(),
                expert_group_members::joined_on,
                expert_group_members::left_on,
            ))
            .load::<(String, String, String, NaiveDate, Option<NaiveDate>)>(conn)?
            .into_iter()
            .map(|(id, group_id, organisation_id, joined_on, left_on)| Seat {
                id,
                group_id,
                organisation_id,
                joined_on,
                left_on,
            })
            .collect();
        let invitations = consultation_invitations::table
            .filter(consultation_invitations::organisation_id.eq_any(ids))
            .order((
                consultation_invitations::invited_at,
                consultation_invitations::id,
            ))
            .select((
                consultation_invitations::id,
                consultation_invitations::consultation_id,
                consultation_invitations::organisation_id.assume_not_null(),
            ))
            .load::<(String, String, String)>(conn)?
            .into_iter()
            .map(|(id, consultation_id, organisation_id)| Invitation {
                id,
                consultation_id,
                organisation_id,
            })
            .collect();
        let responses = consultation_responses::table
            .filter(consultation_responses::organisation_id.eq_any(ids))
            .order(consultation_responses::id)
            .select((
                consultation_responses::id,
                consultation_responses::consultation_id,
                consultation_responses::organisation_id.assume_not_null(),
                consultation_responses::contact_id,
                consultation_responses::summary,
            ))
            .load::<(String, String, String, Option<String>, Option<String>)>(conn)?
            .into_iter()
            .map(
                |(id, consultation_id, organisation_id, contact_id, summary)| ResponseRef {
                    id,
                    consultation_id,
                    organisation_id,
                    contact_id,
                    summary,
                },
            )
            .collect();
        type AffiliationRow = (
            String,
            String,
            String,
            Option<String>,
            bool,
            Option<NaiveDate>,
            Option<NaiveDate>,
        );
        let affiliations = contact_affiliations::table
            .filter(contact_affiliations::organisation_id.eq_any(ids))
            .order((contact_affiliations::created_at, contact_affiliations::id))
            .select((
                contact_affiliations::id,
                contact_affiliations::contact_id,
                contact_affiliations::organisation_id,
                contact_affiliations::role,
                contact_affiliations::is_primary,
                contact_affiliations::start_on,
                contact_affiliations::end_on,
            ))
            .load::<AffiliationRow>(conn)?
            .into_iter()
            .map(
                |(id, contact_id, organisation_id, role, is_primary, start_on, end_on)| {
                    Affiliation {
                        id,
                        contact_id,
                        organisation_id,
                        role,
                        is_primary,
                        start_on,
                        end_on,
                    }
                },
            )
            .collect();
        Ok(Self {
            seats,
            invitations,
            responses,
            affiliations,
        })
    }
}

/// A record that belongs to one of the organisations and sits under another record (a
/// seat in a group, a response to a consultation, a contact's affiliation).
pub(super) trait Held {
    fn parent(&self) -> &str;
    fn owner(&self) -> &str;
}

impl Held for Seat {
    fn parent(&self) -> &str {
        &self.group_id
    }
    fn owner(&self) -> &str {
        &self.organisation_id
    }
}

impl Held for Invitation {
    fn parent(&self) -> &str {
        &self.consultation_id
    }
    fn owner(&self) -> &str {
        &self.organisation_id
    }
}

impl Held for ResponseRef {
    fn parent(&self) -> &str {
        &self.consultation_id
    }
    fn owner(&self) -> &str {
        &self.organisation_id
    }
}

impl Held for Affiliation {
    fn parent(&self) -> &str {
        &self.contact_id
    }
    fn owner(&self) -> &str {
        &self.organisation_id
    }
}

/// Records grouped by their parent, each group in the records' order.
pub(super) fn group_by<T: Held>(records: &[T]) -> BTreeMap<&str, Vec<&T>> {
    let mut groups: BTreeMap<&str, Vec<&T>> = BTreeMap::new();
    for record in records {
        groups.entry(record.parent()).or_default().push(record);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn seats_overlap_on_a_common_day() {
        let seat = |joined: &str, left: Option<&str>| Seat {
            id: String::new(),
            group_id: String::new(),
            organisation_id: String::new(),
            joined_on: day(joined),
            left_on: left.map(day),
        };
        let early = seat("2024-01-01", Some("2024-06-01"));
        assert!(!early.overlaps(&seat("2024-06-02", None)));
        assert!(early.overlaps(&seat("2024-06-01", None)));
        assert!(seat("2024-01-01", None).overlaps(&seat("2030-01-01", None)));
    }
}
