//! Deciding what a merge writes, before anything is: the profile by the field rule, the
//! membership, and every clash between the organisations' records.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use super::records::{Affiliation, Held, Holdings, Invitation, ResponseRef, Seat, group_by};
use super::{Choices, MergeField};
use crate::domain::membership::{Membership, Period, Tier};
use crate::domain::organisations::{
    Organisation, OrganisationKind, OrganisationProfile, ReplyStatus,
};
use crate::domain::{DomainError, FieldError};

/// The membership the survivor ends with, when it changes.
pub(super) struct MembershipPlan {
    pub(super) tier: Tier,
    pub(super) applied_on: NaiveDate,
    pub(super) joined_on: Option<NaiveDate>,
    /// Organisations whose periods and withdrawals the survivor keeps.
    pub(super) kept_from: Vec<String>,
    /// Organisations with a membership (all their actions move).
    pub(super) holders: Vec<String>,
}

/// What a merge will write, decided before anything is.
pub(super) struct Plan {
    pub(super) profile: OrganisationProfile,
    pub(super) taken: BTreeMap<MergeField, String>,
    pub(super) membership: Option<MembershipPlan>,
    pub(super) drop_seats: Vec<Seat>,
    pub(super) drop_invitations: Vec<Invitation>,
    pub(super) drop_responses: Vec<ResponseRef>,
    /// One affiliation per contact that had several: the one kept, with combined values,
    /// and the ones removed.
    pub(super) combined_affiliations: Vec<(Affiliation, Vec<Affiliation>)>,
}

pub(super) fn plan(
    participants: &[&Organisation],
    holdings: &Holdings,
    choices: &Choices,
) -> Result<Plan, DomainError> {
    let survivor = participants[0];
    let mut clashes = Vec::new();
    let mut invalid = Vec::new();
    let (profile, taken) = resolve_profile(participants, &choices.fields);
    let membership = plan_membership(participants, choices, &mut clashes, &mut invalid);

    // Expert groups: seats of different organisations held on a common day clash.
    let seats = Clashes {
        field: "expert_groups",
        parent: "expert group",
        kept: "seats",
        clash: "sit in it at the same time",
    };
    let drop_seats = seats
        .resolve(
            participants,
            &holdings.seats,
            |seats| {
                seats.iter().enumerate().any(|(i, a)| {
                    seats[i + 1..]
                        .iter()
                        .any(|b| a.organisation_id != b.organisation_id && a.overlaps(b))
                })
            },
            &choices.expert_groups,
            &mut clashes,
            &mut invalid,
        )
        .into_iter()
        .cloned()
        .collect();

    // Consultations: invitations become the earliest; two responses clash.
    let mut drop_invitations = Vec::new();
    for invitations in group_by(&holdings.invitations).values() {
        // Loaded in invitation order: the first is the earliest.
        drop_invitations.extend(invitations.iter().skip(1).map(|i| (*i).clone()));
    }
    let responses = Clashes {
        field: "consultations",
        parent: "consultation",
        kept: "response",
        clash: "each responded to it",
    };
    let drop_responses = responses
        .resolve(
            participants,
            &holdings.responses,
            |responses| responses.len() > 1,
            &choices.consultations,
            &mut clashes,
            &mut invalid,
        )
        .into_iter()
        .cloned()
        .collect();

    // Contacts: a contact with one affiliation to each of several of the organisations keeps
    // one, the survivor's or else the oldest. Several affiliations to one organisation are a
    // history (dates, roles), and then every row moves as it is.
    let mut combined_affiliations = Vec::new();
    for affiliations in group_by(&holdings.affiliations).values() {
        let owners: BTreeSet<&str> = affiliations.iter().map(|a| a.owner()).collect();
        if owners.len() < 2 || owners.len() < affiliations.len() {
            continue;
        }
        let keep = affiliations
            .iter()
            .find(|a| a.organisation_id == survivor.id)
            .copied()
            .unwrap_or(affiliations[0]);
        let mut combined = keep.clone();
        combined.is_primary = affiliations.iter().any(|a| a.is_primary);
        combined.role = keep
            .role
            .clone()
            .or_else(|| affiliations.iter().find_map(|a| a.role.clone()));
        // An unknown start says nothing: the earliest known one stands.
        combined.start_on = affiliations.iter().filter_map(|a| a.start_on).min();
        // An open affiliation is still current, so the combined one is open.
        combined.end_on = if affiliations.iter().any(|a| a.end_on.is_none()) {
            None
        } else {
            affiliations.iter().filter_map(|a| a.end_on).max()
        };
        let dropped = affiliations
            .iter()
            .filter(|a| a.id != keep.id)
            .map(|a| (*a).clone())
            .collect();
        combined_affiliations.push((combined, dropped));
    }

    if !invalid.is_empty() {
        return Err(DomainError::Invalid(invalid));
    }
    if !clashes.is_empty() {
        return Err(DomainError::Conflict {
            message: format!(
                "{} clash{} between the organisations need{} a choice in the request; nothing was merged",
                clashes.len(),
                if clashes.len() == 1 { "" } else { "es" },
                if clashes.len() == 1 { "s" } else { "" },
            ),
            errors: clashes,
        });
    }
    Ok(Plan {
        profile,
        taken,
        membership,
        drop_seats,
        drop_invitations,
        drop_responses,
        combined_affiliations,
    })
}

/// Records under one parent that clash need the request to name whose to keep: the words
/// for one kind's problems.
struct Clashes {
    /// The request field that holds the choices (`expert_groups`).
    field: &'static str,
    parent: &'static str,
    kept: &'static str,
    /// What the organisations did that clashes ("each responded to it").
    clash: &'static str,
}

impl Clashes {
    /// The records to remove: under each parent where `clash` says its records clash, those
    /// of every organisation but the one the request chose. A clash without a choice, and a
    /// choice without a clash, is reported.
    fn resolve<'r, T: Held>(
        &self,
        participants: &[&Organisation],
        records: &'r [T],
        clash: impl Fn(&[&T]) -> bool,
        chosen: &BTreeMap<String, String>,
        clashes: &mut Vec<FieldError>,
        invalid: &mut Vec<FieldError>,
    ) -> Vec<&'r T> {
        let Self {
            field,
            parent,
            kept,
            ..
        } = self;
        let by_parent = group_by(records);
        let mut dropped = Vec::new();
        for (id, held) in &by_parent {
            let field = format!("{field}.{id}");
            match (clash(held), chosen.get(*id)) {
                (true, Some(keep)) if held.iter().any(|r| r.owner() == keep) => {
                    dropped.extend(held.iter().filter(|r| r.owner() != keep).copied());
                }
                (true, Some(keep)) => invalid.push(FieldError::new(
                    field,
                    "nothing_to_keep",
                    format!("{keep} has no {kept} in {parent} {id} to keep"),
                )),
                (true, None) => clashes.push(FieldError::new(
                    field,
                    "choice_required",
                    format!(
                        "{} {} ({parent} {id}); name whose {kept} to keep",
                        names(participants, held.iter().map(|r| r.owner())),
                        self.clash,
                    ),
                )),
                (false, Some(_)) => invalid.push(FieldError::new(
                    field,
                    "no_clash",
                    format!("nothing clashes in {parent} {id}"),
                )),
                (false, None) => {}
            }
        }
        for id in chosen
            .keys()
            .filter(|id| !by_parent.contains_key(id.as_str()))
        {
            invalid.push(FieldError::new(
                format!("{field}.{id}"),
                "no_clash",
                format!("none of the organisations has {kept} in {parent} {id}"),
            ));
        }
        dropped
    }
}

/// "A (id) and B (id)", for a clash's message.
fn names<'a>(participants: &[&Organisation], ids: impl Iterator<Item = &'a str>) -> String {
    let ids: BTreeSet<&str> = ids.collect();
    let named: Vec<String> = ids
        .into_iter()
        .map(|id| {
            let name = participants
                .iter()
                .find(|o| o.id == id)
                .map(|o| o.profile.name.as_str())
                .unwrap_or_default();
            format!("{name} ({id})")
        })
        .collect();
    named.join(" and ")
}

/// The survivor's profile after the merge, and where each field came from.
fn resolve_profile(
    participants: &[&Organisation],
    chosen: &BTreeMap<MergeField, String>,
) -> (OrganisationProfile, BTreeMap<MergeField, String>) {
    let mut profile = participants[0].profile.clone();
    let mut taken = BTreeMap::new();
    for &field in MergeField::ALL {
        let source = match chosen.get(&field) {
            Some(id) => participants.iter().find(|o| &o.id == id),
            None => participants.iter().find(|o| has(&o.profile, field)),
        };
        if let Some(source) = source {
            copy(&source.profile, &mut profile, field);
            taken.insert(field, source.id.clone());
        }
    }
    (profile, taken)
}

/// Whether a profile has a value for `field` (a value the rules let stand).
fn has(p: &OrganisationProfile, field: MergeField) -> bool {
    use MergeField as F;
    match field {
        F::Name => true,
        F::Kind => p.kind != OrganisationKind::Other,
        F::SizeBand => p.size_band.is_some(),
        F::CharityNumber => p.charity_number.is_some(),
        F::CompanyNumber => p.company_number.is_some(),
        F::Website => p.website.is_some(),
        F::Email => p.email.is_some(),
        F::Phone => p.phone.is_some(),
        F::Postcode => p.postcode.is_some(),
        F::Description => p.description.is_some(),
        F::GeographyScope => p.geography_scope.is_some(),
        F::Regions => !p.regions.is_empty(),
        F::Expertise => !p.expertise.is_empty(),
        F::Leadership => p.leadership.reply_status != ReplyStatus::NotAsked,
        F::Mission => p.mission.reply_status != ReplyStatus::NotAsked,
        F::LivedExperienceLed => p.lived_experience_led.is_some(),
    }
}

fn copy(from: &OrganisationProfile, to: &mut OrganisationProfile, field: MergeField) {
    use MergeField as F;
    match field {
        F::Name => to.name = from.name.clone(),
        F::Kind => to.kind = from.kind,
        F::SizeBand => to.size_band = from.size_band,
        F::CharityNumber => to.charity_number = from.charity_number.clone(),
        F::CompanyNumber => to.company_number = from.company_number.clone(),
        F::Website => to.website = from.website.clone(),
        F::Email => to.email = from.email.clone(),
        F::Phone => to.phone = from.phone.clone(),
        F::Postcode => to.postcode = from.postcode.clone(),
        F::Description => to.description = from.description.clone(),
        F::GeographyScope => to.geography_scope = from.geography_scope,
        F::Regions => to.regions = from.regions.clone(),
        F::Expertise => to.expertise = from.expertise.clone(),
        F::Leadership => to.leadership = from.leadership.clone(),
        F::Mission => to.mission = from.mission.clone(),
        F::LivedExperienceLed => to.lived_experience_led = from.lived_experience_led,
    }
}

/// Every code any of the organisations holds: a code stored before may stay on the survivor
/// even if it was retired since.
pub(super) fn codes_held(participants: &[&Organisation]) -> OrganisationProfile {
    let mut held = participants[0].profile.clone();
    for other in &participants[1..] {
        held.expertise
            .extend(other.profile.expertise.iter().cloned());
        held.leadership
            .communities
            .extend(other.profile.leadership.communities.iter().cloned());
        held.mission
            .communities
            .extend(other.profile.mission.communities.iter().cloned());
    }
    held
}

/// The survivor's membership after the merge, or `None` when it stays as it is.
fn plan_membership(
    participants: &[&Organisation],
    choices: &Choices,
    clashes: &mut Vec<FieldError>,
    invalid: &mut Vec<FieldError>,
) -> Option<MembershipPlan> {
    let survivor = participants[0];
    let holders: Vec<(&String, &Membership)> = participants
        .iter()
        .filter_map(|o| o.membership.as_ref().map(|m| (&o.id, m)))
        .collect();
    let holder_ids = holders.iter().map(|(id, _)| (*id).clone()).collect();
    if let Some(chosen) = &choices.membership {
        let Some((_, membership)) = holders.iter().find(|(id, _)| *id == chosen) else {
            invalid.push(FieldError::new(
                "membership",
                "no_membership",
                format!("{chosen} has no membership to keep"),
            ));
            return None;
        };
        return Some(MembershipPlan {
            tier: membership.tier,
            applied_on: membership.applied_on,
            joined_on: membership.joined_on,
            kept_from: vec![chosen.clone()],
            holders: holder_ids,
        });
    }
    match holders.as_slice() {
        [] => None,
        [(id, _)] if **id == survivor.id => None,
        [(id, membership)] => Some(MembershipPlan {
            tier: membership.tier,
            applied_on: membership.applied_on,
            joined_on: membership.joined_on,
            kept_from: vec![(*id).clone()],
            holders: holder_ids,
        }),
        several => {
            let memberships: Vec<&Membership> = several.iter().map(|(_, m)| *m).collect();
            if let Some(reason) = why_not_combined(&memberships) {
                clashes.push(FieldError::new(
                    "membership",
                    "choice_required",
                    format!(
                        "the memberships of {} cannot be combined ({reason}); name whose to keep",
                        names(participants, several.iter().map(|(id, _)| id.as_str()))
                    ),
                ));
                return None;
            }
            let tier = survivor
                .membership
                .as_ref()
                .map_or(memberships[0].tier, |m| m.tier);
            Some(MembershipPlan {
                tier,
                applied_on: memberships
                    .iter()
                    .map(|m| m.applied_on)
                    .min()
                    .unwrap_or(memberships[0].applied_on),
                joined_on: memberships.iter().filter_map(|m| m.joined_on).min(),
                kept_from: holder_ids.clone(),
                holders: holder_ids,
            })
        }
    }
}

/// Why these memberships cannot become one, if they cannot: periods that overlap, a
/// withdrawal in force during another's period, or more than one open withdrawal.
fn why_not_combined(memberships: &[&Membership]) -> Option<&'static str> {
    let mut periods: Vec<Period> = memberships
        .iter()
        .flat_map(|m| m.periods.iter().copied())
        .collect();
    periods.sort();
    if periods
        .windows(2)
        .any(|pair| pair[1].start_on <= pair[0].end_on)
    {
        return Some("their periods overlap");
    }
    let withdrawals: Vec<_> = memberships.iter().flat_map(|m| &m.withdrawals).collect();
    if withdrawals
        .iter()
        .filter(|w| w.reinstated_on.is_none())
        .count()
        > 1
    {
        return Some("more than one withdrawal is open");
    }
    let in_force_during = |w: &crate::domain::membership::Withdrawal, p: &Period| {
        w.withdrawn_on <= p.end_on && w.reinstated_on.is_none_or(|back| back > p.start_on)
    };
    if withdrawals
        .iter()
        .any(|w| periods.iter().any(|p| in_force_during(w, p)))
    {
        return Some("a withdrawal is in force during a period");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::membership::{Tier, Withdrawal};

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn membership(periods: &[(&str, &str)], withdrawals: &[(&str, Option<&str>)]) -> Membership {
        Membership {
            organisation_id: "o".to_owned(),
            tier: Tier::Full,
            applied_on: day("2020-01-01"),
            joined_on: None,
            periods: periods
                .iter()
                .map(|(start, end)| Period {
                    start_on: day(start),
                    end_on: day(end),
                })
                .collect(),
            withdrawals: withdrawals
                .iter()
                .map(|(on, back)| Withdrawal {
                    withdrawn_on: day(on),
                    reinstated_on: back.map(day),
                    reason: "r".to_owned(),
                })
                .collect(),
        }
    }

    #[test]
    fn memberships_combine_only_when_they_fit_together() {
        let a = membership(&[("2024-04-01", "2025-03-31")], &[]);
        let next_year = membership(&[("2025-04-01", "2026-03-31")], &[]);
        let overlapping = membership(&[("2025-03-31", "2026-03-30")], &[]);
        assert_eq!(why_not_combined(&[&a, &next_year]), None);
        assert_eq!(
            why_not_combined(&[&a, &overlapping]),
            Some("their periods overlap")
        );
        let withdrawn_later = membership(&[], &[("2026-04-01", None)]);
        assert_eq!(why_not_combined(&[&a, &next_year, &withdrawn_later]), None);
        let withdrawn_during = membership(&[], &[("2024-10-01", Some("2025-01-01"))]);
        assert_eq!(
            why_not_combined(&[&a, &withdrawn_during]),
            Some("a withdrawal is in force during a period")
        );
        let open = membership(&[], &[("2027-01-01", None)]);
        assert_eq!(
            why_not_combined(&[&withdrawn_later, &open]),
            Some("more than one withdrawal is open")
        );
    }
}
