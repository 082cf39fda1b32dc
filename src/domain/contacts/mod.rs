//! Contacts: the people the alliance works with, their affiliations to organisations (kept
//! as history when people move) and their consent per purpose (kept as history too, so a
//! withdrawal is as easy as a grant and both can be shown later).

pub mod erasure;
pub mod store;

use chrono::{NaiveDate, NaiveDateTime};

text_enum! {
    /// What a contact may be contacted for.
    pub enum Purpose {
        Newsletter => "newsletter",
        PolicyUpdates => "policy_updates",
        Events => "events",
        Research => "research",
    }
}

text_enum! {
    /// The orders a contact list can come in (`id` breaks ties).
    pub enum ContactSort {
        Name => "name",
        UpdatedAt => "updated_at",
    }
}

/// What people edit about a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactProfile {
    pub given_name: String,
    pub family_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub job_title: Option<String>,
    pub pronouns: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Affiliation {
    pub id: String,
    pub organisation_id: String,
    pub role: Option<String>,
    pub is_primary: bool,
    pub start_on: Option<NaiveDate>,
    pub end_on: Option<NaiveDate>,
}

impl Affiliation {
    pub fn is_current(&self, today: NaiveDate) -> bool {
        self.end_on.is_none_or(|end| end >= today)
    }
}

/// The fields of an affiliation people set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AffiliationFields {
    pub role: Option<String>,
    pub is_primary: bool,
    pub start_on: Option<NaiveDate>,
    pub end_on: Option<NaiveDate>,
}

/// One grant or withdrawal of consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    pub purpose: Purpose,
    pub granted: bool,
    /// How it was obtained ("signed up on the website", "asked at the roundtable").
    pub source: String,
    pub recorded_at: NaiveDateTime,
    pub recorded_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub id: String,
    pub profile: ContactProfile,
    pub affiliations: Vec<Affiliation>,
    /// The consent in force per purpose (purposes never asked are absent).
    pub consents: Vec<ConsentRecord>,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Which contacts a list returns; empty means "any".
#[derive(Debug, Clone, Default)]
pub struct ContactFilter {
    /// Contacts currently affiliated with one of these organisations.
    pub organisations: Vec<String>,
    /// Contacts who currently consent to every one of these purposes (for mailing lists).
    pub consents: Vec<Purpose>,
    /// Part of the name or email, case-insensitive.
    pub q: Option<String>,
    pub updated_since: Option<NaiveDateTime>,
    pub include_deleted: bool,
    /// The day "currently affiliated" is judged on.
    pub today: Option<NaiveDate>,
}

/// The lower-cased "family given" that sorting and search use.
pub fn name_key(profile: &ContactProfile) -> String {
    format!("{} {}", profile.family_name, profile.given_name).to_lowercase()
}

/// What two emails are compared on: the local part lower-cased and the domain in its ASCII
/// (IDNA) form, so `Ana@Bücher.example` and `ana@xn--bcher-kva.example` are one address. The
/// address itself is kept as the person wrote it.
pub fn email_match_key(email: &str) -> String {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return email.to_lowercase();
    };
    let domain = idna::domain_to_ascii_cow(domain.as_bytes(), idna::AsciiDenyList::EMPTY)
        .map(|ascii| ascii.into_owned())
        // A domain IDNA refuses is compared as written (validation has passed it).
        .unwrap_or_else(|_| domain.to_lowercase());
    format!("{}@{domain}", local.to_lowercase())
}
