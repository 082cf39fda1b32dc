//! Expert groups: the issue-specific groups the alliance convenes (advisory groups,
//! sub-committees, participation and working groups) and their members over time.

pub mod store;

use chrono::{NaiveDate, NaiveDateTime};

crate::domain::text_enum! {
    /// What sort of group it is.
    pub enum GroupKind {
        ExpertGroup => "expert_group",
        AdvisoryGroup => "advisory_group",
        SubCommittee => "sub_committee",
        ParticipationGroup => "participation_group",
        WorkingGroup => "working_group",
    }
}

crate::domain::text_enum! {
    /// Where a group is in its life: forming, active, or closed (no new members).
    pub enum GroupStatus {
        Forming => "forming",
        Active => "active",
        Closed => "closed",
    }
}

impl GroupStatus {
    /// The moves a group's status may make; staying put is always allowed.
    pub fn can_become(self, next: GroupStatus) -> bool {
        use GroupStatus::*;
        self == next
            || matches!(
                (self, next),
                (Forming, Active) | (Forming, Closed) | (Active, Closed) | (Closed, Active)
            )
    }
}

crate::domain::text_enum! {
    /// A member's part in a group. A group has at most one chair at a time.
    pub enum MemberRole {
        Chair => "chair",
        CoChair => "co_chair",
        Member => "member",
        Observer => "observer",
        Secretariat => "secretariat",
    }
}

crate::domain::text_enum! {
    /// The orders a group list can come in (`id` breaks ties).
    pub enum GroupSort {
        Name => "name",
        NameDesc => "-name",
        CreatedAt => "created_at",
        UpdatedAt => "updated_at",
    }
}

crate::domain::text_enum! {
    /// Which memberships a member list shows: those still running, those ended, or both.
    pub enum Tenure {
        Current => "current",
        Past => "past",
        All => "all",
    }
}

/// What people edit about a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupProfile {
    pub name: String,
    pub kind: GroupKind,
    pub purpose: Option<String>,
    pub expertise: Vec<String>,
    pub status: GroupStatus,
    pub started_on: Option<NaiveDate>,
    pub ended_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpertGroup {
    pub id: String,
    pub profile: GroupProfile,
    /// Members whose membership has not ended.
    pub current_member_count: i64,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Which groups a list returns; empty means "any".
#[derive(Debug, Clone, Default)]
pub struct GroupFilter {
    pub kinds: Vec<GroupKind>,
    pub statuses: Vec<GroupStatus>,
    pub expertise: Vec<String>,
    /// Part of the name, case-insensitive.
    pub q: Option<String>,
    pub updated_since: Option<NaiveDateTime>,
    pub include_deleted: bool,
}

/// Who a membership (or an invitation, or a response) belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Party {
    Organisation(String),
    Contact(String),
}

impl Party {
    /// The party of a row with an organisation column and a contact column; the
    /// migrations' CHECK guarantees one of them is set.
    pub fn from_columns(
        organisation_id: Option<String>,
        contact_id: Option<String>,
    ) -> Result<Self, crate::domain::DomainError> {
        match (organisation_id, contact_id) {
            (Some(id), _) => Ok(Self::Organisation(id)),
            (None, Some(id)) => Ok(Self::Contact(id)),
            (None, None) => Err(crate::domain::DomainError::Database(
                diesel::result::Error::DeserializationError(
                    "a row names neither an organisation nor a contact".into(),
                ),
            )),
        }
    }

    pub fn organisation_id(&self) -> Option<&str> {
        match self {
            Self::Organisation(id) => Some(id),
            Self::Contact(_) => None,
        }
    }

    pub fn contact_id(&self) -> Option<&str> {
        match self {
            Self::Contact(id) => Some(id),
            Self::Organisation(_) => None,
        }
    }
}

/// One membership of one organisation or contact in one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    pub id: String,
    pub group_id: String,
    pub party: Party,
    pub fields: MemberFields,
}

/// The parts of a membership people set; leaving is setting `left_on`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberFields {
    pub role: MemberRole,
    pub joined_on: NaiveDate,
    pub left_on: Option<NaiveDate>,
}

impl MemberFields {
    /// Begun and not ended as of `today` (a leaving date still ahead counts as current; a
    /// joining date still ahead does not yet).
    pub fn is_current(&self, today: NaiveDate) -> bool {
        self.joined_on <= today && self.left_on.is_none_or(|left| left >= today)
    }
}

/// Whether two seats `[joined_on, left_on]` share a day: both days included (`left_on` is the
/// last day, as `is_current` counts it), `None` never ending. The one definition of
/// overlapping seats: the store, the migrations' trigger and merges all follow it.
pub fn spans_overlap(
    (a_joined, a_left): (NaiveDate, Option<NaiveDate>),
    (b_joined, b_left): (NaiveDate, Option<NaiveDate>),
) -> bool {
    a_joined <= b_left.unwrap_or(NaiveDate::MAX) && b_joined <= a_left.unwrap_or(NaiveDate::MAX)
}

/// A membership with the group it is in, for "which groups is this organisation in?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub member: GroupMember,
    pub group_name: String,
    pub group_kind: GroupKind,
    pub group_status: GroupStatus,
}

#[cfg(test)]
mod tests {
    use super::spans_overlap;
    use chrono::NaiveDate;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn seats_overlap_when_they_share_a_day_whatever_their_ends() {
        let seat = |joined: &str, left: Option<&str>| (day(joined), left.map(day));
        let chair = seat("2024-01-01", Some("2024-06-30"));
        assert!(
            spans_overlap(chair, seat("2024-06-30", None)),
            "the last day is held"
        );
        assert!(!spans_overlap(chair, seat("2024-07-01", None)));
        assert!(spans_overlap(chair, seat("2023-01-01", Some("2024-01-01"))));
        assert!(!spans_overlap(
            chair,
            seat("2023-01-01", Some("2023-12-31"))
        ));
        assert!(
            spans_overlap(chair, seat("2024-03-01", Some("2024-03-02"))),
            "inside"
        );
        assert!(spans_overlap(
            seat("2024-01-01", None),
            seat("2030-01-01", None)
        ));
        assert!(!spans_overlap(seat("2030-01-01", None), chair));
    }
}
