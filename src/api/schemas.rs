//! OpenAPI schemas that derive macros cannot express (code lists from the taxonomy defaults)
//! and the wire format of timestamps.

use chrono::{NaiveDateTime, SecondsFormat};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};

use crate::domain::organisations::Region;
use crate::domain::taxonomies::{DEFAULT_COMMUNITIES, DEFAULT_EXPERTISE_AREAS};

/// Timestamps go out as RFC 3339 in UTC with microseconds: `2026-11-22T10:15:00.000000Z`.
pub fn timestamp(at: NaiveDateTime) -> String {
    at.and_utc().to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub fn default_community_codes() -> Vec<&'static str> {
    DEFAULT_COMMUNITIES
        .iter()
        .map(|c| c.code.as_str())
        .collect()
}

pub fn default_expertise_codes() -> Vec<&'static str> {
    DEFAULT_EXPERTISE_AREAS
        .iter()
        .map(|e| e.code.as_str())
        .collect()
}

/// A set of regions.
pub fn regions() -> RefOr<Schema> {
    code_set(
        Region::ALL.iter().map(|r| r.as_str()).collect(),
        "English ITL1 regions and Wales",
    )
}

fn code_set(codes: Vec<&'static str>, description: &str) -> RefOr<Schema> {
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(codes)),
        )
        .unique_items(true)
        .description(Some(description))
        .build()
        .into()
}

/// A set of DEI Data Standard community codes (with the alliance's EXT codes).
pub fn community_codes() -> RefOr<Schema> {
    code_set(
        default_community_codes(),
        "Community codes (DEI Data Standard, plus EXT codes for care-experienced people and lived experience of the justice system)",
    )
}

/// A set of expertise area codes.
pub fn expertise_codes() -> RefOr<Schema> {
    code_set(default_expertise_codes(), "Expertise area codes")
}
