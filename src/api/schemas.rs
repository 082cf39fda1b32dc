//! OpenAPI schemas that derive macros cannot express (code lists from the taxonomy defaults)
//! and the wire format of timestamps.

use chrono::{NaiveDateTime, SecondsFormat};
use std::borrow::Cow;

use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::api::validation as rules;
use crate::domain::api_keys::Scope;
use crate::domain::organisations::{GeographyScope, OrganisationKind, Region, SizeBand};
use crate::domain::{Gone, Listed};

/// Timestamps go out as RFC 3339 in UTC with microseconds: `2026-11-22T10:15:00.000000Z`.
pub fn timestamp(at: NaiveDateTime) -> String {
    at.and_utc().to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// What is left of a deleted record in a sync list: its id, so integrations can remove
/// their copy.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Tombstone {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = DateTime)]
    pub deleted_at: String,
}

impl From<Gone> for Tombstone {
    fn from(gone: Gone) -> Self {
        Self {
            id: gone.id,
            deleted_at: timestamp(gone.deleted_at),
        }
    }
}

/// An entry of a sync list: a record as the API shows it, or the tombstone `D` of a deleted
/// one. Every resource's `…ListEntry` schema is this type, named by `Listable`.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(untagged)]
pub enum ListEntry<T, D = Tombstone> {
    Live(Box<T>),
    Deleted(D),
}

impl<T, D: From<Gone>> ListEntry<T, D> {
    /// The entry for `listed`, a live record shown with `show`.
    pub fn new<R>(listed: Listed<R>, show: impl FnOnce(R) -> T) -> Self {
        match listed {
            Listed::Live(record) => Self::Live(Box::new(show(*record))),
            Listed::Deleted(gone) => Self::Deleted(gone.into()),
        }
    }
}

/// A record schema that sync lists show beside tombstones: the name (and description) its
/// list entry has in the OpenAPI document.
pub trait Listable: ToSchema {
    const ENTRY: &'static str;
    const ENTRY_DESCRIPTION: Option<&'static str> = None;
}

impl<T: Listable, D: ToSchema> PartialSchema for ListEntry<T, D> {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(Ref::from_schema_name(T::name()))
            .item(Ref::from_schema_name(D::name()))
            .description(T::ENTRY_DESCRIPTION)
            .into()
    }
}

impl<T: Listable, D: ToSchema> ToSchema for ListEntry<T, D> {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed(T::ENTRY)
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((T::name().into_owned(), T::schema()));
        T::schemas(schemas);
        schemas.push((D::name().into_owned(), D::schema()));
        D::schemas(schemas);
    }
}

/// `deleted_at` of a live record: always null, so that a list entry that is a record or a
/// tombstone (whose `deleted_at` is a time) tells which it is by this field alone.
pub fn live_deleted_at() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Null)
        .description(Some(
            "Always null for a live record (tombstones, with a time here, have their own shape).",
        ))
        .build()
        .into()
}

/// Most community codes one area can carry.
pub const MAX_COMMUNITIES: usize = 50;
/// Most expertise areas one organisation can carry.
pub const MAX_EXPERTISE: usize = 50;

/// A set of values of a text enum, all of which may be given at once.
pub fn enum_set(values: &[&'static str], description: &str) -> RefOr<Schema> {
    code_set(values.to_vec(), values.len(), description)
}

/// Query filters over text enums: each a set of distinct values (repeat the parameter).
macro_rules! enum_set_schema {
    ($($name:ident: $enum:ty => $description:literal,)+) => {$(
        #[doc = concat!("Query filter: ", $description, ".")]
        pub fn $name() -> RefOr<Schema> {
            let all: Vec<_> = <$enum>::ALL.iter().map(|v| v.as_str()).collect();
            enum_set(&all, $description)
        }
    )+};
}

enum_set_schema! {
    group_kinds: crate::domain::expert_groups::GroupKind => "Expert group kinds",
    group_statuses: crate::domain::expert_groups::GroupStatus => "Expert group statuses",
    consultation_kinds: crate::domain::consultations::ConsultationKind => "Consultation kinds",
    consultation_statuses: crate::domain::consultations::ConsultationStatus => "Consultation statuses",
    dimensions: crate::domain::reports::Dimension => "Report dimensions",
}

/// Query filter: the kinds of record audit events are about.
pub fn entity_types() -> RefOr<Schema> {
    enum_set(crate::domain::audit::entity::ALL, "Kinds of record")
}

/// The dates of a composition trend: 1 to 12 distinct days.
pub fn trend_dates() -> RefOr<Schema> {
    ArrayBuilder::new()
        .items(ObjectBuilder::new().schema_type(Type::String).format(Some(
            utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Date),
        )))
        .unique_items(true)
        .min_items(Some(1))
        .max_items(Some(12))
        .description(Some("Distinct dates (YYYY-MM-DD), 1 to 12"))
        .build()
        .into()
}

/// The community areas a gaps report compares benchmark shares in.
pub fn community_areas() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["leadership", "mission"]))
        .description(Some("The community area (default leadership)"))
        .build()
        .into()
}

/// Query filter: organisation kinds.
pub fn kinds() -> RefOr<Schema> {
    let all: Vec<_> = OrganisationKind::ALL.iter().map(|v| v.as_str()).collect();
    enum_set(&all, "Organisation kinds")
}

/// Query filter: income bands.
pub fn size_bands() -> RefOr<Schema> {
    let all: Vec<_> = SizeBand::ALL.iter().map(|v| v.as_str()).collect();
    enum_set(&all, "Income bands (NCVO)")
}

/// Query filter: geographic scopes.
pub fn geography_scopes() -> RefOr<Schema> {
    let all: Vec<_> = GeographyScope::ALL.iter().map(|v| v.as_str()).collect();
    enum_set(&all, "Geographic scopes")
}

/// A set of regions.
pub fn regions() -> RefOr<Schema> {
    let all: Vec<_> = Region::ALL.iter().map(|v| v.as_str()).collect();
    enum_set(&all, "English ITL1 regions and Wales")
}

/// API key scopes: at least one, each once.
pub fn scopes() -> RefOr<Schema> {
    let all: Vec<_> = Scope::ALL.iter().map(|v| v.as_str()).collect();
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(all.clone())),
        )
        .unique_items(true)
        .min_items(Some(1))
        .max_items(Some(all.len()))
        .description(Some("What the key may read"))
        .build()
        .into()
}

/// A set of community codes. The codes are managed by admins, so the document gives their
/// shape; `/api/v1/taxonomies/communities` lists them.
pub fn community_codes() -> RefOr<Schema> {
    pattern_set(
        rules::COMMUNITY_CODE,
        MAX_COMMUNITIES,
        "Community codes from GET /api/v1/taxonomies/communities (DEI Data Standard, plus EXT codes for care-experienced people and lived experience of the justice system)",
    )
}

/// A set of expertise area codes, listed at `/api/v1/taxonomies/expertise-areas`.
pub fn expertise_codes() -> RefOr<Schema> {
    pattern_set(
        rules::EXPERTISE_CODE,
        MAX_EXPERTISE,
        "Expertise area codes from GET /api/v1/taxonomies/expertise-areas",
    )
}

/// An array of distinct strings shaped like `pattern`, at most `max_items` of them.
fn pattern_set(pattern: &str, max_items: usize, description: &str) -> RefOr<Schema> {
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(pattern)),
        )
        .unique_items(true)
        .max_items(Some(max_items))
        .description(Some(description))
        .build()
        .into()
}

/// An array of distinct values from `codes`, at most `max_items` of them.
fn code_set(codes: Vec<&'static str>, max_items: usize, description: &str) -> RefOr<Schema> {
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(codes)),
        )
        .unique_items(true)
        .max_items(Some(max_items))
        .description(Some(description))
        .build()
        .into()
}

/// A UUID string: the format, and a pattern for generators that do not know formats.
fn uuid_string() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::Uuid,
        )))
        .pattern(Some(
            "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
        ))
}

/// An object whose keys are `keys` and whose values are ids (a merge's choices).
fn map_to_ids(keys: ObjectBuilder) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(keys))
        .additional_properties(Some(uuid_string()))
        .build()
        .into()
}

/// A merge's choices by record: expert group or consultation id → organisation id.
pub fn ids_to_ids() -> RefOr<Schema> {
    map_to_ids(uuid_string())
}

/// A merge's choices by field: field name → organisation id.
pub fn merge_fields_to_ids() -> RefOr<Schema> {
    let fields: Vec<_> = crate::domain::organisations::merge::MergeField::ALL
        .iter()
        .map(|field| field.as_str())
        .collect();
    map_to_ids(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(fields)),
    )
}
