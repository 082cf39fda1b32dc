//! Carrying out a merge's plan: the moves, the removals, the tombstones.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::Counts;
use super::plan::{MembershipPlan, Plan};
use super::records::{Held, Holdings};
use crate::db::DbConn;
use crate::db::schema::{
    consultation_invitations, consultation_responses, contact_affiliations, contacts,
    duplicate_dismissals, expert_group_members, expert_groups, external_ids, membership_actions,
    membership_periods, membership_withdrawals, memberships, organisation_report_codes,
    organisations,
};
use crate::domain::DomainError;
use crate::domain::organisations::Organisation;
use crate::with_backend;

/// The records of the merge that belong to others: contacts, groups, consultations.
pub(super) struct Touched {
    pub(super) contacts: BTreeMap<String, BTreeSet<String>>,
    pub(super) expert_groups: BTreeMap<String, BTreeSet<String>>,
    pub(super) consultations: BTreeMap<String, BTreeSet<String>>,
}

impl Touched {
    /// Those with a record of a merged organisation (the survivor's own stay as they are).
    pub(super) fn new(survivor_id: &str, holdings: &Holdings) -> Self {
        fn collect<'a, T: Held + 'a>(
            survivor_id: &str,
            records: impl IntoIterator<Item = &'a T>,
        ) -> BTreeMap<String, BTreeSet<String>> {
            let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for record in records {
                if record.owner() != survivor_id {
                    found
                        .entry(record.parent().to_owned())
                        .or_default()
                        .insert(record.owner().to_owned());
                }
            }
            found
        }
        let mut consultations = collect(survivor_id, &holdings.invitations);
        for (consultation, from) in collect(survivor_id, &holdings.responses) {
            consultations.entry(consultation).or_default().extend(from);
        }
        Self {
            contacts: collect(survivor_id, &holdings.affiliations),
            expert_groups: collect(survivor_id, &holdings.seats),
            consultations,
        }
    }

    /// Locks the contacts and groups whose versions move on, and the responses that move
    /// (see `lock_row!`), so the merge's time is taken after every writer of them is done.
    pub(super) fn lock(&self, conn: &mut DbConn, merged_ids: &[String]) -> Result<(), DomainError> {
        let contact_ids: Vec<&String> = self.contacts.keys().collect();
        diesel::update(contacts::table.filter(contacts::id.eq_any(contact_ids)))
            .set(contacts::version.eq(contacts::version))
            .execute(conn)?;
        let group_ids: Vec<&String> = self.expert_groups.keys().collect();
        diesel::update(expert_groups::table.filter(expert_groups::id.eq_any(group_ids)))
            .set(expert_groups::version.eq(expert_groups::version))
            .execute(conn)?;
        diesel::update(
            consultation_responses::table
                .filter(consultation_responses::organisation_id.eq_any(merged_ids)),
        )
        .set(consultation_responses::version.eq(consultation_responses::version))
        .execute(conn)?;
        Ok(())
    }

    /// Contacts and groups show their affiliations and seats, so their versions move on
    /// for ETags and sync.
    pub(super) fn bump_versions(
        &self,
        conn: &mut DbConn,
        at: NaiveDateTime,
    ) -> Result<(), DomainError> {
        let contact_ids: Vec<&String> = self.contacts.keys().collect();
        diesel::update(contacts::table.filter(contacts::id.eq_any(contact_ids)))
            .set((
                contacts::version.eq(contacts::version + 1),
                contacts::updated_at.eq(at),
            ))
            .execute(conn)?;
        let group_ids: Vec<&String> = self.expert_groups.keys().collect();
        diesel::update(expert_groups::table.filter(expert_groups::id.eq_any(group_ids)))
            .set((
                expert_groups::version.eq(expert_groups::version + 1),
                expert_groups::updated_at.eq(at),
            ))
            .execute(conn)?;
        Ok(())
    }
}

/// One merge's writes, counting what moves to the survivor and what is removed as it goes.
pub(super) struct Writer<'m> {
    pub(super) survivor_id: &'m str,
    pub(super) merged_ids: &'m [String],
    pub(super) at: NaiveDateTime,
    pub(super) moved: Counts,
    pub(super) removed: Counts,
}

impl Writer<'_> {
    /// The merged organisations become tombstones naming the survivor, and so do the
    /// organisations merged into them before, so `merged_into` always names the live one.
    pub(super) fn tombstone(&self, conn: &mut DbConn) -> Result<Vec<String>, DomainError> {
        let (survivor_id, merged_ids, at) = (self.survivor_id, self.merged_ids, self.at);
        diesel::update(organisations::table.filter(organisations::id.eq_any(merged_ids)))
            .set((
                organisations::deleted_at.eq(at),
                organisations::updated_at.eq(at),
                organisations::merged_into.eq(survivor_id),
            ))
            .execute(conn)?;
        // Earlier tombstones move on too, as a change sync delivers.
        let repointed: Vec<String> = organisations::table
            .filter(organisations::merged_into.eq_any(merged_ids))
            .order(organisations::id)
            .select(organisations::id)
            .load(conn)?;
        diesel::update(organisations::table.filter(organisations::id.eq_any(&repointed)))
            .set((
                organisations::merged_into.eq(survivor_id),
                organisations::updated_at.eq(at),
                organisations::version.eq(organisations::version + 1),
            ))
            .execute(conn)?;
        // Reports count live organisations only; a tombstone needs no report codes.
        diesel::delete(
            organisation_report_codes::table
                .filter(organisation_report_codes::organisation_id.eq_any(merged_ids)),
        )
        .execute(conn)?;
        Ok(repointed)
    }

    /// "Not a duplicate" said of a merged organisation and another is said of the survivor and
    /// that other (a pair within the merge is gone with it).
    pub(super) fn dismissals(&mut self, conn: &mut DbConn) -> Result<(), DomainError> {
        let (survivor_id, merged_ids) = (self.survivor_id, self.merged_ids);
        let (moved, removed) = (&mut self.moved, &mut self.removed);
        let involved = duplicate_dismissals::organisation_a
            .eq_any(merged_ids)
            .or(duplicate_dismissals::organisation_b.eq_any(merged_ids));
        type Row = (String, String, Option<String>, NaiveDateTime);
        let pairs: Vec<Row> = duplicate_dismissals::table
            .filter(involved.clone())
            .select((
                duplicate_dismissals::organisation_a,
                duplicate_dismissals::organisation_b,
                duplicate_dismissals::dismissed_by,
                duplicate_dismissals::dismissed_at,
            ))
            .load(conn)?;
        removed.duplicate_dismissals =
            diesel::delete(duplicate_dismissals::table.filter(involved)).execute(conn)?;
        for (a, b, by, at) in pairs {
            let outside = |id: &String| id != survivor_id && !merged_ids.contains(id);
            let Some(other) = [a, b].into_iter().find(outside) else {
                continue;
            };
            let (first, second) = if *survivor_id < *other {
                (survivor_id.to_owned(), other)
            } else {
                (other, survivor_id.to_owned())
            };
            let row = (
                duplicate_dismissals::organisation_a.eq(first),
                duplicate_dismissals::organisation_b.eq(second),
                duplicate_dismissals::dismissed_by.eq(by),
                duplicate_dismissals::dismissed_at.eq(at),
            );
            moved.duplicate_dismissals += with_backend!(conn, |c| {
                diesel::insert_into(duplicate_dismissals::table)
                    .values(&row)
                    .on_conflict_do_nothing()
                    .execute(c)
            })?;
        }
        removed.duplicate_dismissals -= moved.duplicate_dismissals;
        Ok(())
    }

    pub(super) fn membership(
        &mut self,
        conn: &mut DbConn,
        survivor: &Organisation,
        plan: &MembershipPlan,
    ) -> Result<(), DomainError> {
        let (survivor_id, merged_ids, at) = (self.survivor_id, self.merged_ids, self.at);
        let (moved, removed) = (&mut self.moved, &mut self.removed);
        if survivor.membership.is_some() {
            diesel::update(memberships::table.find(survivor_id))
                .set((
                    memberships::tier.eq(plan.tier.as_str()),
                    memberships::applied_on.eq(plan.applied_on),
                    memberships::joined_on.eq(plan.joined_on),
                    memberships::updated_at.eq(at),
                ))
                .execute(conn)?;
        } else {
            diesel::insert_into(memberships::table)
                .values((
                    memberships::organisation_id.eq(survivor_id),
                    memberships::tier.eq(plan.tier.as_str()),
                    memberships::applied_on.eq(plan.applied_on),
                    memberships::joined_on.eq(plan.joined_on),
                    memberships::created_at.eq(at),
                    memberships::updated_at.eq(at),
                ))
                .execute(conn)?;
        }
        // Periods and withdrawals of memberships not kept go (the audit event keeps them).
        let dropped: Vec<&String> = plan
            .holders
            .iter()
            .filter(|id| !plan.kept_from.contains(id))
            .collect();
        removed.membership_periods = diesel::delete(
            membership_periods::table.filter(membership_periods::organisation_id.eq_any(&dropped)),
        )
        .execute(conn)?;
        removed.membership_withdrawals = diesel::delete(
            membership_withdrawals::table
                .filter(membership_withdrawals::organisation_id.eq_any(&dropped)),
        )
        .execute(conn)?;
        moved.membership_periods = diesel::update(
            membership_periods::table
                .filter(membership_periods::organisation_id.eq_any(merged_ids)),
        )
        .set(membership_periods::organisation_id.eq(survivor_id))
        .execute(conn)?;
        moved.membership_withdrawals = diesel::update(
            membership_withdrawals::table
                .filter(membership_withdrawals::organisation_id.eq_any(merged_ids)),
        )
        .set(membership_withdrawals::organisation_id.eq(survivor_id))
        .execute(conn)?;
        // The history is what staff did: all of it moves.
        moved.membership_actions = diesel::update(
            membership_actions::table
                .filter(membership_actions::organisation_id.eq_any(merged_ids)),
        )
        .set(membership_actions::organisation_id.eq(survivor_id))
        .execute(conn)?;
        diesel::delete(memberships::table.filter(memberships::organisation_id.eq_any(merged_ids)))
            .execute(conn)?;
        Ok(())
    }

    pub(super) fn seats(&mut self, conn: &mut DbConn, plan: &Plan) -> Result<(), DomainError> {
        let (survivor_id, merged_ids, at) = (self.survivor_id, self.merged_ids, self.at);
        let (moved, removed) = (&mut self.moved, &mut self.removed);
        removed.expert_group_seats =
            diesel::delete(expert_group_members::table.filter(
                expert_group_members::id.eq_any(plan.drop_seats.iter().map(|seat| &seat.id)),
            ))
            .execute(conn)?;
        moved.expert_group_seats = diesel::update(
            expert_group_members::table
                .filter(expert_group_members::organisation_id.eq_any(merged_ids)),
        )
        .set((
            expert_group_members::organisation_id.eq(survivor_id),
            expert_group_members::updated_at.eq(at),
        ))
        .execute(conn)
        // Only seats stored before overlapping seats were refused can clash here unplanned.
        .map_err(crate::domain::expert_groups::store::seat_clash)?;
        Ok(())
    }

    pub(super) fn consultation_records(
        &mut self,
        conn: &mut DbConn,
        plan: &Plan,
    ) -> Result<(), DomainError> {
        let (survivor_id, merged_ids, at) = (self.survivor_id, self.merged_ids, self.at);
        let (moved, removed) = (&mut self.moved, &mut self.removed);
        removed.invitations = diesel::delete(consultation_invitations::table.filter(
            consultation_invitations::id.eq_any(plan.drop_invitations.iter().map(|i| &i.id)),
        ))
        .execute(conn)?;
        moved.invitations = diesel::update(
            consultation_invitations::table
                .filter(consultation_invitations::organisation_id.eq_any(merged_ids)),
        )
        .set(consultation_invitations::organisation_id.eq(survivor_id))
        .execute(conn)?;
        let dropped: Vec<&String> = plan.drop_responses.iter().map(|r| &r.id).collect();
        removed.responses = diesel::delete(
            consultation_responses::table.filter(consultation_responses::id.eq_any(dropped)),
        )
        .execute(conn)?;
        moved.responses = diesel::update(
            consultation_responses::table
                .filter(consultation_responses::organisation_id.eq_any(merged_ids)),
        )
        .set((
            consultation_responses::organisation_id.eq(survivor_id),
            consultation_responses::respondent_key.eq(format!("organisation:{survivor_id}")),
            consultation_responses::version.eq(consultation_responses::version + 1),
            consultation_responses::updated_at.eq(at),
        ))
        .execute(conn)?;
        Ok(())
    }

    pub(super) fn affiliations(
        &mut self,
        conn: &mut DbConn,
        plan: &Plan,
    ) -> Result<(), DomainError> {
        let (survivor_id, merged_ids, at) = (self.survivor_id, self.merged_ids, self.at);
        let (moved, removed) = (&mut self.moved, &mut self.removed);
        for (kept, dropped) in &plan.combined_affiliations {
            removed.affiliations += diesel::delete(
                contact_affiliations::table
                    .filter(contact_affiliations::id.eq_any(dropped.iter().map(|a| &a.id))),
            )
            .execute(conn)?;
            diesel::update(contact_affiliations::table.find(&kept.id))
                .set((
                    contact_affiliations::role.eq(&kept.role),
                    contact_affiliations::is_primary.eq(kept.is_primary),
                    contact_affiliations::start_on.eq(kept.start_on),
                    contact_affiliations::end_on.eq(kept.end_on),
                    contact_affiliations::updated_at.eq(at),
                ))
                .execute(conn)?;
        }
        moved.affiliations = diesel::update(
            contact_affiliations::table
                .filter(contact_affiliations::organisation_id.eq_any(merged_ids)),
        )
        .set((
            contact_affiliations::organisation_id.eq(survivor_id),
            contact_affiliations::updated_at.eq(at),
        ))
        .execute(conn)?;
        Ok(())
    }

    /// An integration's id for a merged organisation now finds the survivor.
    pub(super) fn external_ids(&mut self, conn: &mut DbConn) -> Result<(), DomainError> {
        self.moved.external_ids = diesel::update(
            external_ids::table
                .filter(external_ids::entity_type.eq(crate::domain::audit::entity::ORGANISATION))
                .filter(external_ids::record_id.eq_any(self.merged_ids)),
        )
        .set(external_ids::record_id.eq(self.survivor_id))
        .execute(conn)?;
        Ok(())
    }
}
