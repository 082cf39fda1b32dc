//! Consultations: how the alliance gathers its members' evidence and views (consultations,
//! calls for evidence, roundtables and events, surveys, responses to government), who was
//! invited, who responded, and who attended.

pub mod store;

use chrono::{NaiveDate, NaiveDateTime};

pub use crate::domain::expert_groups::Party;

crate::domain::text_enum! {
    /// What sort of consultation it is.
    pub enum ConsultationKind {
        MemberConsultation => "member_consultation",
        CallForEvidence => "call_for_evidence",
        Roundtable => "roundtable",
        Event => "event",
        Survey => "survey",
        GovernmentResponse => "government_response",
    }
}

crate::domain::text_enum! {
    /// draft → open → closed → published; a closed consultation may reopen.
    pub enum ConsultationStatus {
        Draft => "draft",
        Open => "open",
        Closed => "closed",
        Published => "published",
    }
}

impl ConsultationStatus {
    /// The moves a consultation's status may make; staying put is always allowed.
    pub fn can_become(self, next: ConsultationStatus) -> bool {
        use ConsultationStatus::*;
        self == next
            || matches!(
                (self, next),
                (Draft, Open) | (Open, Closed) | (Closed, Open) | (Closed, Published)
            )
    }
}

crate::domain::text_enum! {
    /// Whether a response may be quoted with the respondent's name.
    pub enum Attribution {
        Named => "named",
        Anonymous => "anonymous",
    }
}

crate::domain::text_enum! {
    /// The orders a consultation list can come in (`id` breaks ties). Consultations
    /// without `opens_on` sort as if they opened after every dated one.
    pub enum ConsultationSort {
        Title => "title",
        TitleDesc => "-title",
        OpensOn => "opens_on",
        OpensOnDesc => "-opens_on",
        CreatedAt => "created_at",
        UpdatedAt => "updated_at",
    }
}

/// What people edit about a consultation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsultationProfile {
    pub title: String,
    pub kind: ConsultationKind,
    pub summary: Option<String>,
    pub expertise: Vec<String>,
    pub lead_group_id: Option<String>,
    pub opens_on: Option<NaiveDate>,
    pub closes_on: Option<NaiveDate>,
    pub status: ConsultationStatus,
    pub external_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consultation {
    pub id: String,
    pub profile: ConsultationProfile,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Which consultations a list returns; empty means "any".
#[derive(Debug, Clone, Default)]
pub struct ConsultationFilter {
    pub kinds: Vec<ConsultationKind>,
    pub statuses: Vec<ConsultationStatus>,
    pub expertise: Vec<String>,
    pub lead_groups: Vec<String>,
    /// Part of the title, case-insensitive.
    pub q: Option<String>,
    pub updated_since: Option<NaiveDateTime>,
    pub include_deleted: bool,
}

/// One invitee of one consultation, with whether they answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: String,
    pub consultation_id: String,
    pub party: Party,
    /// The expert group whose whole membership was invited, when it came that way.
    pub via_group_id: Option<String>,
    pub invited_at: NaiveDateTime,
    /// The invitee's response, when there is one: (attribution, attended).
    pub response: Option<(Attribution, Option<bool>)>,
}

/// A response: from an organisation (optionally naming the contact who wrote it), or from
/// a contact in their own right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub id: String,
    pub consultation_id: String,
    pub organisation_id: Option<String>,
    pub contact_id: Option<String>,
    pub fields: ResponseFields,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The parts of a response people set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseFields {
    pub summary: Option<String>,
    pub attribution: Attribution,
    pub attended: Option<bool>,
    pub submitted_at: NaiveDateTime,
}

/// The invitees whose answer a caller who may not see anonymous responses cannot see
/// (invited, without a named response), by kind: for such a caller, the candidates an
/// anonymous response could have come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HiddenInvitees {
    pub organisations: i64,
    pub contacts: i64,
}

/// Whether a caller may learn of a consultation's anonymous responses: that they exist, how
/// many there are, of which kind, and the figures that count them (responded, attended, the
/// response rates). Staff and admins always may. Anyone else only while every anonymous
/// respondent hides among at least `threshold` candidates of its kind (the figures tell an
/// organisation's response from a person's), or among none, when every invitee of that kind
/// answered by name and an anonymous answer can only come from someone not invited.
///
/// The rule reads only what such a caller can already see (the invitations, and which of
/// them answered by name), never the anonymous responses themselves: otherwise a withheld
/// figure would tell that there is something to hide.
pub fn anonymous_responses_disclosed(
    sees_anonymous: bool,
    hidden: HiddenInvitees,
    threshold: i64,
) -> bool {
    sees_anonymous
        || [hidden.organisations, hidden.contacts]
            .into_iter()
            .all(|candidates| candidates == 0 || candidates >= threshold)
}

/// Who was invited and who answered, in figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Participation {
    pub invited_organisations: i64,
    pub invited_contacts: i64,
    pub responded_organisations: i64,
    pub responded_contacts: i64,
    pub anonymous_responses: i64,
    /// Invitees who responded (the response rate's numerator).
    pub invitees_responded: i64,
    pub invited_organisations_responded: i64,
    pub attended: i64,
    pub hidden: HiddenInvitees,
}

/// One line of an organisation's consultation history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub consultation_id: String,
    pub title: String,
    pub kind: ConsultationKind,
    pub status: ConsultationStatus,
    pub opens_on: Option<NaiveDate>,
    pub closes_on: Option<NaiveDate>,
    pub invited_at: Option<NaiveDateTime>,
    pub via_group_id: Option<String>,
    pub response: Option<(Attribution, Option<bool>, NaiveDateTime)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hidden(organisations: i64, contacts: i64) -> HiddenInvitees {
        HiddenInvitees {
            organisations,
            contacts,
        }
    }

    #[test]
    fn anonymous_responses_are_disclosed_only_among_enough_candidates_of_each_kind() {
        assert!(
            anonymous_responses_disclosed(true, hidden(1, 1), 5),
            "staff see all"
        );
        assert!(anonymous_responses_disclosed(false, hidden(0, 0), 5));
        assert!(anonymous_responses_disclosed(false, hidden(5, 0), 5));
        assert!(anonymous_responses_disclosed(false, hidden(0, 9), 5));
        assert!(anonymous_responses_disclosed(false, hidden(5, 5), 5));
        assert!(!anonymous_responses_disclosed(false, hidden(1, 0), 5));
        assert!(!anonymous_responses_disclosed(false, hidden(4, 20), 5));
        assert!(!anonymous_responses_disclosed(false, hidden(20, 4), 5));
        assert!(anonymous_responses_disclosed(false, hidden(2, 0), 2));
    }
}
