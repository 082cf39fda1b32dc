//! Merging duplicates: other organisations are folded into one (the survivor). Everything
//! that pointed at them moves over (affiliations, group seats, invitations, responses,
//! membership, external ids) and they become tombstones naming the survivor.
//!
//! The rules, in the order a merge applies them:
//! - profile fields: the survivor's value stays; where it has none (null, an empty set, a
//!   community reply `not_asked`, kind `other`) the first merged organisation that has one
//!   gives it; the request may name the organisation to take any field from;
//! - membership: one membership moves as it is; several are combined (earliest application
//!   and joining date, the survivor's tier, every period and withdrawal) when their periods
//!   and withdrawals fit together, otherwise the request must name whose to keep;
//! - expert groups: seats move; two organisations seated in one group at the same time
//!   clash, and the request must name whose seats in that group to keep;
//! - consultations: two invitations to one consultation become the earliest; two responses
//!   clash, and the request must name whose response to keep;
//! - a contact affiliated with several of them keeps one affiliation (the survivor's, else the
//!   oldest): primary if any was, the earliest start, open if any was open.
//!
//! Every clash is reported at once (409) and nothing is written.

mod plan;
mod records;
mod write;

use std::collections::{BTreeMap, BTreeSet};

use diesel::prelude::*;
use serde::Serialize;

use super::{Organisation, store};
use crate::db::DbConn;
use crate::db::schema::organisations;
use crate::domain::{DomainError, FieldError, VersionCheck, now};
use plan::{codes_held, plan};
use records::Holdings;
use write::{Touched, Writer};

/// Most organisations one merge folds in.
pub const MAX_MERGED: usize = 20;

crate::domain::text_enum! {
    /// A profile field whose value a merge can take from a chosen organisation.
    pub enum MergeField {
        Name => "name",
        Kind => "kind",
        SizeBand => "size_band",
        CharityNumber => "charity_number",
        CompanyNumber => "company_number",
        Website => "website",
        Email => "email",
        Phone => "phone",
        Postcode => "postcode",
        Description => "description",
        GeographyScope => "geography_scope",
        Regions => "regions",
        Expertise => "expertise",
        Leadership => "leadership",
        Mission => "mission",
        LivedExperienceLed => "lived_experience_led",
    }
}

/// What the request chose where the rules alone do not decide. Each value is the id of the
/// survivor or of a merged organisation.
#[derive(Debug, Clone, Default)]
pub struct Choices {
    pub fields: BTreeMap<MergeField, String>,
    pub membership: Option<String>,
    /// Expert group id → whose seats in it to keep.
    pub expert_groups: BTreeMap<String, String>,
    /// Consultation id → whose response to it to keep.
    pub consultations: BTreeMap<String, String>,
}

/// How many records a merge moved to the survivor or removed as duplicates of others.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Counts {
    pub affiliations: usize,
    pub expert_group_seats: usize,
    pub invitations: usize,
    pub responses: usize,
    pub membership_periods: usize,
    pub membership_withdrawals: usize,
    pub membership_actions: usize,
    pub external_ids: usize,
    pub duplicate_dismissals: usize,
}

/// What a merge did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub before: Organisation,
    pub after: Organisation,
    /// The merged organisations as they were.
    pub merged: Vec<Organisation>,
    /// The fields whose value came from a merged organisation, and from which.
    pub taken: BTreeMap<MergeField, String>,
    pub moved: Counts,
    pub removed: Counts,
    /// Contacts, expert groups and consultations whose records moved, each with the merged
    /// organisations it had records of.
    pub contacts: BTreeMap<String, BTreeSet<String>>,
    pub expert_groups: BTreeMap<String, BTreeSet<String>>,
    pub consultations: BTreeMap<String, BTreeSet<String>>,
    /// What the merge removed as duplicates or by the request's choices, as the audit event
    /// keeps it: seats, invitations, responses (without their text), affiliations and the
    /// periods and withdrawals of memberships not kept.
    pub removed_records: serde_json::Value,
    /// Responses removed because the request kept another organisation's.
    pub removed_responses: Vec<RemovedResponse>,
    /// Tombstones of earlier merges into a merged organisation, now naming the survivor.
    pub repointed: Vec<String>,
}

/// A response a merge removed, with its text (which lives on in the audit trail only, in an
/// event about the contact who wrote it).
#[derive(Debug, Clone)]
pub struct RemovedResponse {
    pub id: String,
    pub consultation_id: String,
    pub contact_id: Option<String>,
    pub summary: Option<String>,
}

fn removed_records(participants: &[&Organisation], plan: &plan::Plan) -> serde_json::Value {
    let memberships: Vec<serde_json::Value> = plan
        .membership
        .iter()
        .flat_map(|m| m.holders.iter().filter(|id| !m.kept_from.contains(id)))
        .filter_map(|id| participants.iter().find(|o| &o.id == id))
        .filter_map(|o| o.membership.as_ref())
        .map(|m| {
            serde_json::json!({
                "organisation_id": m.organisation_id,
                "tier": m.tier,
                "periods": m.periods,
                "withdrawals": m.withdrawals,
            })
        })
        .collect();
    let affiliations: Vec<_> = plan
        .combined_affiliations
        .iter()
        .flat_map(|(_, dropped)| dropped)
        .collect();
    serde_json::json!({
        "expert_group_seats": plan.drop_seats,
        "invitations": plan.drop_invitations,
        "responses": plan.drop_responses,
        "affiliations": affiliations,
        "memberships": memberships,
    })
}

/// Folds `merged_ids` into `survivor_id` in one transaction, after `check` allows the
/// survivor's version.
pub fn merge(
    conn: &mut DbConn,
    survivor_id: &str,
    merged_ids: &[String],
    choices: &Choices,
    check: &VersionCheck,
) -> Result<Outcome, DomainError> {
    conn.transaction(|conn| {
        let (before, merged) = lock(conn, survivor_id, merged_ids, check)?;
        let participants: Vec<&Organisation> = std::iter::once(&before).chain(&merged).collect();
        check_choices(&participants, choices)?;
        let all_ids: Vec<String> = participants.iter().map(|o| o.id.clone()).collect();
        let holdings = Holdings::load(conn, &all_ids)?;
        let plan = plan(&participants, &holdings, choices)?;
        let touched = Touched::new(survivor_id, &holdings);
        touched.lock(conn, merged_ids)?;
        let at = now();

        let mut writer = Writer {
            survivor_id,
            merged_ids,
            at,
            moved: Counts::default(),
            removed: Counts::default(),
        };
        // The merged organisations go first, so the survivor may take their numbers.
        let repointed = writer.tombstone(conn)?;
        if let Some(membership) = &plan.membership {
            writer.membership(conn, &before, membership)?;
        }
        writer.seats(conn, &plan)?;
        writer.consultation_records(conn, &plan)?;
        writer.affiliations(conn, &plan)?;
        writer.external_ids(conn)?;
        writer.dismissals(conn)?;
        touched.bump_versions(conn, at)?;

        let codes_held = codes_held(&participants);
        let version = before.version;
        store::overwrite_profile(conn, &before, &plan.profile, &codes_held, version, at)?;
        let after = store::find(conn, survivor_id)?;
        let removed_records = removed_records(&participants, &plan);
        Ok(Outcome {
            before,
            after,
            merged,
            taken: plan
                .taken
                .into_iter()
                .filter(|(_, from)| from != survivor_id)
                .collect(),
            moved: writer.moved,
            removed: writer.removed,
            contacts: touched.contacts,
            expert_groups: touched.expert_groups,
            consultations: touched.consultations,
            removed_records,
            removed_responses: plan
                .drop_responses
                .into_iter()
                .map(|r| RemovedResponse {
                    id: r.id,
                    consultation_id: r.consultation_id,
                    contact_id: r.contact_id,
                    summary: r.summary,
                })
                .collect(),
            repointed,
        })
    })
}

/// What a merge would do, written and then rolled back: the same code path as a merge.
pub fn preview(
    conn: &mut DbConn,
    survivor_id: &str,
    merged_ids: &[String],
    choices: &Choices,
    check: &VersionCheck,
) -> Result<Outcome, DomainError> {
    // The transaction's error is the way out that rolls it back, with the outcome or not.
    enum Undo {
        Previewed(Box<Outcome>),
        Failed(DomainError),
    }
    impl From<diesel::result::Error> for Undo {
        fn from(error: diesel::result::Error) -> Self {
            Self::Failed(error.into())
        }
    }
    let undone = conn.transaction::<std::convert::Infallible, Undo, _>(|conn| {
        match merge(conn, survivor_id, merged_ids, choices, check) {
            Ok(outcome) => Err(Undo::Previewed(Box::new(outcome))),
            Err(error) => Err(Undo::Failed(error)),
        }
    });
    match undone {
        Ok(never) => match never {},
        Err(Undo::Previewed(outcome)) => Ok(*outcome),
        Err(Undo::Failed(error)) => Err(error),
    }
}

/// Locks every organisation of the merge by moving its version on (a row lock on
/// PostgreSQL; SQLite holds the whole database), then reads them. The survivor's version
/// before the lock is the one `check` must allow.
fn lock(
    conn: &mut DbConn,
    survivor_id: &str,
    merged_ids: &[String],
    check: &VersionCheck,
) -> Result<(Organisation, Vec<Organisation>), DomainError> {
    let mut errors = Vec::new();
    if merged_ids.is_empty() || merged_ids.len() > MAX_MERGED {
        errors.push(FieldError::new(
            "merge",
            "length",
            format!("must name 1 to {MAX_MERGED} organisations"),
        ));
    }
    for (index, id) in merged_ids.iter().enumerate() {
        if id == survivor_id {
            errors.push(FieldError::new(
                format!("merge[{index}]"),
                "survivor",
                "is the organisation merged into; it cannot be merged into itself",
            ));
        } else if merged_ids[..index].contains(id) {
            errors.push(FieldError::new(
                format!("merge[{index}]"),
                "repeated",
                "names an organisation already in the list",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(DomainError::Invalid(errors));
    }
    let mut ids: Vec<&str> = std::iter::once(survivor_id)
        .chain(merged_ids.iter().map(String::as_str))
        .collect();
    // One order for every merge, so two merges lock rows in the same order.
    ids.sort_unstable();
    for id in ids {
        diesel::update(
            organisations::table
                .find(id)
                .filter(organisations::deleted_at.is_null()),
        )
        .set(organisations::version.eq(organisations::version + 1))
        .execute(conn)?;
    }
    let survivor = store::find(conn, survivor_id)?;
    check.require(survivor.version - 1)?;
    let mut merged = Vec::new();
    let mut missing = Vec::new();
    for (index, id) in merged_ids.iter().enumerate() {
        match store::find(conn, id) {
            Ok(organisation) => merged.push(organisation),
            Err(DomainError::NotFound(_)) => missing.push(FieldError::new(
                format!("merge[{index}]"),
                "not_found",
                format!("no live organisation has the id {id}"),
            )),
            Err(error) => return Err(error),
        }
    }
    if !missing.is_empty() {
        return Err(DomainError::Invalid(missing));
    }
    Ok((survivor, merged))
}

/// Every choice must name an organisation of this merge.
fn check_choices(participants: &[&Organisation], choices: &Choices) -> Result<(), DomainError> {
    let known = |id: &String| participants.iter().any(|o| &o.id == id);
    let mut errors = Vec::new();
    let mut check = |field: String, id: &String| {
        if !known(id) {
            errors.push(FieldError::new(
                field,
                "not_in_merge",
                format!("{id} is neither the survivor nor an organisation being merged"),
            ));
        }
    };
    for (field, id) in &choices.fields {
        check(format!("fields.{field}"), id);
    }
    if let Some(id) = &choices.membership {
        check("membership".to_owned(), id);
    }
    for (group, id) in &choices.expert_groups {
        check(format!("expert_groups.{group}"), id);
    }
    for (consultation, id) in &choices.consultations {
        check(format!("consultations.{consultation}"), id);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Invalid(errors))
    }
}
