//! Whose voices reach the alliance: the composition of a consultation's respondents or of an
//! expert group's members, against the active membership. People (contacts) have no equality
//! data here, so they are only counted.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::Composition;
use super::Dimension;
use super::composition::{Population, composition, composition_of};
use crate::db::DbConn;
use crate::db::schema::{consultation_responses, expert_group_members};
use crate::domain::membership::GraceWindow;
use crate::domain::{DomainError, consultations, expert_groups};

#[derive(Debug, Clone, PartialEq)]
pub struct Participation {
    /// Organisations among the participants (their composition is `participants`).
    pub organisations: i64,
    /// People taking part in their own right, exactly: publish through `Disclosure::people`.
    pub individuals: i64,
    pub participants: Composition,
    pub members: Composition,
}

/// The participants of `population` (respondents or group members) on `on`, composed in
/// `dimensions`, beside the active membership on the same day.
pub fn participation(
    conn: &mut DbConn,
    population: &Population,
    on: NaiveDate,
    grace: GraceWindow,
    dimensions: &[Dimension],
) -> Result<Participation, DomainError> {
    let individuals: i64 = match population {
        Population::Respondents {
            consultation_id,
            with_anonymous,
        } => {
            consultations::store::find(conn, consultation_id)?;
            let mut people = consultation_responses::table
                .filter(consultation_responses::consultation_id.eq(consultation_id))
                .filter(consultation_responses::organisation_id.is_null())
                .into_boxed();
            if !with_anonymous {
                people = people.filter(consultation_responses::attribution.eq("named"));
            }
            people.count().get_result(conn)?
        }
        Population::GroupMembers { group_id } => {
            expert_groups::store::find(conn, group_id)?;
            // People, not seats: seats recorded before overlaps were refused can give someone
            // two seats on one day.
            expert_group_members::table
                .filter(expert_group_members::group_id.eq(group_id))
                .filter(expert_group_members::contact_id.is_not_null())
                .filter(expert_group_members::joined_on.le(on))
                .filter(
                    expert_group_members::left_on
                        .is_null()
                        .or(expert_group_members::left_on.ge(on)),
                )
                .select(diesel::dsl::count(expert_group_members::contact_id).aggregate_distinct())
                .get_result(conn)?
        }
        Population::ActiveMembers => 0,
    };
    let participants = composition_of(conn, population, on, grace, dimensions)?;
    let members = composition(conn, on, grace, dimensions)?;
    Ok(Participation {
        organisations: participants.active_members.value().unwrap_or_default(),
        individuals,
        participants,
        members,
    })
}
