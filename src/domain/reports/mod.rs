//! Diversity-gap reporting: who the active members are (composition), whom the alliance
//! misses (gaps against benchmark sets and targets) and where expertise is thin (coverage).
//! Every figure is counted by SQL aggregation; nothing loads the members themselves.

pub mod benchmarks;
pub mod composition;
pub mod disclosure;
pub mod gaps;
pub mod participation;
pub mod snapshots;
pub mod targets;

use chrono::NaiveDate;

use disclosure::{Cell, share};

crate::domain::text_enum! {
    /// What a composition is broken down by.
    pub enum Dimension {
        Leadership => "leadership",
        Mission => "mission",
        Kind => "kind",
        SizeBand => "size_band",
        Region => "region",
        Expertise => "expertise",
        LivedExperienceLed => "lived_experience_led",
    }
}

/// Row codes that are not values of the dimension itself.
pub const ANSWERED_NONE: &str = "answered_none";
pub const NOT_ASKED: &str = "not_asked";
pub const PREFER_NOT_TO_SAY: &str = "prefer_not_to_say";
pub const UNKNOWN: &str = "unknown";
pub const NONE: &str = "none";

/// One line of a composition: how many active members have `code`.
#[derive(Debug, Clone, PartialEq)]
pub struct CompositionRow {
    pub code: String,
    pub label: String,
    pub parent_code: Option<String>,
    /// Shown exactly, or (published under `disclosure=public`) rounded or suppressed.
    pub members: Cell,
    /// Whether the row is among those who answered (so it has a share of them); false for
    /// `not_asked`, `prefer_not_to_say` and `unknown`.
    pub answered: bool,
}

/// One dimension of a composition, with both denominators.
#[derive(Debug, Clone, PartialEq)]
pub struct DimensionComposition {
    pub dimension: Dimension,
    /// All active members.
    pub members: Cell,
    /// Active members who gave an answer in this dimension.
    pub answered: Cell,
    pub rows: Vec<CompositionRow>,
}

impl DimensionComposition {
    pub fn row(&self, code: &str) -> Option<&CompositionRow> {
        self.rows.iter().find(|row| row.code == code)
    }

    pub fn share_of_members(&self, row: &CompositionRow) -> Option<f64> {
        share(row.members, self.members)
    }

    pub fn share_of_answered(&self, row: &CompositionRow) -> Option<f64> {
        if row.answered {
            share(row.members, self.answered)
        } else {
            None
        }
    }

    /// Whether the rows add up to `members` (each organisation in exactly one row), so that
    /// one suppressed row could be worked out from the others.
    pub fn rows_partition_members(&self) -> bool {
        matches!(
            self.dimension,
            Dimension::Kind | Dimension::SizeBand | Dimension::LivedExperienceLed
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Composition {
    pub as_of: NaiveDate,
    pub active_members: Cell,
    pub dimensions: Vec<DimensionComposition>,
}

impl Composition {
    pub fn dimension(&self, dimension: Dimension) -> Option<&DimensionComposition> {
        self.dimensions.iter().find(|d| d.dimension == dimension)
    }
}

/// `part` of `whole` as a percentage to one decimal place; `None` when `whole` is zero.
pub fn percent(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| round(part as f64 * 100.0 / whole as f64, 1))
}

/// `value` rounded to `places` decimal places.
pub fn round(value: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (value * scale).round() / scale
}
