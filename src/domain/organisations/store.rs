//! Reading and writing organisations. Multi-valued fields live in join tables and are
//! loaded for a whole page in one statement; lists use keyset pagination only.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::dsl::exists;
use diesel::prelude::*;

use super::{
    CommunityArea, CommunityReply, Organisation, OrganisationKind, OrganisationProfile, Region,
    ReplyStatus, VersionCheck, name_key,
};
use crate::db::schema::{
    membership_periods, membership_withdrawals, memberships, organisation_communities,
    organisation_expertise, organisation_regions, organisation_report_codes, organisations,
};
use crate::db::{Backend, DbConn};
use crate::domain::membership::{
    self, GraceWindow, Membership, MembershipStatus, Period, Withdrawal,
};
use crate::domain::taxonomies::Vocabulary;
use crate::domain::{
    CURSOR_TIME_FORMAT, Direction, DomainError, FieldError, Gone, Listed, cursor_time, escape_like,
    new_id, now, one_of, parse_stored, past_cursor, taxonomies, update_locked,
};
use crate::with_backend;

const ENTITY: &str = "organisation";

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = organisations, treat_none_as_null = true)]
struct OrganisationRow {
    id: String,
    name: String,
    name_key: String,
    kind: String,
    size_band: Option<String>,
    charity_number: Option<String>,
    company_number: Option<String>,
    website: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    postcode: Option<String>,
    description: Option<String>,
    geography_scope: Option<String>,
    leadership_reply_status: String,
    mission_reply_status: String,
    lived_experience_led: Option<bool>,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    deleted_at: Option<NaiveDateTime>,
    merged_into: Option<String>,
}

impl OrganisationRow {
    fn from_profile(
        id: String,
        profile: &OrganisationProfile,
        version: i64,
        created_at: NaiveDateTime,
        updated_at: NaiveDateTime,
    ) -> Self {
        Self {
            id,
            name: profile.name.clone(),
            name_key: name_key(&profile.name),
            kind: profile.kind.as_str().to_owned(),
            size_band: profile.size_band.map(|v| v.as_str().to_owned()),
            charity_number: profile.charity_number.clone(),
            company_number: profile.company_number.clone(),
            website: profile.website.clone(),
            email: profile.email.clone(),
            phone: profile.phone.clone(),
            postcode: profile.postcode.clone(),
            description: profile.description.clone(),
            geography_scope: profile.geography_scope.map(|v| v.as_str().to_owned()),
            leadership_reply_status: profile.leadership.reply_status.as_str().to_owned(),
            mission_reply_status: profile.mission.reply_status.as_str().to_owned(),
            lived_experience_led: profile.lived_experience_led,
            version,
            created_at,
            updated_at,
            deleted_at: None,
            merged_into: None,
        }
    }
}

/// The multi-valued fields (and memberships) of a set of organisations, keyed by id.
#[derive(Default)]
struct SetFields {
    memberships: HashMap<String, Membership>,
    sets: HashMap<String, Sets>,
}

/// One organisation's multi-valued fields, kept together so that a row of the union is one
/// map lookup and an organisation's assembly one removal.
#[derive(Default)]
struct Sets {
    regions: Vec<Region>,
    expertise: Vec<String>,
    leadership: Vec<String>,
    mission: Vec<String>,
}

/// One row of the statement that reads every set of some organisations at once: which set
/// it belongs to (`SET_*`) and its values, in the columns that set uses.
#[derive(Queryable)]
struct SetRow {
    organisation_id: String,
    set: i16,
    text: Option<String>,
    code: Option<String>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
}

/// A value its set always has (the union's columns are all nullable).
fn stored<T>(value: Option<T>) -> Result<T, DomainError> {
    value.ok_or_else(|| malformed("a set row lacks a value its table requires".to_owned()))
}

/// A union row that no select of `SetFields::load` can give: the database is not as written.
fn malformed(message: String) -> DomainError {
    DomainError::Database(diesel::result::Error::DeserializationError(message.into()))
}

// Which table a row of the sets' union came from. A number, not a name: a page has
// hundreds of set rows, and a tag that is a `String` was an allocation for each.
const SET_MEMBERSHIP: i16 = 1;
const SET_PERIOD: i16 = 2;
const SET_WITHDRAWAL: i16 = 3;
const SET_REGION: i16 = 4;
const SET_EXPERTISE: i16 = 5;
const SET_COMMUNITY: i16 = 6;

/// The rows of every set of the organisations `$condition` picks, as `SetRow`s: a
/// `UNION ALL` of one select per table, `$column` standing for each table's
/// `organisation_id`. Combinations are typed per backend, so the union is built on the
/// concrete connection.
macro_rules! set_rows {
    ($conn:expr, |$column:ident| $condition:expr) => {{
        use diesel::sql_types::{Date, Nullable, SmallInt, Text};
        let set = |tag: i16| tag.into_sql::<SmallInt>();
        let no_text = || None::<String>.into_sql::<Nullable<Text>>();
        let no_date = || None::<NaiveDate>.into_sql::<Nullable<Date>>();
        let memberships = memberships::table
            .filter({
                let $column = memberships::organisation_id;
                $condition
            })
            .select((
                memberships::organisation_id,
                set(SET_MEMBERSHIP),
                memberships::tier.nullable(),
                no_text(),
                memberships::applied_on.nullable(),
                memberships::joined_on,
            ));
        let periods = membership_periods::table
            .filter({
                let $column = membership_periods::organisation_id;
                $condition
            })
            .select((
                membership_periods::organisation_id,
                set(SET_PERIOD),
                no_text(),
                no_text(),
                membership_periods::start_on.nullable(),
                membership_periods::end_on.nullable(),
            ));
        let withdrawals = membership_withdrawals::table
            .filter({
                let $column = membership_withdrawals::organisation_id;
                $condition
            })
            .select((
                membership_withdrawals::organisation_id,
                set(SET_WITHDRAWAL),
                membership_withdrawals::reason.nullable(),
                no_text(),
                membership_withdrawals::withdrawn_on.nullable(),
                membership_withdrawals::reinstated_on,
            ));
        let regions = organisation_regions::table
            .filter({
                let $column = organisation_regions::organisation_id;
                $condition
            })
            .select((
                organisation_regions::organisation_id,
                set(SET_REGION),
                organisation_regions::region.nullable(),
                no_text(),
                no_date(),
                no_date(),
            ));
        let expertise = organisation_expertise::table
            .filter({
                let $column = organisation_expertise::organisation_id;
                $condition
            })
            .select((
                organisation_expertise::organisation_id,
                set(SET_EXPERTISE),
                organisation_expertise::expertise_code.nullable(),
                no_text(),
                no_date(),
                no_date(),
            ));
        let communities = organisation_communities::table
            .filter({
                let $column = organisation_communities::organisation_id;
                $condition
            })
            .select((
                organisation_communities::organisation_id,
                set(SET_COMMUNITY),
                organisation_communities::area.nullable(),
                organisation_communities::community_code.nullable(),
                no_date(),
                no_date(),
            ));
        with_backend!($conn, |c| memberships
            .union_all(periods)
            .union_all(withdrawals)
            .union_all(regions)
            .union_all(expertise)
            .union_all(communities)
            .load::<SetRow>(c))
    }};
}

impl SetFields {
    /// Everything of `ids` kept beside their rows (memberships with their periods and
    /// withdrawals, regions, expertise, communities) in one statement, a `UNION ALL` of one
    /// select per table: one round trip for a page or a record, where one a table took six.
    fn load(conn: &mut DbConn, ids: &[String]) -> Result<Self, DomainError> {
        let mut fields = Self::default();
        // One id is `= $1`, not `= ANY($1)` (see `one_of!`): the array form planned all six
        // selects again at every read, 0.5 ms of the database's time against 0.2.
        let rows: Vec<SetRow> = match ids {
            [] => return Ok(fields),
            [id] => set_rows!(conn, |organisation_id| organisation_id.eq(id))?,
            _ => set_rows!(conn, |organisation_id| organisation_id.eq_any(ids))?,
        };
        let mut memberships = membership::store::Assembly::default();
        for SetRow {
            organisation_id: id,
            set,
            text,
            code,
            from,
            to,
        } in rows
        {
            match set {
                SET_MEMBERSHIP => memberships.membership(id, &stored(text)?, stored(from)?, to)?,
                SET_PERIOD => {
                    let period = Period {
                        start_on: stored(from)?,
                        end_on: stored(to)?,
                    };
                    memberships.period(id, period);
                }
                SET_WITHDRAWAL => {
                    let withdrawal = Withdrawal {
                        withdrawn_on: stored(from)?,
                        reinstated_on: to,
                        reason: stored(text)?,
                    };
                    memberships.withdrawal(id, withdrawal);
                }
                SET_REGION => {
                    let region = parse_stored(&stored(text)?)?;
                    fields.sets.entry(id).or_default().regions.push(region);
                }
                SET_EXPERTISE => {
                    let code = stored(text)?;
                    fields.sets.entry(id).or_default().expertise.push(code);
                }
                SET_COMMUNITY => {
                    let code = stored(code)?;
                    let sets = fields.sets.entry(id).or_default();
                    match parse_stored::<CommunityArea>(&stored(text)?)? {
                        CommunityArea::Leadership => sets.leadership.push(code),
                        CommunityArea::Mission => sets.mission.push(code),
                    }
                }
                other => return Err(malformed(format!("a set row of unknown kind {other:?}"))),
            }
        }
        // A union has no order of its own: each set is put in the order its field shows.
        fields.memberships = memberships.finish();
        for sets in fields.sets.values_mut() {
            sets.regions.sort();
            sets.expertise.sort();
            sets.leadership.sort();
            sets.mission.sort();
        }
        Ok(fields)
    }

    fn assemble(&mut self, row: OrganisationRow) -> Result<Organisation, DomainError> {
        let sets = self.sets.remove(&row.id).unwrap_or_default();
        let reply = |status: &str, communities| -> Result<CommunityReply, DomainError> {
            Ok(CommunityReply {
                reply_status: parse_stored::<ReplyStatus>(status)?,
                communities,
            })
        };
        let leadership = reply(&row.leadership_reply_status, sets.leadership)?;
        let mission = reply(&row.mission_reply_status, sets.mission)?;
        let profile = OrganisationProfile {
            kind: parse_stored::<OrganisationKind>(&row.kind)?,
            size_band: row.size_band.as_deref().map(parse_stored).transpose()?,
            geography_scope: row
                .geography_scope
                .as_deref()
                .map(parse_stored)
                .transpose()?,
            regions: sets.regions,
            expertise: sets.expertise,
            leadership,
            mission,
            name: row.name,
            charity_number: row.charity_number,
            company_number: row.company_number,
            website: row.website,
            email: row.email,
            phone: row.phone,
            postcode: row.postcode,
            description: row.description,
            lived_experience_led: row.lived_experience_led,
        };
        Ok(Organisation {
            membership: self.memberships.remove(&row.id),
            id: row.id,
            profile,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
            deleted_at: row.deleted_at,
        })
    }
}

/// Rules that need the database: codes must exist and be active, registration numbers must
/// not belong to another live organisation. `current` is the stored profile of an update:
/// codes it already has may have been retired since, and stay.
fn check_against_store(
    conn: &mut DbConn,
    profile: &OrganisationProfile,
    current: Option<(&str, &OrganisationProfile)>,
) -> Result<(), DomainError> {
    let own_id = current.map(|(id, _)| id);
    let errors = code_errors(
        profile,
        current.map(|(_, p)| p),
        &mut |vocabulary, codes| taxonomies::unusable_codes(conn, vocabulary, codes),
    )?;
    if !errors.is_empty() {
        return Err(DomainError::Invalid(errors));
    }

    let mut clashes = Vec::new();
    for (field, number) in [
        ("charity_number", &profile.charity_number),
        ("company_number", &profile.company_number),
    ] {
        let Some(number) = number else { continue };
        let mut holders = organisations::table
            .filter(organisations::deleted_at.is_null())
            .filter(organisations::id.ne(own_id.unwrap_or("")))
            .select(organisations::id)
            .into_boxed();
        holders = match field {
            "charity_number" => holders.filter(organisations::charity_number.eq(number)),
            _ => holders.filter(organisations::company_number.eq(number)),
        };
        if let Some(holder) = holders.first::<String>(conn).optional()? {
            clashes.push(number_clash(field, &holder));
        }
    }
    if !clashes.is_empty() {
        return Err(DomainError::Conflict {
            message: "another organisation already has this registration number".to_owned(),
            errors: clashes,
        });
    }
    Ok(())
}

/// The error of a registration number (`field`) that organisation `holder` already has.
pub fn number_clash(field: &str, holder: &str) -> FieldError {
    FieldError::new(
        field,
        "duplicate",
        format!("organisation {holder} already has this number"),
    )
}

/// Of some codes of a vocabulary, those not active in it.
pub type UnusableCodes<'a> = dyn FnMut(Vocabulary, &[String]) -> QueryResult<Vec<String>> + 'a;

/// The codes of `profile` it may not be given: those not active in their vocabulary, unless
/// `held` (the stored profile) already has them, since codes stay once retired. `unusable`
/// reads a vocabulary: the database for one write, codes read once for an import.
pub fn code_errors(
    profile: &OrganisationProfile,
    held: Option<&OrganisationProfile>,
    unusable: &mut UnusableCodes<'_>,
) -> QueryResult<Vec<FieldError>> {
    let new = |codes: &[String], stored: Option<&[String]>| -> Vec<String> {
        codes
            .iter()
            .filter(|code| !stored.is_some_and(|stored| stored.contains(code)))
            .cloned()
            .collect()
    };
    let mut errors = Vec::new();
    let new_expertise = new(&profile.expertise, held.map(|p| p.expertise.as_slice()));
    for code in unusable(Vocabulary::ExpertiseAreas, &new_expertise)? {
        errors.push(unknown_code("expertise", &profile.expertise, &code));
    }
    for (area, reply, stored) in [
        (
            "leadership",
            &profile.leadership,
            held.map(|p| &p.leadership),
        ),
        ("mission", &profile.mission, held.map(|p| &p.mission)),
    ] {
        let new_codes = new(&reply.communities, stored.map(|s| s.communities.as_slice()));
        for code in unusable(Vocabulary::Communities, &new_codes)? {
            let field = format!("{area}.communities");
            errors.push(unknown_code(&field, &reply.communities, &code));
        }
    }
    Ok(errors)
}

fn unknown_code(field: &str, codes: &[String], code: &str) -> FieldError {
    let index = codes.iter().position(|c| c == code).unwrap_or_default();
    FieldError::new(
        format!("{field}[{index}]"),
        "unknown_code",
        format!("{code} is not an active code"),
    )
}

/// How many organisations one batched write covers (their rows and set rows): the widest
/// insert, of organisation rows, then binds 21 × 500 values, within both backends' limits.
const WRITTEN_PER_STATEMENT: usize = 500;

/// Deletes the sets of the organisations in `chunk`.
fn delete_set_fields(conn: &mut DbConn, chunk: &[(&str, &OrganisationProfile)]) -> QueryResult<()> {
    let ids: Vec<&str> = chunk.iter().map(|(id, _)| *id).collect();
    diesel::delete(organisation_regions::table)
        .filter(organisation_regions::organisation_id.eq_any(&ids))
        .execute(conn)?;
    diesel::delete(organisation_expertise::table)
        .filter(organisation_expertise::organisation_id.eq_any(&ids))
        .execute(conn)?;
    diesel::delete(organisation_communities::table)
        .filter(organisation_communities::organisation_id.eq_any(&ids))
        .execute(conn)?;
    diesel::delete(organisation_report_codes::table)
        .filter(organisation_report_codes::organisation_id.eq_any(&ids))
        .execute(conn)?;
    Ok(())
}

/// Writes the sets of each `(id, profile)`: regions, expertise, communities and the codes
/// reports count from, in place of those stored when the organisations are `stored` (not
/// new). A few statements per 500 organisations, however many there are.
fn write_set_fields(
    conn: &mut DbConn,
    written: &[(&str, &OrganisationProfile)],
    stored: bool,
) -> QueryResult<()> {
    let parents = taxonomies::CommunityParents::load(conn)?;
    for chunk in written.chunks(WRITTEN_PER_STATEMENT) {
        if stored {
            delete_set_fields(conn, chunk)?;
        }
        let mut regions = Vec::new();
        let mut expertise = Vec::new();
        let mut communities = Vec::new();
        let mut report_codes = Vec::new();
        for &(id, profile) in chunk {
            regions.extend(profile.regions.iter().map(|region| {
                (
                    organisation_regions::organisation_id.eq(id),
                    organisation_regions::region.eq(region.as_str()),
                )
            }));
            expertise.extend(profile.expertise.iter().map(|code| {
                (
                    organisation_expertise::organisation_id.eq(id),
                    organisation_expertise::expertise_code.eq(code.as_str()),
                )
            }));
            for (area, reply) in [
                (CommunityArea::Leadership, &profile.leadership),
                (CommunityArea::Mission, &profile.mission),
            ] {
                communities.extend(reply.communities.iter().map(|code| {
                    (
                        organisation_communities::organisation_id.eq(id),
                        organisation_communities::area.eq(area.as_str()),
                        organisation_communities::community_code.eq(code.as_str()),
                    )
                }));
            }
            report_codes.extend(report_code_rows(&parents, id, profile));
        }
        // Multi-row inserts do not compile through the connection enum.
        with_backend!(&mut *conn, |c| {
            if !regions.is_empty() {
                diesel::insert_into(organisation_regions::table)
                    .values(&regions)
                    .execute(c)?;
            }
            if !expertise.is_empty() {
                diesel::insert_into(organisation_expertise::table)
                    .values(&expertise)
                    .execute(c)?;
            }
            if !communities.is_empty() {
                diesel::insert_into(organisation_communities::table)
                    .values(&communities)
                    .execute(c)?;
            }
            if !report_codes.is_empty() {
                diesel::insert_into(organisation_report_codes::table)
                    .values(&report_codes)
                    .execute(c)?;
            }
            QueryResult::Ok(())
        })?;
    }
    Ok(())
}

/// One row of `organisation_report_codes`, ready to insert.
pub type ReportCodeRow = (
    diesel::dsl::Eq<organisation_report_codes::organisation_id, String>,
    diesel::dsl::Eq<organisation_report_codes::facet, &'static str>,
    diesel::dsl::Eq<organisation_report_codes::code, String>,
);

/// The `organisation_report_codes` rows of an organisation with `profile`.
pub fn report_code_rows(
    parents: &taxonomies::CommunityParents,
    id: &str,
    profile: &OrganisationProfile,
) -> Vec<ReportCodeRow> {
    let mut facets: Vec<(&'static str, Vec<&str>)> = vec![
        (
            "region",
            profile.regions.iter().map(|r| r.as_str()).collect(),
        ),
        (
            "expertise",
            profile.expertise.iter().map(String::as_str).collect(),
        ),
    ];
    for (area, reply) in [
        (CommunityArea::Leadership, &profile.leadership),
        (CommunityArea::Mission, &profile.mission),
    ] {
        facets.push((
            area.as_str(),
            parents.levels(&reply.communities).into_iter().collect(),
        ));
    }
    let mut rows = Vec::new();
    for (facet, codes) in facets {
        if codes.is_empty() {
            continue;
        }
        for code in std::iter::once(REPORT_CODE_ANY).chain(codes) {
            rows.push((
                organisation_report_codes::organisation_id.eq(id.to_owned()),
                organisation_report_codes::facet.eq(facet),
                organisation_report_codes::code.eq(code.to_owned()),
            ));
        }
    }
    rows
}

/// The `organisation_report_codes` code that says "has at least one" in its facet.
pub const REPORT_CODE_ANY: &str = "*";

/// Stores a new organisation.
pub fn create(
    conn: &mut DbConn,
    profile: &OrganisationProfile,
) -> Result<Organisation, DomainError> {
    conn.transaction(|conn| {
        check_against_store(conn, profile, None)?;
        let id = new_id();
        let at = now();
        OrganisationRow::from_profile(id.clone(), profile, 1, at, at)
            .insert_into(organisations::table)
            .execute(conn)?;
        write_set_fields(conn, &[(&id, profile)], false)?;
        find(conn, &id)
    })
}

/// A live (not deleted) organisation.
pub fn find(conn: &mut DbConn, id: &str) -> Result<Organisation, DomainError> {
    find_many(conn, &[id.to_owned()])?
        .remove(id)
        .ok_or(DomainError::NotFound(ENTITY))
}

/// The live organisations among `ids`, by id, read together: one statement for the rows and
/// one for each of their sets, however many there are.
pub fn find_many(
    conn: &mut DbConn,
    ids: &[String],
) -> Result<HashMap<String, Organisation>, DomainError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let live_rows = organisations::table
        .filter(organisations::deleted_at.is_null())
        .select(OrganisationRow::as_select());
    let rows: Vec<OrganisationRow> = one_of!(ids, organisations::id, |wanted| live_rows
        .filter(wanted)
        .load(conn))?;
    let live: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
    let mut fields = SetFields::load(conn, &live)?;
    rows.into_iter()
        .map(|row| Ok((row.id.clone(), fields.assemble(row)?)))
        .collect()
}

/// Replaces the profile with what `change` makes of the current one, if `check` allows the
/// stored version. The row is locked before it is read, so concurrent writes apply one after
/// the other, each to what the one before wrote (never a lost update, never a 412 without
/// `If-Match`).
pub fn update(
    conn: &mut DbConn,
    id: &str,
    check: &VersionCheck,
    change: impl FnOnce(&Organisation) -> Result<OrganisationProfile, DomainError>,
) -> Result<Organisation, DomainError> {
    let change = |current: &Organisation| {
        let profile = change(current)?;
        Ok((!same_content(&profile, &current.profile)).then_some(profile))
    };
    let write = |conn: &mut DbConn, current: &Organisation, profile: OrganisationProfile| {
        let version = current.version + 1;
        overwrite_profile(conn, current, &profile, &current.profile, version, now())
    };
    let lock = |conn: &mut DbConn| crate::domain::lock_row!(conn, organisations, id);
    let find = |conn: &mut DbConn| find(conn, id);
    let version = |current: &Organisation| current.version;
    update_locked(conn, check, lock, find, version, change, write)
}

/// Rewrites the profile of an organisation the caller has already locked and checked (an
/// update's, or a merge's survivor), as `version` at `at`; `codes_held` are the codes that
/// may stay even if retired since (the current ones; for a merge, those the merged
/// organisations already had).
pub(super) fn overwrite_profile(
    conn: &mut DbConn,
    current: &Organisation,
    profile: &OrganisationProfile,
    codes_held: &OrganisationProfile,
    version: i64,
    at: NaiveDateTime,
) -> Result<(), DomainError> {
    check_against_store(conn, profile, Some((&current.id, codes_held)))?;
    let row =
        OrganisationRow::from_profile(current.id.clone(), profile, version, current.created_at, at);
    diesel::update(organisations::table.find(&current.id))
        .set(&row)
        .execute(conn)?;
    if !same_sets(&current.profile, profile) {
        write_set_fields(conn, &[(&current.id, profile)], true)?;
    }
    Ok(())
}

/// Whether two profiles have the same sets (regions, expertise, communities): the rows
/// `write_set_fields` writes, and the report codes that follow from them. A write that
/// leaves them alone (a new phone number) does not rewrite them.
fn same_sets(a: &OrganisationProfile, b: &OrganisationProfile) -> bool {
    let sets = |profile: &OrganisationProfile| {
        let p = profile.clone().in_read_order();
        (
            p.regions,
            p.expertise,
            p.leadership.communities,
            p.mission.communities,
        )
    };
    sets(a) == sets(b)
}

/// Whether two profiles say the same, the order of their sets aside (a spreadsheet lists
/// regions in its own order; they are stored as sets).
fn same_content(a: &OrganisationProfile, b: &OrganisationProfile) -> bool {
    a.clone().in_read_order() == b.clone().in_read_order()
}

/// Holds the live rows of `ids` until the transaction ends, as `lock_row!` holds one: an
/// import locks the records its rows match before it reads them.
pub fn lock_many(conn: &mut DbConn, ids: &[String]) -> QueryResult<()> {
    crate::domain::lock_rows!(conn, organisations, ids)
}

/// Writes an import's organisations, as they are to be stored: `created` as new rows,
/// `updated` (as stored, and as they are now) over their stored rows (locked by
/// `lock_many`), and the sets of both where they changed, in a few statements per 500. The
/// caller has checked them by the rules `create` and `update` apply (`code_errors`, and
/// registration numbers against every organisation the import holds).
pub fn write_imported(
    conn: &mut DbConn,
    created: &[&Organisation],
    updated: &[(&Organisation, &Organisation)],
) -> Result<(), DomainError> {
    let row = |o: &Organisation| {
        OrganisationRow::from_profile(
            o.id.clone(),
            &o.profile,
            o.version,
            o.created_at,
            o.updated_at,
        )
    };
    for chunk in created.chunks(WRITTEN_PER_STATEMENT) {
        let rows: Vec<OrganisationRow> = chunk.iter().map(|o| row(o)).collect();
        with_backend!(&mut *conn, |c| diesel::insert_into(organisations::table)
            .values(&rows)
            .execute(c))?;
    }
    // An update's row differs from every other's: one statement each.
    for (_, organisation) in updated {
        diesel::update(organisations::table.find(&organisation.id))
            .set(&row(organisation))
            .execute(conn)?;
    }
    fn sets<'a>(organisations: &[&'a Organisation]) -> Vec<(&'a str, &'a OrganisationProfile)> {
        organisations
            .iter()
            .map(|o| (o.id.as_str(), &o.profile))
            .collect()
    }
    let resets: Vec<&Organisation> = updated
        .iter()
        .filter(|(stored, now)| !same_sets(&stored.profile, &now.profile))
        .map(|(_, now)| *now)
        .collect();
    write_set_fields(conn, &sets(created), false)?;
    write_set_fields(conn, &sets(&resets), true)?;
    Ok(())
}

/// Marks an organisation deleted, keeping the row as a tombstone for sync.
pub fn soft_delete(conn: &mut DbConn, id: &str, check: &VersionCheck) -> Result<(), DomainError> {
    crate::domain::soft_delete_row!(conn, organisations, id, check, find)
}

/// Which organisations a list returns; empty vectors mean "any".
#[derive(Debug, Clone, Default)]
pub struct OrganisationFilter {
    pub kinds: Vec<String>,
    pub size_bands: Vec<String>,
    pub geography_scopes: Vec<String>,
    pub regions: Vec<String>,
    pub expertise: Vec<String>,
    /// Community codes as asked for; parents are widened to their descendants here.
    pub leadership: Vec<String>,
    pub mission: Vec<String>,
    pub lived_experience_led: Option<bool>,
    /// Case-insensitive substring of the name.
    pub q: Option<String>,
    /// Only records changed after this instant (incremental sync).
    pub updated_since: Option<NaiveDateTime>,
    /// Include tombstones of deleted organisations.
    pub include_deleted: bool,
    /// Only organisations whose membership status on the date is one of these.
    pub membership: Option<StatusFilter>,
}

/// Membership statuses on a day, for lists ("who were our current members on 31 March?").
#[derive(Debug, Clone)]
pub struct StatusFilter {
    pub statuses: Vec<MembershipStatus>,
    pub on: chrono::NaiveDate,
    pub grace: GraceWindow,
}

crate::domain::text_enum! {
    /// The orders a list can come in; `id` breaks ties so every order is total.
    pub enum OrganisationSort {
        Name => "name",
        NameDesc => "-name",
        CreatedAt => "created_at",
        CreatedAtDesc => "-created_at",
        UpdatedAt => "updated_at",
        UpdatedAtDesc => "-updated_at",
    }
}

/// Where a page ended: the sort key and id of its last entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub key: String,
    pub id: String,
}

pub struct Page {
    pub entries: Vec<Listed<Organisation>>,
    pub next: Option<Position>,
}

/// Community filters with parent codes widened to their descendants.
struct ResolvedFilter<'f> {
    filter: &'f OrganisationFilter,
    leadership: Vec<String>,
    mission: Vec<String>,
}

impl<'f> ResolvedFilter<'f> {
    /// Widens parent community codes to their descendants, after refusing codes that do
    /// not exist (a typo must not quietly return an empty list).
    fn resolve(conn: &mut DbConn, filter: &'f OrganisationFilter) -> Result<Self, DomainError> {
        let mut unknown = Vec::new();
        for code in taxonomies::unknown_expertise_codes(conn, &filter.expertise)? {
            unknown.push(FieldError::new(
                "expertise",
                "unknown_code",
                format!("{code:?} is not an expertise area"),
            ));
        }
        for (name, codes) in [
            ("leadership", &filter.leadership),
            ("mission", &filter.mission),
        ] {
            for code in taxonomies::unknown_community_codes(conn, codes)? {
                unknown.push(FieldError::new(
                    name,
                    "unknown_code",
                    format!("{code:?} is not a community code"),
                ));
            }
        }
        if !unknown.is_empty() {
            return Err(DomainError::BadFilter(unknown));
        }
        Ok(Self {
            filter,
            leadership: taxonomies::community_codes_with_descendants(conn, &filter.leadership)?,
            mission: taxonomies::community_codes_with_descendants(conn, &filter.mission)?,
        })
    }

    fn query(&self) -> organisations::BoxedQuery<'_, Backend> {
        let f = self.filter;
        let mut query = organisations::table.into_boxed();
        if !f.include_deleted {
            query = query.filter(organisations::deleted_at.is_null());
        }
        // Each filter is `one_of!`, so that a list by one kind or one region has a cached plan.
        if !f.kinds.is_empty() {
            query = one_of!(&f.kinds[..], organisations::kind, |kind| query.filter(kind));
        }
        if !f.size_bands.is_empty() {
            let band = organisations::size_band;
            query = one_of!(&f.size_bands[..], band, |in_band| query.filter(in_band));
        }
        if !f.geography_scopes.is_empty() {
            let scope = organisations::geography_scope;
            query = one_of!(&f.geography_scopes[..], scope, |in_scope| query
                .filter(in_scope));
        }
        if let Some(led) = f.lived_experience_led {
            query = query.filter(organisations::lived_experience_led.eq(led));
        }
        if let Some(q) = &f.q {
            query = query.filter(
                organisations::name_key
                    .like(format!("%{}%", escape_like(&name_key(q))))
                    .escape('\\'),
            );
        }
        if let Some(membership) = &f.membership
            && let Some(condition) = membership::store::status_filter(
                &membership.statuses,
                membership.on,
                membership.grace,
            )
        {
            query = query.filter(condition);
        }
        if let Some(since) = f.updated_since {
            query = query.filter(organisations::updated_at.gt(since));
        }
        // Set filters are correlated `EXISTS`, not `id IN (subquery)`: SQLite builds the
        // whole subquery's list first (40,000 London rows for one page), while `EXISTS` lets
        // it walk the page's index in order, probe each row's set and stop at the limit.
        if !f.regions.is_empty() {
            let ours = organisation_regions::table
                .filter(organisation_regions::organisation_id.eq(organisations::id));
            query = one_of!(&f.regions[..], organisation_regions::region, |region| {
                query.filter(exists(ours.filter(region)))
            });
        }
        if !f.expertise.is_empty() {
            let ours = organisation_expertise::table
                .filter(organisation_expertise::organisation_id.eq(organisations::id));
            let code = organisation_expertise::expertise_code;
            query = one_of!(&f.expertise[..], code, |listed| {
                query.filter(exists(ours.filter(listed)))
            });
        }
        for (area, codes) in [
            (CommunityArea::Leadership, &self.leadership),
            (CommunityArea::Mission, &self.mission),
        ] {
            if !codes.is_empty() {
                let ours = organisation_communities::table
                    .filter(organisation_communities::organisation_id.eq(organisations::id))
                    .filter(organisation_communities::area.eq(area.as_str()));
                let code = organisation_communities::community_code;
                query = one_of!(&codes[..], code, |listed| query
                    .filter(exists(ours.filter(listed))));
            }
        }
        query
    }
}

/// One page of organisations in `sort` order, after `after` when given.
pub fn list(
    conn: &mut DbConn,
    filter: &OrganisationFilter,
    sort: OrganisationSort,
    after: Option<&Position>,
    limit: usize,
) -> Result<Page, DomainError> {
    use OrganisationSort as S;
    use organisations::{created_at, id, name_key, updated_at};

    let resolved = ResolvedFilter::resolve(conn, filter)?;
    let mut query = resolved.query();
    query = match sort {
        S::Name => query.order((name_key.asc(), id.asc())),
        S::NameDesc => query.order((name_key.desc(), id.desc())),
        S::CreatedAt => query.order((created_at.asc(), id.asc())),
        S::CreatedAtDesc => query.order((created_at.desc(), id.desc())),
        S::UpdatedAt => query.order((updated_at.asc(), id.asc())),
        S::UpdatedAtDesc => query.order((updated_at.desc(), id.desc())),
    };
    if let Some(after) = after {
        let (up, down) = (Direction::Ascending, Direction::Descending);
        let key = after.key.clone();
        let name = |direction| past_cursor(name_key, key.clone(), id, &after.id, direction);
        let created = |at, direction| past_cursor(created_at, at, id, &after.id, direction);
        let updated = |at, direction| past_cursor(updated_at, at, id, &after.id, direction);
        query = query.filter(match sort {
            S::Name => name(up),
            S::NameDesc => name(down),
            S::CreatedAt => created(cursor_time(&key)?, up),
            S::CreatedAtDesc => created(cursor_time(&key)?, down),
            S::UpdatedAt => updated(cursor_time(&key)?, up),
            S::UpdatedAtDesc => updated(cursor_time(&key)?, down),
        });
    }
    let position = |last: &OrganisationRow| {
        let sort_key = match sort {
            S::Name | S::NameDesc => last.name_key.clone(),
            S::CreatedAt | S::CreatedAtDesc => {
                last.created_at.format(CURSOR_TIME_FORMAT).to_string()
            }
            S::UpdatedAt | S::UpdatedAtDesc => {
                last.updated_at.format(CURSOR_TIME_FORMAT).to_string()
            }
        };
        (sort_key, last.id.clone())
    };
    let query = query.select(OrganisationRow::as_select());
    let (rows, next) = crate::domain::load_page(conn, query, limit, position, Ok)?;
    let next = next.map(|(key, last_id)| Position { key, id: last_id });

    let live_ids: Vec<String> = rows
        .iter()
        .filter(|row| row.deleted_at.is_none())
        .map(|row| row.id.clone())
        .collect();
    let mut fields = SetFields::load(conn, &live_ids)?;
    let entries = rows
        .into_iter()
        .map(|row| match row.deleted_at {
            Some(deleted_at) => Ok(Listed::Deleted(Gone {
                id: row.id,
                deleted_at,
                merged_into: row.merged_into,
            })),
            None => fields.assemble(row).map(|o| Listed::Live(Box::new(o))),
        })
        .collect::<Result<_, DomainError>>()?;
    Ok(Page { entries, next })
}

/// How many organisations match `filter` (for `include_total`).
pub fn count(conn: &mut DbConn, filter: &OrganisationFilter) -> Result<i64, DomainError> {
    let resolved = ResolvedFilter::resolve(conn, filter)?;
    Ok(resolved.query().count().get_result(conn)?)
}

/// Whether a live organisation has this id, holding it so until the transaction ends: the
/// row is locked (on PostgreSQL; SQLite writes one at a time anyway), so a merge or delete of
/// it waits for this transaction, or this one sees its outcome. A record written next can
/// then never point at an organisation folded away meanwhile.
pub fn lock_live(conn: &mut DbConn, id: &str) -> Result<bool, DomainError> {
    let locked = diesel::update(
        organisations::table
            .find(id)
            .filter(organisations::deleted_at.is_null()),
    )
    .set(organisations::version.eq(organisations::version))
    .execute(conn)?;
    Ok(locked == 1)
}

/// Whether an organisation with this id was ever stored (deleted ones included), for its history.
pub fn ever_existed(conn: &mut DbConn, id: &str) -> Result<bool, DomainError> {
    Ok(diesel::select(diesel::dsl::exists(organisations::table.find(id))).get_result(conn)?)
}
