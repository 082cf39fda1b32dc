//! `/api/v1/organisations`: create, read, list (JSON or CSV), update (JSON Merge Patch) and
//! soft-delete organisations. The rules live in `domain::organisations`; this file maps HTTP
//! to them and back.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type,
};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::{Validate, ValidationError, ValidationErrors};

use crate::api::audited;
use crate::api::body::{JsonBody, field_errors, nullable, present};
use crate::api::conditional::{created_tagged, tagged, tagged_unless_current, version_check};
use crate::api::csv;
use crate::api::list::{
    Cursor, FromQuery, QueryParams, negotiate, query_params, sync_by_changes_only,
};
use crate::api::membership::{MembershipSummary, MembershipView};
use crate::api::paging::{self, CsvForm, Keyset, Listing};
use crate::api::path_id;
use crate::api::schemas::{
    ListEntry, Listable, MAX_COMMUNITIES, MAX_EXPERTISE, community_codes, expertise_codes,
    geography_scopes, kinds, live_deleted_at, regions, size_bands, timestamp,
};
use crate::api::validation::{self as rules, unique_items};
use crate::domain::audit::{self, entity};
use crate::domain::membership::{GraceWindow, MembershipStatus};
use crate::domain::organisations::{
    self as store, CommunityReply, GeographyScope, Organisation, OrganisationFilter,
    OrganisationKind, OrganisationProfile, OrganisationSort, Position, Region, ReplyStatus,
    SizeBand, StatusFilter,
};
use crate::domain::{DomainError, FieldError, Gone, Listed};
use crate::error::ApiError;
use crate::state::AppState;

const TAG: &str = "organisations";

/// A community area as sent: a reply status and, for an `answered` reply, the codes.
/// Only an `answered` reply carries codes; an answered reply with no codes means "none of
/// these". In a PATCH, leaving `communities` out keeps the stored codes when the reply stays
/// `answered`, and clears them otherwise.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommunityReplyInput {
    pub reply_status: ReplyStatus,
    #[serde(default)]
    pub communities: Option<Vec<String>>,
}

/// The rule "only an answered reply carries codes", stated in the schema as two shapes.
impl utoipa::PartialSchema for CommunityReplyInput {
    fn schema() -> RefOr<Schema> {
        let shape = |statuses: &[&'static str], communities: RefOr<Schema>| {
            ObjectBuilder::new()
                .property(
                    "reply_status",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(statuses.to_vec())),
                )
                .required("reply_status")
                .property("communities", communities)
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        };
        let no_codes = ArrayBuilder::new()
            .items(ObjectBuilder::new().schema_type(Type::String))
            .max_items(Some(0))
            .build()
            .into();
        OneOfBuilder::new()
            .item(shape(&["answered"], community_codes()))
            .item(shape(&["not_asked", "prefer_not_to_say"], no_codes))
            .description(Some(
                "A reply status and, for an `answered` reply only, community codes (an answered reply with no codes means \"none of these\"). In a PATCH, leaving `communities` out keeps the stored codes when the reply stays `answered`.",
            ))
            .into()
    }
}

impl ToSchema for CommunityReplyInput {}

impl Validate for CommunityReplyInput {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let codes = self.communities.as_deref().unwrap_or_default();
        if self.reply_status != ReplyStatus::Answered && !codes.is_empty() {
            errors.add(
                "communities",
                ValidationError::new("not_answered")
                    .with_message("only an answered reply can carry community codes".into()),
            );
        }
        if codes.len() > MAX_COMMUNITIES {
            errors.add(
                "communities",
                ValidationError::new("length")
                    .with_message(format!("at most {MAX_COMMUNITIES} codes").into()),
            );
        }
        if let Err(error) = unique_items(codes) {
            errors.add("communities", error);
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

impl CommunityReplyInput {
    fn into_reply(self, current: Option<&CommunityReply>) -> CommunityReply {
        let communities = match (self.communities, self.reply_status) {
            (Some(codes), _) => codes,
            (None, ReplyStatus::Answered) => current
                .filter(|reply| reply.reply_status == ReplyStatus::Answered)
                .map(|reply| reply.communities.clone())
                .unwrap_or_default(),
            (None, _) => Vec::new(),
        };
        CommunityReply {
            reply_status: self.reply_status,
            communities,
        }
    }
}

impl From<&CommunityReply> for CommunityReplyInput {
    fn from(reply: &CommunityReply) -> Self {
        Self {
            reply_status: reply.reply_status,
            communities: Some(reply.communities.clone()),
        }
    }
}

fn not_asked() -> CommunityReplyInput {
    CommunityReplyInput {
        reply_status: ReplyStatus::NotAsked,
        communities: None,
    }
}

const _: () = assert!(MAX_EXPERTISE == 50);

/// A new organisation. Only `name` and `kind` are required.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganisationRequest {
    // Required fields are `Option` so that a body missing them still reads, and the client
    // hears about every other bad field in the same answer (see `api::body`).
    #[validate(required(message = "is required"), length(max = 200), regex(path = *rules::SINGLE_LINE_RE, message = "must be one line of text without leading or trailing spaces"))]
    #[schema(
        value_type = String,
        required = true,
        max_length = 200,
        pattern = "SINGLE_LINE",
        example = "Northside Peer Voices"
    )]
    pub name: Option<String>,
    #[validate(required(message = "is required"))]
    #[schema(value_type = OrganisationKind, required = true)]
    pub kind: Option<OrganisationKind>,
    #[serde(default)]
    pub size_band: Option<SizeBand>,
    /// Charity Commission (England and Wales) register number.
    #[serde(default)]
    #[validate(regex(path = *rules::CHARITY_NUMBER_RE, message = "must be a register number of 6 or 7 digits, optionally with a -N suffix"))]
    #[schema(pattern = "CHARITY_NUMBER", example = "1161226")]
    pub charity_number: Option<String>,
    /// Companies House number.
    #[serde(default)]
    #[validate(regex(path = *rules::COMPANY_NUMBER_RE, message = "must be 8 digits, or 2 capital letters and 6 digits"))]
    #[schema(pattern = "COMPANY_NUMBER", example = "09876543")]
    pub company_number: Option<String>,
    #[serde(default)]
    #[validate(length(max = 300), regex(path = *rules::WEBSITE_RE, message = "must be an http or https address"))]
    #[schema(
        max_length = 300,
        pattern = "WEBSITE",
        example = "https://northside.example.org"
    )]
    pub website: Option<String>,
    #[serde(default)]
    #[validate(length(max = 254), email(message = "must be an email address"))]
    #[schema(max_length = 254, format = Email, example = "hello@northside.example.org")]
    pub email: Option<String>,
    #[serde(default)]
    #[validate(regex(path = *rules::PHONE_RE, message = "must be a telephone number"))]
    #[schema(pattern = "PHONE", example = "0161 496 0000")]
    pub phone: Option<String>,
    /// A UK postcode; stored upper-case with a single space.
    #[serde(default)]
    #[validate(regex(path = *rules::POSTCODE_RE, message = "must be a UK postcode"))]
    #[schema(pattern = "POSTCODE", example = "M1 1AE")]
    pub postcode: Option<String>,
    #[serde(default)]
    #[validate(length(max = 5000), regex(path = *rules::MULTI_LINE_RE, message = "must not contain control characters"))]
    #[schema(max_length = 5000, pattern = "MULTI_LINE")]
    pub description: Option<String>,
    #[serde(default)]
    pub geography_scope: Option<GeographyScope>,
    #[serde(default)]
    #[validate(custom(function = unique_items))]
    #[schema(schema_with = regions)]
    pub regions: Vec<Region>,
    /// Expertise area codes.
    #[serde(default)]
    // `length` takes a literal: the assertion below keeps it equal to the documented maximum.
    #[validate(length(max = 50, message = "at most 50 expertise areas"), custom(function = unique_items))]
    #[schema(schema_with = expertise_codes)]
    pub expertise: Vec<String>,
    /// Communities that make up most of the leadership ("led by").
    #[serde(default = "not_asked")]
    #[validate(nested)]
    pub leadership: CommunityReplyInput,
    /// Communities the organisation exists to serve ("for").
    #[serde(default = "not_asked")]
    #[validate(nested)]
    pub mission: CommunityReplyInput,
    /// Whether most of the leadership has lived experience of the justice or care systems;
    /// null when unknown.
    #[serde(default)]
    pub lived_experience_led: Option<bool>,
}

impl CreateOrganisationRequest {
    /// The profile this request describes; call after `validate`, which requires `name` and
    /// `kind` (checked again here so the type needs no unwrap).
    pub(crate) fn into_profile(
        self,
        current: Option<&OrganisationProfile>,
    ) -> Result<OrganisationProfile, DomainError> {
        let (Some(name), Some(kind)) = (self.name, self.kind) else {
            return Err(DomainError::Invalid(vec![FieldError::new(
                "name",
                "required",
                "name and kind are required",
            )]));
        };
        Ok(OrganisationProfile {
            name,
            kind,
            size_band: self.size_band,
            charity_number: self.charity_number,
            company_number: self.company_number,
            website: self.website,
            email: self.email,
            phone: self.phone,
            postcode: self.postcode.as_deref().map(rules::normalise_postcode),
            description: self.description,
            geography_scope: self.geography_scope,
            regions: self.regions,
            expertise: self.expertise,
            leadership: self.leadership.into_reply(current.map(|c| &c.leadership)),
            mission: self.mission.into_reply(current.map(|c| &c.mission)),
            lived_experience_led: self.lived_experience_led,
        })
    }
}

impl From<&OrganisationProfile> for CreateOrganisationRequest {
    fn from(profile: &OrganisationProfile) -> Self {
        Self {
            name: Some(profile.name.clone()),
            kind: Some(profile.kind),
            size_band: profile.size_band,
            charity_number: profile.charity_number.clone(),
            company_number: profile.company_number.clone(),
            website: profile.website.clone(),
            email: profile.email.clone(),
            phone: profile.phone.clone(),
            postcode: profile.postcode.clone(),
            description: profile.description.clone(),
            geography_scope: profile.geography_scope,
            regions: profile.regions.clone(),
            expertise: profile.expertise.clone(),
            leadership: (&profile.leadership).into(),
            mission: (&profile.mission).into(),
            lived_experience_led: profile.lived_experience_led,
        }
    }
}

/// A JSON Merge Patch (RFC 7396): fields left out keep their value, `null` clears an optional
/// field. The patched organisation must pass the same rules as a new one.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganisationRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, max_length = 200, pattern = "SINGLE_LINE")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub kind: Option<OrganisationKind>,
    #[serde(default, deserialize_with = "nullable")]
    pub size_band: Option<Option<SizeBand>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(pattern = "CHARITY_NUMBER")]
    pub charity_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(pattern = "COMPANY_NUMBER")]
    pub company_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(max_length = 300, pattern = "WEBSITE")]
    pub website: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(max_length = 254, format = Email)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(pattern = "PHONE")]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(pattern = "POSTCODE")]
    pub postcode: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(max_length = 5000, pattern = "MULTI_LINE")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub geography_scope: Option<Option<GeographyScope>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = regions)]
    pub regions: Option<Vec<Region>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = expertise_codes)]
    pub expertise: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub leadership: Option<CommunityReplyInput>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub mission: Option<CommunityReplyInput>,
    #[serde(default, deserialize_with = "nullable")]
    pub lived_experience_led: Option<Option<bool>>,
}

/// Shape checks happen on the patched whole, in `apply`, so a patch has no rules of its own.
impl Validate for UpdateOrganisationRequest {
    fn validate(&self) -> Result<(), ValidationErrors> {
        Ok(())
    }
}

impl UpdateOrganisationRequest {
    /// The stored organisation with this patch applied, checked like a new one.
    pub(crate) fn apply(
        &self,
        current: &OrganisationProfile,
    ) -> Result<OrganisationProfile, DomainError> {
        let mut next = CreateOrganisationRequest::from(current);
        macro_rules! merge {
            ($($field:ident),+) => {
                $(if let Some(value) = &self.$field { next.$field = value.clone(); })+
            };
        }
        if let Some(name) = &self.name {
            next.name = Some(name.clone());
        }
        if let Some(kind) = self.kind {
            next.kind = Some(kind);
        }
        merge!(
            size_band,
            charity_number,
            company_number,
            website,
            email,
            phone,
            postcode,
            description,
            geography_scope,
            regions,
            expertise,
            leadership,
            mission,
            lived_experience_led
        );
        next.validate()
            .map_err(|errors| DomainError::Invalid(field_errors(&errors)))?;
        next.into_profile(Some(current))
    }
}

/// Communities in one area, as stored.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CommunityReplyResponse {
    pub reply_status: ReplyStatus,
    #[schema(example = json!(["DEI010100", "EXT020000"]))]
    pub communities: Vec<String>,
}

impl From<CommunityReply> for CommunityReplyResponse {
    fn from(reply: CommunityReply) -> Self {
        Self {
            reply_status: reply.reply_status,
            communities: reply.communities,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrganisationResponse {
    #[schema(format = Uuid, example = "01935c6e-7a40-7cc1-9a5e-3f1d2b8e4a10")]
    pub id: String,
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
    pub leadership: CommunityReplyResponse,
    pub mission: CommunityReplyResponse,
    pub lived_experience_led: Option<bool>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    #[schema(schema_with = live_deleted_at, required = true)]
    pub deleted_at: Option<String>,
    /// Membership on the list's `as_of` date (today for single reads); null for an
    /// organisation that had not applied by then.
    pub membership: Option<MembershipSummary>,
}

impl OrganisationResponse {
    pub fn new(organisation: Organisation, view: MembershipView) -> Self {
        let membership = organisation
            .membership
            .as_ref()
            .and_then(|membership| MembershipSummary::new(membership, view));
        let p = organisation.profile;
        Self {
            membership,
            id: organisation.id,
            name: p.name,
            kind: p.kind,
            size_band: p.size_band,
            charity_number: p.charity_number,
            company_number: p.company_number,
            website: p.website,
            email: p.email,
            phone: p.phone,
            postcode: p.postcode,
            description: p.description,
            geography_scope: p.geography_scope,
            regions: p.regions,
            expertise: p.expertise,
            leadership: p.leadership.into(),
            mission: p.mission.into(),
            lived_experience_led: p.lived_experience_led,
            created_at: timestamp(organisation.created_at),
            updated_at: timestamp(organisation.updated_at),
            deleted_at: organisation.deleted_at.map(timestamp),
        }
    }
}

/// A list entry: an organisation, or a tombstone when `include_deleted=true`.
pub type OrganisationListEntry = ListEntry<OrganisationResponse, OrganisationTombstone>;

impl Listable for OrganisationResponse {
    const ENTRY: &'static str = "OrganisationListEntry";
    const ENTRY_DESCRIPTION: Option<&'static str> =
        Some("A list entry: an organisation, or a tombstone when `include_deleted=true`.");
}

/// What is left of a deleted organisation in a sync list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrganisationTombstone {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = DateTime)]
    pub deleted_at: String,
    /// The organisation it was merged into, when a merge deleted it: move links there.
    /// Absent for an organisation deleted on its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Uuid)]
    pub merged_into: Option<String>,
}

impl From<Gone> for OrganisationTombstone {
    fn from(gone: Gone) -> Self {
        Self {
            id: gone.id,
            deleted_at: timestamp(gone.deleted_at),
            merged_into: gone.merged_into,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganisationList {
    pub data: Vec<OrganisationListEntry>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
    /// How many organisations match the filters, with `include_total=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
}

query_params! {
    /// Filters and order for `GET /organisations`. Repeat a parameter for OR within a field;
    /// different fields combine with AND.
    pub struct OrganisationListParams {
        /// Most entries per page (1 to 500). Ignored by CSV, which streams every match.
        #[param(value_type = Option<u32>, minimum = 1, maximum = 500, default = 50)]
        pub limit: usize = limit,
        /// `next_cursor` from the previous page.
        #[param(value_type = Option<String>, pattern = "CURSOR")]
        pub cursor: Option<Cursor> = cursor,
        /// Order of the list; `updated_at` when `updated_since` is given, otherwise `name`.
        #[param(inline)]
        pub sort: Option<OrganisationSort> = parsed,
        /// Add `total`, the number of matching organisations.
        pub include_total: Option<bool> = boolean,
        /// Only organisations changed after this instant, for incremental sync.
        #[param(value_type = Option<String>, format = DateTime)]
        pub updated_since: Option<NaiveDateTime> = timestamp,
        /// Include deleted organisations as tombstones `{id, deleted_at}`.
        pub include_deleted: Option<bool> = boolean,
        #[param(schema_with = kinds)]
        pub kind: Vec<OrganisationKind> = many,
        #[param(schema_with = size_bands)]
        pub size_band: Vec<SizeBand> = many,
        #[param(schema_with = geography_scopes)]
        pub geography_scope: Vec<GeographyScope> = many,
        #[param(schema_with = regions)]
        pub region: Vec<Region> = many,
        /// Expertise area codes.
        #[param(schema_with = expertise_codes)]
        pub expertise: Vec<String> = codes(&rules::EXPERTISE_CODE_RE),
        /// Leadership ("led by") community codes; a parent code matches its descendants.
        #[param(schema_with = community_codes)]
        pub leadership: Vec<String> = codes(&rules::COMMUNITY_CODE_RE),
        /// Mission ("for") community codes; a parent code matches its descendants.
        #[param(schema_with = community_codes)]
        pub mission: Vec<String> = codes(&rules::COMMUNITY_CODE_RE),
        pub lived_experience_led: Option<bool> = boolean,
        /// Membership status on `as_of`; repeat for several. `active` stands for `current`
        /// and `grace` together. Not with `updated_since` (400): statuses move by the
        /// calendar; follow `GET /changes` for that.
        #[param(value_type = Vec<MembershipStatusChoice>, inline)]
        pub membership_status: Vec<MembershipStatus> = with(membership_statuses),
        /// The day membership is judged on, for the filter and for each entry's `membership`
        /// (default today): "who were our current members on 31 March last year?"
        #[param(value_type = Option<String>, format = Date)]
        pub as_of: Option<NaiveDate> = date,
        /// Case-insensitive part of the name.
        #[param(value_type = Option<String>, max_length = 200, pattern = "QUERY_TEXT")]
        pub q: Option<String> = text,
    }
}

crate::domain::text_enum! {
    /// A membership status on a date, or `active`: `current` and `grace` together, the
    /// members reports count.
    pub enum MembershipStatusChoice {
        Pending => "pending",
        Current => "current",
        Grace => "grace",
        Lapsed => "lapsed",
        Withdrawn => "withdrawn",
        Active => "active",
    }
}

/// Reads `membership_status`, `active` standing for `current` and `grace`.
fn membership_statuses(params: &mut QueryParams, name: &str) -> Vec<MembershipStatus> {
    let mut statuses = Vec::new();
    for choice in params.many::<MembershipStatusChoice>(name) {
        let found: &[MembershipStatus] = match choice {
            MembershipStatusChoice::Pending => &[MembershipStatus::Pending],
            MembershipStatusChoice::Current => &[MembershipStatus::Current],
            MembershipStatusChoice::Grace => &[MembershipStatus::Grace],
            MembershipStatusChoice::Lapsed => &[MembershipStatus::Lapsed],
            MembershipStatusChoice::Withdrawn => &[MembershipStatus::Withdrawn],
            MembershipStatusChoice::Active => &[MembershipStatus::Current, MembershipStatus::Grace],
        };
        for status in found {
            if !statuses.contains(status) {
                statuses.push(*status);
            }
        }
    }
    statuses
}

/// A parsed list request: what to show, in what order, from where.
struct ListRequest {
    filter: OrganisationFilter,
    /// The day each entry's membership is shown on (`as_of`).
    view: MembershipView,
    sort: OrganisationSort,
    keyset: Keyset,
    include_total: bool,
}

impl ListRequest {
    fn parse(req: &HttpRequest, grace: GraceWindow) -> Result<Self, ApiError> {
        let params = OrganisationListParams::parse(req.query_string())?;
        let view = match params.as_of {
            Some(on) => MembershipView { on, grace },
            None => MembershipView::today(grace),
        };
        let statuses = params.membership_status;
        sync_by_changes_only(
            params.updated_since.is_some(),
            "membership_status",
            !statuses.is_empty(),
        )?;
        let include_total = params.include_total.unwrap_or(false);
        let sort = params.sort;
        let filter = OrganisationFilter {
            kinds: strings(params.kind),
            size_bands: strings(params.size_band),
            geography_scopes: strings(params.geography_scope),
            regions: strings(params.region),
            expertise: params.expertise,
            leadership: params.leadership,
            mission: params.mission,
            lived_experience_led: params.lived_experience_led,
            q: params.q,
            updated_since: params.updated_since,
            include_deleted: params.include_deleted.unwrap_or(false),
            membership: (!statuses.is_empty()).then_some(StatusFilter {
                statuses,
                on: view.on,
                grace,
            }),
        };

        let sort = sort.unwrap_or(if filter.updated_since.is_some() {
            OrganisationSort::UpdatedAt
        } else {
            OrganisationSort::Name
        });
        let keyset = Keyset::sorted(sort.as_str(), params.cursor, params.limit)?;
        Ok(Self {
            filter,
            view,
            sort,
            keyset,
            include_total,
        })
    }
}

fn strings<T: ToString>(values: Vec<T>) -> Vec<String> {
    values.iter().map(ToString::to_string).collect()
}

/// List organisations
///
/// Keyset-paginated, filtered and sorted. With `Accept: text/csv` the whole filtered list is
/// streamed as CSV (multi-valued fields joined with `;`).
#[utoipa::path(
    tag = TAG,
    params(OrganisationListParams),
    responses(
        (status = 200, description = "A page of organisations", body = OrganisationList,
         content(
            (OrganisationList = "application/json"),
            (String = "text/csv")
         )),
    )
)]
#[get("/organisations")]
pub async fn list_organisations(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let format = negotiate(&req, true)?;
    let ListRequest {
        filter,
        view,
        sort,
        keyset,
        include_total,
    } = ListRequest::parse(&req, state.grace)?;
    let listing = Listing::new(filter, move |conn, filter, after, limit| {
        let after = after.map(|(key, id)| Position {
            key: key.clone(),
            id: id.clone(),
        });
        let page = store::list(conn, filter, sort, after.as_ref(), limit)?;
        Ok((page.entries, page.next.map(|next| (next.key, next.id))))
    })
    .with_total(include_total, store::count);
    let csv = CsvForm {
        filename: "organisations.csv",
        header: CSV_HEADER,
        record: move |entry| csv_record(entry, view),
    };
    paging::answer(&state.db, &req, format, keyset, listing, csv, |page| {
        OrganisationList {
            data: page
                .rows
                .into_iter()
                .map(|entry| ListEntry::new(entry, |o| OrganisationResponse::new(o, view)))
                .collect(),
            next_cursor: page.next_cursor,
            total: page.total,
        }
    })
    .await
}

/// Get an organisation
#[utoipa::path(
    tag = TAG,
    params(("id" = uuid::Uuid, Path, description = "Organisation id")),
    responses(
        (status = 200, description = "The organisation", body = OrganisationResponse,
         headers(("ETag" = String, description = "Send in If-Match to update safely"))),
        (status = 304, description = "Not modified: the If-None-Match tag is current"),
        (status = 404, response = crate::api::responses::NotFound),
        (status = 406, response = crate::api::responses::NotAcceptable),
    )
)]
#[get("/organisations/{id}")]
pub async fn get_organisation(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    negotiate(&req, false)?;
    let id = path_id(&path)?;
    let organisation = state.db.run(move |conn| store::find(conn, &id)).await?;
    Ok(tagged_unless_current(&req, organisation.version, || {
        OrganisationResponse::new(organisation, MembershipView::today(state.grace))
    }))
}

/// Create an organisation
#[utoipa::path(
    tag = TAG,
    request_body = CreateOrganisationRequest,
    responses(
        (status = 201, description = "Created", body = OrganisationResponse,
         headers(("Location" = String, description = "The new organisation's URL"),
                 ("ETag" = String, description = "Its version"))),
        (status = 409, response = crate::api::responses::Conflict),
    )
)]
#[post("/organisations")]
pub async fn create_organisation(
    state: web::Data<AppState>,
    body: JsonBody<CreateOrganisationRequest>,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let profile = body.0.into_profile(None)?;
    let view = MembershipView::today(state.grace);
    let organisation = audited::create(
        &state.db,
        audit,
        entity::ORGANISATION,
        |organisation: &Organisation| organisation.id.clone(),
        move |organisation| OrganisationResponse::new(organisation, view),
        move |conn| store::create(conn, &profile),
    )
    .await?;
    Ok(created_tagged(
        format!("/api/v1/organisations/{}", organisation.id),
        organisation.version,
        OrganisationResponse::new(organisation, view),
    ))
}

/// Update an organisation
///
/// JSON Merge Patch: send only the fields to change; `null` clears an optional field.
/// Send the `ETag` you read in `If-Match` so a concurrent change is not overwritten (412).
#[utoipa::path(
    tag = TAG,
    params(
        ("id" = uuid::Uuid, Path, description = "Organisation id"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "The ETag this change was based on"),
    ),
    request_body(content = UpdateOrganisationRequest, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "Updated", body = OrganisationResponse,
         headers(("ETag" = String, description = "The new version"))),
        (status = 404, response = crate::api::responses::NotFound),
        (status = 409, response = crate::api::responses::Conflict),
    )
)]
#[patch("/organisations/{id}")]
pub async fn update_organisation(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    body: JsonBody<UpdateOrganisationRequest>,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    let check = version_check(&req);
    let patch = body.0;
    let view = MembershipView::today(state.grace);
    let organisation = audited::update(
        &state.db,
        audit,
        entity::ORGANISATION,
        id,
        store::find,
        move |organisation| OrganisationResponse::new(organisation, view),
        move |conn, id| store::update(conn, id, &check, |current| patch.apply(&current.profile)),
    )
    .await?;
    Ok(tagged(
        organisation.version,
        OrganisationResponse::new(organisation, view),
    ))
}

/// Delete an organisation
///
/// A soft delete: the organisation disappears from reads and lists, and integrations see a
/// tombstone with `include_deleted=true`.
#[utoipa::path(
    tag = TAG,
    params(
        ("id" = uuid::Uuid, Path, description = "Organisation id"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "The ETag this deletion was based on"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, response = crate::api::responses::NotFound),
    )
)]
#[delete("/organisations/{id}")]
pub async fn delete_organisation(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    audit: audit::Context,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path)?;
    audited::soft_delete(
        &state.db,
        audit,
        entity::ORGANISATION,
        id,
        &req,
        store::soft_delete,
    )
    .await
}

/// The list's CSV columns; an import reads the same (see `api::imports`).
pub(crate) const CSV_HEADER: &[&str] = &[
    "id",
    "name",
    "kind",
    "size_band",
    "charity_number",
    "company_number",
    "website",
    "email",
    "phone",
    "postcode",
    "description",
    "geography_scope",
    "regions",
    "expertise",
    "leadership_reply_status",
    "leadership_communities",
    "mission_reply_status",
    "mission_communities",
    "lived_experience_led",
    "membership_tier",
    "membership_status",
    "joined_on",
    "created_at",
    "updated_at",
    "deleted_at",
    "merged_into",
];

/// The free-text columns the list's CSV defuses (and an import undoes).
pub(crate) const CSV_DEFUSED: &[&str] = &["name", "website", "email", "phone", "description"];

fn csv_record(entry: Listed<Organisation>, view: MembershipView) -> Vec<String> {
    let opt = |value: Option<String>| value.unwrap_or_default();
    let time = |at: NaiveDateTime| timestamp(at);
    match entry {
        Listed::Deleted(Gone {
            id,
            deleted_at,
            merged_into,
        }) => {
            let mut row = vec![String::new(); CSV_HEADER.len()];
            row[0] = id;
            row[CSV_HEADER.len() - 2] = time(deleted_at);
            row[CSV_HEADER.len() - 1] = merged_into.unwrap_or_default();
            row
        }
        Listed::Live(organisation) => {
            let Organisation {
                id,
                profile: p,
                created_at,
                updated_at,
                membership,
                ..
            } = *organisation;
            let membership = membership
                .as_ref()
                .and_then(|membership| MembershipSummary::new(membership, view));
            let mut row = vec![
                id,
                p.name,
                p.kind.to_string(),
                opt(p.size_band.map(|v| v.to_string())),
                opt(p.charity_number),
                opt(p.company_number),
                opt(p.website),
                opt(p.email),
                opt(p.phone),
                opt(p.postcode),
                opt(p.description),
                opt(p.geography_scope.map(|v| v.to_string())),
                strings(p.regions).join(";"),
                p.expertise.join(";"),
                p.leadership.reply_status.to_string(),
                p.leadership.communities.join(";"),
                p.mission.reply_status.to_string(),
                p.mission.communities.join(";"),
                opt(p.lived_experience_led.map(|v| v.to_string())),
                opt(membership.as_ref().map(|m| m.tier.to_string())),
                opt(membership.as_ref().map(|m| m.status.to_string())),
                opt(membership
                    .and_then(|m| m.joined_on)
                    .map(|day| day.to_string())),
                time(created_at),
                time(updated_at),
                String::new(),
                String::new(),
            ];
            csv::defuse_columns(CSV_HEADER, CSV_DEFUSED, &mut row);
            row
        }
    }
}

/// Registers this file's operations (routes and OpenAPI paths come from the same call).
pub fn configure(config: &mut ServiceConfig) {
    config
        .service(list_organisations)
        .service(create_organisation)
        .service(get_organisation)
        .service(update_organisation)
        .service(delete_organisation);
}
