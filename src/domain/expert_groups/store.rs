//! Reading and writing expert groups and their members. A change to a group's members
//! moves the group's version and `updated_at` on too (its member count is part of it).

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::{
    ExpertGroup, GroupFilter, GroupKind, GroupMember, GroupProfile, GroupSort, GroupStatus,
    MemberFields, MemberRole, Membership, Party, Tenure,
};
use crate::db::DbConn;
use crate::db::schema::{contacts, expert_group_expertise, expert_group_members, expert_groups};
use crate::domain::organisations::name_key;
use crate::domain::{
    CURSOR_TIME_FORMAT, Direction, DomainError, FieldError, Gone, Listed, Page, VersionCheck,
    changed, cursor_time, escape_like, new_id, now, one_of, parse_stored, past_cursor, taxonomies,
    update_locked,
};
use crate::with_backend;

const ENTITY: &str = "expert group";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = expert_groups)]
struct GroupRow {
    id: String,
    name: String,
    name_key: String,
    kind: String,
    purpose: Option<String>,
    status: String,
    started_on: Option<NaiveDate>,
    ended_on: Option<NaiveDate>,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    deleted_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = expert_group_members)]
struct MemberRow {
    id: String,
    group_id: String,
    organisation_id: Option<String>,
    contact_id: Option<String>,
    role: String,
    joined_on: NaiveDate,
    left_on: Option<NaiveDate>,
}

/// The columns a group's profile writes, on insert and update alike.
#[derive(Insertable, AsChangeset)]
#[diesel(
    table_name = expert_groups,
    treat_none_as_null = true,
    treat_none_as_default_value = false
)]
struct ProfileColumns<'a> {
    name: &'a str,
    name_key: String,
    kind: &'static str,
    purpose: Option<&'a str>,
    status: &'static str,
    started_on: Option<NaiveDate>,
    ended_on: Option<NaiveDate>,
}

impl<'a> ProfileColumns<'a> {
    fn new(profile: &'a GroupProfile) -> Self {
        Self {
            name: &profile.name,
            name_key: name_key(&profile.name),
            kind: profile.kind.as_str(),
            purpose: profile.purpose.as_deref(),
            status: profile.status.as_str(),
            started_on: profile.started_on,
            ended_on: profile.ended_on,
        }
    }
}

impl MemberRow {
    fn into_member(self) -> Result<GroupMember, DomainError> {
        Ok(GroupMember {
            party: Party::from_columns(self.organisation_id, self.contact_id)?,
            id: self.id,
            group_id: self.group_id,
            fields: MemberFields {
                role: parse_stored(&self.role)?,
                joined_on: self.joined_on,
                left_on: self.left_on,
            },
        })
    }
}

/// Memberships whose organisation or contact has not been deleted: a deleted member neither
/// counts nor is invited with the group.
#[diesel::dsl::auto_type]
fn live_party() -> _ {
    let organisation_live = crate::db::schema::organisations::table
        .filter(crate::db::schema::organisations::deleted_at.is_null())
        .select(crate::db::schema::organisations::id.nullable());
    let contact_live = contacts::table
        .filter(contacts::deleted_at.is_null())
        .select(contacts::id.nullable());
    expert_group_members::organisation_id
        .is_null()
        .or(expert_group_members::organisation_id.eq_any(organisation_live))
        .and(
            expert_group_members::contact_id
                .is_null()
                .or(expert_group_members::contact_id.eq_any(contact_live)),
        )
}

/// Memberships that have begun by `day` and not ended before it: the group's members that day.
#[diesel::dsl::auto_type]
fn member_on(day: NaiveDate) -> _ {
    expert_group_members::joined_on.le(day).and(
        expert_group_members::left_on
            .is_null()
            .or(expert_group_members::left_on.ge(day)),
    )
}

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// Expertise codes must be active ones, except those the group already has (a code retired
/// since stays on the record).
fn check_expertise(
    conn: &mut DbConn,
    profile: &GroupProfile,
    current: Option<&GroupProfile>,
) -> Result<(), DomainError> {
    let kept = current.map(|c| c.expertise.as_slice()).unwrap_or_default();
    let errors = taxonomies::expertise_errors(conn, &profile.expertise, kept)?;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Invalid(errors))
    }
}

fn write_expertise(conn: &mut DbConn, id: &str, codes: &[String]) -> QueryResult<()> {
    diesel::delete(expert_group_expertise::table)
        .filter(expert_group_expertise::group_id.eq(id))
        .execute(conn)?;
    if codes.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = codes
        .iter()
        .map(|code| {
            (
                expert_group_expertise::group_id.eq(id),
                expert_group_expertise::expertise_code.eq(code),
            )
        })
        .collect();
    // Multi-row inserts do not compile through the connection enum.
    with_backend!(conn, |c| diesel::insert_into(expert_group_expertise::table)
        .values(&rows)
        .execute(c))?;
    Ok(())
}

/// Expertise codes and current member counts for a page of groups, one query each.
fn assemble(
    conn: &mut DbConn,
    rows: Vec<GroupRow>,
) -> Result<Vec<(GroupRow, Option<ExpertGroup>)>, DomainError> {
    let ids: Vec<String> = rows
        .iter()
        .filter(|row| row.deleted_at.is_none())
        .map(|row| row.id.clone())
        .collect();
    let mut expertise: HashMap<String, Vec<String>> = HashMap::new();
    let mut counts: HashMap<String, i64> = HashMap::new();
    if !ids.is_empty() {
        let codes: Vec<(String, String)> =
            one_of!(&ids[..], expert_group_expertise::group_id, |ours| {
                expert_group_expertise::table
                    .filter(ours)
                    .order(expert_group_expertise::expertise_code)
                    .select((
                        expert_group_expertise::group_id,
                        expert_group_expertise::expertise_code,
                    ))
                    .load(conn)
            })?;
        for (id, code) in codes {
            expertise.entry(id).or_default().push(code);
        }
        let today = today();
        counts = one_of!(&ids[..], expert_group_members::group_id, |ours| {
            expert_group_members::table
                .filter(ours)
                .filter(member_on(today))
                .filter(live_party())
                .group_by(expert_group_members::group_id)
                .select((expert_group_members::group_id, diesel::dsl::count_star()))
                .load::<(String, i64)>(conn)
        })?
        .into_iter()
        .collect();
    }
    rows.into_iter()
        .map(|row| {
            if row.deleted_at.is_some() {
                return Ok((row, None));
            }
            let group = ExpertGroup {
                id: row.id.clone(),
                profile: GroupProfile {
                    name: row.name.clone(),
                    kind: parse_stored(&row.kind)?,
                    purpose: row.purpose.clone(),
                    expertise: expertise.remove(&row.id).unwrap_or_default(),
                    status: parse_stored(&row.status)?,
                    started_on: row.started_on,
                    ended_on: row.ended_on,
                },
                current_member_count: counts.get(&row.id).copied().unwrap_or_default(),
                version: row.version,
                created_at: row.created_at,
                updated_at: row.updated_at,
            };
            Ok((row, Some(group)))
        })
        .collect()
}

fn live_row(conn: &mut DbConn, id: &str) -> Result<GroupRow, DomainError> {
    expert_groups::table
        .find(id)
        .filter(expert_groups::deleted_at.is_null())
        .select(GroupRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound(ENTITY))
}

/// A live (not deleted) group.
pub fn find(conn: &mut DbConn, id: &str) -> Result<ExpertGroup, DomainError> {
    let row = live_row(conn, id)?;
    assemble(conn, vec![row])?
        .pop()
        .and_then(|(_, group)| group)
        .ok_or(DomainError::NotFound(ENTITY))
}

pub fn create(conn: &mut DbConn, profile: &GroupProfile) -> Result<ExpertGroup, DomainError> {
    conn.transaction(|conn| {
        check_expertise(conn, profile, None)?;
        let id = new_id();
        let at = now();
        diesel::insert_into(expert_groups::table)
            .values((
                expert_groups::id.eq(&id),
                ProfileColumns::new(profile),
                expert_groups::version.eq(1),
                expert_groups::created_at.eq(at),
                expert_groups::updated_at.eq(at),
            ))
            .execute(conn)?;
        write_expertise(conn, &id, &profile.expertise)?;
        find(conn, &id)
    })
}

/// Replaces the profile with what `change` makes of the current one, if `check` allows the
/// stored version and the status move is allowed (409 otherwise).
pub fn update<F>(
    conn: &mut DbConn,
    id: &str,
    check: &VersionCheck,
    change: F,
) -> Result<ExpertGroup, DomainError>
where
    F: Fn(&GroupProfile) -> Result<GroupProfile, DomainError>,
{
    let write = |conn: &mut DbConn, current: &ExpertGroup, profile: GroupProfile| {
        if !current.profile.status.can_become(profile.status) {
            return Err(DomainError::Conflict {
                message: format!(
                    "a {} group cannot become {}",
                    current.profile.status, profile.status
                ),
                errors: vec![FieldError::new(
                    "status",
                    "transition",
                    "forming → active or closed, active → closed, closed → active",
                )],
            });
        }
        check_expertise(conn, &profile, Some(&current.profile))?;
        diesel::update(expert_groups::table.find(id))
            .set((
                ProfileColumns::new(&profile),
                expert_groups::version.eq(current.version + 1),
                expert_groups::updated_at.eq(now()),
            ))
            .execute(conn)?;
        write_expertise(conn, id, &profile.expertise)?;
        Ok(())
    };
    let lock = |conn: &mut DbConn| crate::domain::lock_row!(conn, expert_groups, id);
    let change = |current: &ExpertGroup| changed(&current.profile, change);
    let find = |conn: &mut DbConn| find(conn, id);
    let version = |current: &ExpertGroup| current.version;
    update_locked(conn, check, lock, find, version, change, write)
}

/// Marks a group deleted, keeping the row (and its members) as a tombstone for sync.
pub fn soft_delete(conn: &mut DbConn, id: &str, check: &VersionCheck) -> Result<(), DomainError> {
    crate::domain::soft_delete_row!(conn, expert_groups, id, check, live_row)
}

pub fn list(
    conn: &mut DbConn,
    filter: &GroupFilter,
    sort: GroupSort,
    after: Option<&(String, String)>,
    limit: usize,
) -> Result<Page<Listed<ExpertGroup>>, DomainError> {
    use expert_groups::{created_at, id, name_key as key, updated_at};

    taxonomies::check_expertise_filter(conn, &filter.expertise)?;
    let mut query = filtered(filter);
    if let Some((after_key, after_id)) = after {
        let (up, down) = (Direction::Ascending, Direction::Descending);
        query = query.filter(match sort {
            GroupSort::Name => past_cursor(key, after_key.clone(), id, after_id, up),
            GroupSort::NameDesc => past_cursor(key, after_key.clone(), id, after_id, down),
            GroupSort::CreatedAt => {
                past_cursor(created_at, cursor_time(after_key)?, id, after_id, up)
            }
            GroupSort::UpdatedAt => {
                past_cursor(updated_at, cursor_time(after_key)?, id, after_id, up)
            }
        });
    }
    query = match sort {
        GroupSort::Name => query.order((key.asc(), id.asc())),
        GroupSort::NameDesc => query.order((key.desc(), id.desc())),
        GroupSort::CreatedAt => query.order((created_at.asc(), id.asc())),
        GroupSort::UpdatedAt => query.order((updated_at.asc(), id.asc())),
    };
    let position = |last: &GroupRow| {
        let sort_key = match sort {
            GroupSort::Name | GroupSort::NameDesc => last.name_key.clone(),
            GroupSort::CreatedAt => last.created_at.format(CURSOR_TIME_FORMAT).to_string(),
            GroupSort::UpdatedAt => last.updated_at.format(CURSOR_TIME_FORMAT).to_string(),
        };
        (sort_key, last.id.clone())
    };
    let query = query.select(GroupRow::as_select());
    let (rows, next) = crate::domain::load_page(conn, query, limit, position, Ok)?;
    let entries = assemble(conn, rows)?
        .into_iter()
        .map(|(row, group)| match (group, row.deleted_at) {
            (Some(group), _) => Listed::Live(Box::new(group)),
            (None, deleted_at) => {
                Listed::Deleted(Gone::new(row.id, deleted_at.unwrap_or(row.updated_at)))
            }
        })
        .collect();
    Ok((entries, next))
}

/// How many groups match `filter` (for `include_total`).
pub fn count(conn: &mut DbConn, filter: &GroupFilter) -> Result<i64, DomainError> {
    Ok(filtered(filter).count().get_result(conn)?)
}

fn filtered(filter: &GroupFilter) -> expert_groups::BoxedQuery<'_, crate::db::Backend> {
    let mut query = expert_groups::table.into_boxed();
    if !filter.include_deleted {
        query = query.filter(expert_groups::deleted_at.is_null());
    }
    if !filter.kinds.is_empty() {
        let kinds: Vec<&str> = filter.kinds.iter().map(|k| k.as_str()).collect();
        query = query.filter(expert_groups::kind.eq_any(kinds));
    }
    if !filter.statuses.is_empty() {
        let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
        query = query.filter(expert_groups::status.eq_any(statuses));
    }
    if !filter.expertise.is_empty() {
        query = query.filter(
            expert_groups::id.eq_any(
                expert_group_expertise::table
                    .filter(expert_group_expertise::expertise_code.eq_any(&filter.expertise))
                    .select(expert_group_expertise::group_id),
            ),
        );
    }
    if let Some(q) = &filter.q {
        query = query.filter(
            expert_groups::name_key
                .like(format!("%{}%", escape_like(&name_key(q))))
                .escape('\\'),
        );
    }
    if let Some(since) = filter.updated_since {
        query = query.filter(expert_groups::updated_at.gt(since));
    }
    query
}

/// Moves the group's version and `updated_at` on, after locking it and checking it is live.
fn touch(conn: &mut DbConn, group_id: &str) -> Result<GroupStatus, DomainError> {
    crate::domain::lock_row!(conn, expert_groups, group_id)?;
    let row = live_row(conn, group_id)?;
    diesel::update(expert_groups::table.find(group_id))
        .set((
            expert_groups::version.eq(expert_groups::version + 1),
            expert_groups::updated_at.eq(now()),
        ))
        .execute(conn)?;
    parse_stored(&row.status)
}

/// The organisation or contact must exist and not be deleted (422 naming the field).
pub fn check_party(conn: &mut DbConn, party: &Party) -> Result<(), DomainError> {
    party_is_live(conn, party, false)
}

/// `check_party` for a write about to point at the party: an organisation is held live
/// until the transaction ends (see `organisations::lock_live`), so a merge cannot fold it
/// away under the write.
pub fn hold_party(conn: &mut DbConn, party: &Party) -> Result<(), DomainError> {
    party_is_live(conn, party, true)
}

fn party_is_live(conn: &mut DbConn, party: &Party, hold: bool) -> Result<(), DomainError> {
    use crate::db::schema::organisations;
    let (field, found) = match party {
        Party::Organisation(id) if hold => (
            "organisation_id",
            crate::domain::organisations::lock_live(conn, id)?.then_some(()),
        ),
        Party::Organisation(id) => (
            "organisation_id",
            organisations::table
                .find(id)
                .filter(organisations::deleted_at.is_null())
                .select(organisations::id)
                .first::<String>(conn)
                .optional()?
                .map(|_| ()),
        ),
        Party::Contact(id) => (
            "contact_id",
            contacts::table
                .find(id)
                .filter(contacts::deleted_at.is_null())
                .select(contacts::id)
                .first::<String>(conn)
                .optional()?
                .map(|_| ()),
        ),
    };
    match found {
        Some(_) => Ok(()),
        None => Err(DomainError::Invalid(vec![FieldError::new(
            field,
            "unknown",
            match party {
                Party::Organisation(_) => "is not an organisation",
                Party::Contact(_) => "is not a contact",
            },
        )])),
    }
}

fn check_dates(fields: &MemberFields) -> Result<(), DomainError> {
    match fields.left_on {
        Some(left) if left < fields.joined_on => Err(DomainError::Invalid(vec![FieldError::new(
            "left_on",
            "invalid",
            "must not be before joined_on",
        )])),
        _ => Ok(()),
    }
}

/// The rules on seats, whatever their ends: a member's seats in a group never overlap, nor do
/// two chairs' (see `MemberFields::overlaps`). Called with the group locked (`touch`), so two
/// writes to one group's seats cannot both pass; the migrations' trigger holds the same rule.
fn check_overlaps(
    conn: &mut DbConn,
    group_id: &str,
    party: &Party,
    fields: &MemberFields,
    except: Option<&str>,
) -> Result<(), DomainError> {
    let mut query = expert_group_members::table
        .filter(expert_group_members::group_id.eq(group_id.to_owned()))
        .filter(
            expert_group_members::left_on
                .is_null()
                .or(expert_group_members::left_on.ge(fields.joined_on)),
        )
        .select(MemberRow::as_select())
        .into_boxed();
    if let Some(left_on) = fields.left_on {
        query = query.filter(expert_group_members::joined_on.le(left_on));
    }
    if let Some(except) = except {
        query = query.filter(expert_group_members::id.ne(except.to_owned()));
    }
    let overlapping = query
        .order(expert_group_members::id.asc())
        .load::<MemberRow>(conn)?
        .into_iter()
        .map(MemberRow::into_member)
        .collect::<Result<Vec<_>, _>>()?;
    let span = |seat: &GroupMember| match seat.fields.left_on {
        Some(left_on) => format!("from {} to {left_on}", seat.fields.joined_on),
        None => format!("from {} with no end", seat.fields.joined_on),
    };
    if let Some(seat) = overlapping.iter().find(|seat| seat.party == *party) {
        return Err(DomainError::Conflict {
            message: format!(
                "already a member of this group {} (membership {}); memberships of one member \
                 may not overlap: set that one's left_on before this one's joined_on",
                span(seat),
                seat.id
            ),
            errors: vec![FieldError::new(
                "joined_on",
                "overlap",
                "overlaps another membership of the same member",
            )],
        });
    }
    if fields.role == MemberRole::Chair
        && let Some(chair) = overlapping
            .iter()
            .find(|seat| seat.fields.role == MemberRole::Chair)
    {
        return Err(DomainError::Conflict {
            message: format!(
                "the group already has a chair {} (membership {}); a group has one chair at a \
                 time: set their left_on before this one's joined_on",
                span(chair),
                chair.id
            ),
            errors: vec![FieldError::new(
                "role",
                "one_chair",
                "a group has one chair at a time",
            )],
        });
    }
    Ok(())
}

/// A write the migrations' trigger refused: two seats that overlap (only when something got
/// past `check_overlaps`, so still a 409, never a 500).
pub(crate) fn seat_clash(error: diesel::result::Error) -> DomainError {
    match &error {
        diesel::result::Error::DatabaseError(_, info) if info.message().contains(SEATS_OVERLAP) => {
            DomainError::Conflict {
                message: "the membership would overlap another of the same member, or another \
                          chair's"
                    .to_owned(),
                errors: Vec::new(),
            }
        }
        _ => DomainError::Database(error),
    }
}

/// The message of the migrations' overlap trigger (both databases).
const SEATS_OVERLAP: &str = "expert group seats overlap";

fn find_member(
    conn: &mut DbConn,
    group_id: &str,
    member_id: &str,
) -> Result<GroupMember, DomainError> {
    expert_group_members::table
        .find(member_id)
        .filter(expert_group_members::group_id.eq(group_id))
        .select(MemberRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound("group member"))?
        .into_member()
}

/// A member of a live group.
pub fn member(
    conn: &mut DbConn,
    group_id: &str,
    member_id: &str,
) -> Result<GroupMember, DomainError> {
    live_row(conn, group_id)?;
    find_member(conn, group_id, member_id)
}

/// Adds an organisation or contact to a group that is not closed.
pub fn add_member(
    conn: &mut DbConn,
    group_id: &str,
    party: &Party,
    fields: &MemberFields,
) -> Result<GroupMember, DomainError> {
    check_dates(fields)?;
    conn.transaction(|conn| {
        if touch(conn, group_id)? == GroupStatus::Closed {
            return Err(DomainError::Conflict {
                message: "the group is closed: reopen it (status active) to add members".to_owned(),
                errors: Vec::new(),
            });
        }
        hold_party(conn, party)?;
        check_overlaps(conn, group_id, party, fields, None)?;
        let id = new_id();
        let at = now();
        diesel::insert_into(expert_group_members::table)
            .values((
                expert_group_members::id.eq(&id),
                expert_group_members::group_id.eq(group_id),
                expert_group_members::organisation_id.eq(party.organisation_id()),
                expert_group_members::contact_id.eq(party.contact_id()),
                expert_group_members::role.eq(fields.role.as_str()),
                expert_group_members::joined_on.eq(fields.joined_on),
                expert_group_members::left_on.eq(fields.left_on),
                expert_group_members::created_at.eq(at),
                expert_group_members::updated_at.eq(at),
            ))
            .execute(conn)
            .map_err(seat_clash)?;
        find_member(conn, group_id, &id)
    })
}

/// Changes a membership with `change` (a new role, or `left_on` when someone leaves).
pub fn change_member(
    conn: &mut DbConn,
    group_id: &str,
    member_id: &str,
    change: impl FnOnce(MemberFields) -> MemberFields,
) -> Result<GroupMember, DomainError> {
    conn.transaction(|conn| {
        crate::domain::lock_row!(conn, expert_groups, group_id)?;
        live_row(conn, group_id)?;
        let current = find_member(conn, group_id, member_id)?;
        let fields = change(current.fields.clone());
        if fields == current.fields {
            return Ok(current);
        }
        // Only a real change moves the group's version on.
        let status = touch(conn, group_id)?;
        check_dates(&fields)?;
        // Reopening a membership is like adding one, which a closed group refuses.
        if status == GroupStatus::Closed
            && current.fields.left_on.is_some()
            && fields.left_on.is_none()
        {
            return Err(DomainError::Conflict {
                message: "the group is closed: reopen it (status active) first".to_owned(),
                errors: Vec::new(),
            });
        }
        check_overlaps(conn, group_id, &current.party, &fields, Some(member_id))?;
        diesel::update(expert_group_members::table.find(member_id))
            .set((
                expert_group_members::role.eq(fields.role.as_str()),
                expert_group_members::joined_on.eq(fields.joined_on),
                expert_group_members::left_on.eq(fields.left_on),
                expert_group_members::updated_at.eq(now()),
            ))
            .execute(conn)
            .map_err(seat_clash)?;
        find_member(conn, group_id, member_id)
    })
}

/// `query` narrowed to current, past or all memberships as of today.
macro_rules! tenure {
    ($query:expr, $tenure:expr) => {{
        let today = today();
        match $tenure {
            Tenure::Current => $query.filter(member_on(today)),
            Tenure::Past => $query.filter(expert_group_members::left_on.lt(today)),
            Tenure::All => $query,
        }
    }};
}

/// A group's members in the order they were added, after `after` (a membership id).
pub fn members(
    conn: &mut DbConn,
    group_id: &str,
    tenure: Tenure,
    after: Option<&str>,
    limit: usize,
) -> Result<Page<GroupMember>, DomainError> {
    live_row(conn, group_id)?;
    let mut query = expert_group_members::table
        .filter(expert_group_members::group_id.eq(group_id.to_owned()))
        .into_boxed();
    query = tenure!(query, tenure);
    let query = query
        .order(expert_group_members::id.asc())
        .select(MemberRow::as_select());
    let after = after.map(|after| expert_group_members::id.gt(after.to_owned()));
    crate::domain::load_id_page(
        conn,
        query,
        after,
        limit,
        |row| &row.id,
        MemberRow::into_member,
    )
}

/// The memberships of one organisation or contact in live groups, oldest first.
pub fn memberships_of(
    conn: &mut DbConn,
    party: &Party,
    tenure: Tenure,
    after: Option<&str>,
    limit: usize,
) -> Result<Page<Membership>, DomainError> {
    check_party(conn, party).map_err(|_| {
        DomainError::NotFound(match party {
            Party::Organisation(_) => "organisation",
            Party::Contact(_) => "contact",
        })
    })?;
    let mut query = expert_group_members::table
        .inner_join(expert_groups::table)
        .filter(expert_groups::deleted_at.is_null())
        .into_boxed();
    query = match party {
        Party::Organisation(id) => {
            query.filter(expert_group_members::organisation_id.eq(id.clone()))
        }
        Party::Contact(id) => query.filter(expert_group_members::contact_id.eq(id.clone())),
    };
    query = tenure!(query, tenure);
    let query = query.order(expert_group_members::id.asc()).select((
        MemberRow::as_select(),
        (
            expert_groups::name,
            expert_groups::kind,
            expert_groups::status,
        ),
    ));
    let after = after.map(|id| expert_group_members::id.gt(id.to_owned()));
    crate::domain::load_id_page(
        conn,
        query,
        after,
        limit,
        |(row, _): &(MemberRow, (String, String, String))| &row.id,
        |(row, (name, kind, status))| {
            Ok(Membership {
                member: row.into_member()?,
                group_name: name,
                group_kind: parse_stored::<GroupKind>(&kind)?,
                group_status: parse_stored::<GroupStatus>(&status)?,
            })
        },
    )
}

/// The current members of a live group, for inviting the whole group to a consultation.
pub fn current_parties(conn: &mut DbConn, group_id: &str) -> Result<Vec<Party>, DomainError> {
    live_row(conn, group_id)?;
    let today = today();
    let rows: Vec<(Option<String>, Option<String>)> = expert_group_members::table
        .filter(expert_group_members::group_id.eq(group_id))
        .filter(member_on(today))
        .filter(live_party())
        .order(expert_group_members::id.asc())
        .select((
            expert_group_members::organisation_id,
            expert_group_members::contact_id,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(organisation, contact)| Party::from_columns(organisation, contact))
        .collect()
}

/// Whether an expert group with this id was ever stored (deleted ones included), for its history.
pub fn ever_existed(conn: &mut DbConn, id: &str) -> Result<bool, DomainError> {
    Ok(diesel::select(diesel::dsl::exists(expert_groups::table.find(id))).get_result(conn)?)
}
