//! Organisations: the alliance's members, prospects and former members, with the profile
//! fields that diversity reporting counts (kind, size, geography, expertise, communities).

pub mod duplicates;
pub mod merge;
mod store;

pub use store::{
    OrganisationFilter, OrganisationSort, Page, Position, REPORT_CODE_ANY, ReportCodeRow,
    StatusFilter, code_errors, count, create, ever_existed, find, find_many, list, lock_live,
    lock_many, number_clash, report_code_rows, soft_delete, update, write_imported,
};

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

pub use crate::domain::VersionCheck;

crate::domain::text_enum! {
    /// What sort of body the organisation is.
    pub enum OrganisationKind {
        NationalCharity => "national_charity",
        LocalCharity => "local_charity",
        GrassrootsGroup => "grassroots_group",
        Academic => "academic",
        StatutoryBody => "statutory_body",
        ProfessionalBody => "professional_body",
        SocialEnterprise => "social_enterprise",
        Other => "other",
    }
}

crate::domain::text_enum! {
    /// Annual income band (NCVO): micro < £10k, small < £100k, medium < £1m, large < £10m,
    /// major < £100m, super_major above.
    pub enum SizeBand {
        Micro => "micro",
        Small => "small",
        Medium => "medium",
        Large => "large",
        Major => "major",
        SuperMajor => "super_major",
    }
}

crate::domain::text_enum! {
    /// How far the organisation's work reaches.
    pub enum GeographyScope {
        Local => "local",
        Regional => "regional",
        National => "national",
    }
}

crate::domain::text_enum! {
    /// The nine English ITL1 regions and Wales.
    pub enum Region {
        NorthEast => "north_east",
        NorthWest => "north_west",
        YorkshireHumber => "yorkshire_humber",
        EastMidlands => "east_midlands",
        WestMidlands => "west_midlands",
        East => "east",
        London => "london",
        SouthEast => "south_east",
        SouthWest => "south_west",
        Wales => "wales",
    }
}

crate::domain::text_enum! {
    /// Whether the organisation told us about a community area. "Did not answer" and
    /// "prefer not to say" are different facts from "none of these" (answered, no codes).
    pub enum ReplyStatus {
        NotAsked => "not_asked",
        Answered => "answered",
        PreferNotToSay => "prefer_not_to_say",
    }
}

crate::domain::text_enum! {
    /// The two DEI Data Standard application areas recorded for an organisation.
    pub enum CommunityArea {
        Leadership => "leadership",
        Mission => "mission",
    }
}

/// Communities in one area ("led by" or "for"), with whether the organisation answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommunityReply {
    pub reply_status: ReplyStatus,
    /// Community codes; only an `answered` reply carries codes.
    pub communities: Vec<String>,
}

impl Default for CommunityReply {
    fn default() -> Self {
        Self {
            reply_status: ReplyStatus::NotAsked,
            communities: Vec::new(),
        }
    }
}

/// Everything about an organisation that people edit; checked before it reaches the store.
#[derive(Debug, Clone, PartialEq)]
pub struct OrganisationProfile {
    pub name: String,
    pub kind: OrganisationKind,
    pub size_band: Option<SizeBand>,
    pub charity_number: Option<String>,
    pub company_number: Option<String>,
    pub website: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub postcode: Option<String>,
    pub description: Option<String>,
    pub geography_scope: Option<GeographyScope>,
    pub regions: Vec<Region>,
    pub expertise: Vec<String>,
    pub leadership: CommunityReply,
    pub mission: CommunityReply,
    pub lived_experience_led: Option<bool>,
}

impl OrganisationProfile {
    /// The profile with its sets in the order a read gives them (regions in their list's
    /// order, codes sorted): what the store gives back for what was written.
    pub fn in_read_order(mut self) -> Self {
        self.regions.sort();
        self.expertise.sort();
        self.leadership.communities.sort();
        self.mission.communities.sort();
        self
    }
}

/// A stored organisation.
#[derive(Debug, Clone, PartialEq)]
pub struct Organisation {
    pub id: String,
    pub profile: OrganisationProfile,
    /// Bumped by every change; the ETag clients send back in `If-Match`.
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub deleted_at: Option<NaiveDateTime>,
    /// `None` for an organisation that never applied (a prospect).
    pub membership: Option<crate::domain::membership::Membership>,
}

/// The lower-cased form of a name that search and sorting use on both backends.
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
}
