//! Membership status moves by the calendar alone (current → grace → lapsed, a scheduled
//! withdrawal taking effect, an approved period starting): no row changes, so the feed hears
//! of them from a daily sweep. The feed keeps each organisation's status as it last
//! announced it; an action (`announce`) and the sweep both compare with that, so a move is
//! announced once, whoever made it. The sweep catches up day by day on the days the service
//! was not running, each move on its own day.

use chrono::NaiveDate;
use diesel::prelude::*;
use serde_json::Value;

use super::{Change, Pending, entity};
use crate::db::DbConn;
use crate::db::schema::{calendar_sweep, membership_status_announced as announced, organisations};
use crate::domain::DomainError;
use crate::domain::membership::store::status_filter;
use crate::domain::membership::{GraceWindow, MembershipStatus};

/// What made a status move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    Action,
    Calendar,
}

impl Cause {
    fn as_str(self) -> &'static str {
        match self {
            Self::Action => "action",
            Self::Calendar => "calendar",
        }
    }
}

fn announced_status(conn: &mut DbConn, organisation_id: &str) -> QueryResult<Option<String>> {
    announced::table
        .find(organisation_id)
        .select(announced::status)
        .first(conn)
        .optional()
}

fn remember(conn: &mut DbConn, organisation_id: &str, status: MembershipStatus) -> QueryResult<()> {
    diesel::delete(announced::table.find(organisation_id)).execute(conn)?;
    diesel::insert_into(announced::table)
        .values((
            announced::organisation_id.eq(organisation_id),
            announced::status.eq(status.as_str()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Puts a `membership.status_changed` in `pending` when `status` (the organisation's status
/// on `on`) is not what the feed last said, and remembers it. Run in the write that moved it.
pub fn announce(
    conn: &mut DbConn,
    pending: &mut Pending,
    organisation_id: &str,
    status: Option<MembershipStatus>,
    on: NaiveDate,
    cause: Cause,
) -> QueryResult<()> {
    let Some(status) = status else {
        return Ok(());
    };
    let before = announced_status(conn, organisation_id)?;
    if before.as_deref() == Some(status.as_str()) {
        return Ok(());
    }
    remember(conn, organisation_id, status)?;
    pending.push(
        Change::new(
            "membership.status_changed",
            entity::MEMBERSHIP,
            organisation_id,
        )
        .detail("from", before.map_or(Value::Null, Value::String))
        .detail("to", status.as_str().into())
        .detail("on", on.to_string().into())
        .detail("cause", cause.as_str().into()),
    );
    Ok(())
}

/// The last day swept, `None` before the first sweep.
pub fn swept_through(conn: &mut DbConn) -> QueryResult<Option<NaiveDate>> {
    calendar_sweep::table
        .find(1)
        .select(calendar_sweep::swept_through)
        .first(conn)
}

/// Takes the sweep's lock (PostgreSQL: the row's lock until the transaction ends; SQLite's
/// write transaction already excludes every other writer), so of several instances one
/// sweeps a day and the others then see it swept.
fn lock(conn: &mut DbConn) -> QueryResult<Option<NaiveDate>> {
    diesel::update(calendar_sweep::table.find(1))
        .set(calendar_sweep::swept_through.eq(calendar_sweep::swept_through))
        .execute(conn)?;
    swept_through(conn)
}

fn set_swept(conn: &mut DbConn, day: NaiveDate) -> QueryResult<()> {
    diesel::update(calendar_sweep::table.find(1))
        .set(calendar_sweep::swept_through.eq(Some(day)))
        .execute(conn)?;
    Ok(())
}

/// Live organisations whose status on `day` is `status` and whom the feed last announced
/// otherwise (or never).
fn moved_to(
    conn: &mut DbConn,
    status: MembershipStatus,
    day: NaiveDate,
    grace: GraceWindow,
) -> QueryResult<Vec<String>> {
    let Some(condition) = status_filter(&[status], day, grace) else {
        return Ok(Vec::new());
    };
    organisations::table
        .into_boxed()
        .filter(organisations::deleted_at.is_null())
        .filter(condition)
        .filter(diesel::dsl::not(
            organisations::id.eq_any(
                announced::table
                    .filter(announced::status.eq(status.as_str()))
                    .select(announced::organisation_id),
            ),
        ))
        .select(organisations::id)
        .order(organisations::id)
        .load(conn)
}

/// The other records the calendar changes on `day`: a contact whose affiliation ended the day
/// before (their current organisations change) and a group seat that starts on the day or
/// ended the day before (the group's current members change). Dates alone decide these, so
/// each is told once, on its day.
fn dated_changes(conn: &mut DbConn, pending: &mut Pending, day: NaiveDate) -> QueryResult<usize> {
    use crate::db::schema::{contact_affiliations as a, contacts, expert_group_members as m};
    let Some(yesterday) = day.pred_opt() else {
        return Ok(0);
    };
    let on_day = |change: Change| {
        change
            .detail("on", day.to_string().into())
            .detail("cause", Cause::Calendar.as_str().into())
    };
    let people: Vec<String> = a::table
        .inner_join(contacts::table)
        .filter(a::end_on.eq(yesterday))
        .filter(contacts::deleted_at.is_null())
        .select(a::contact_id)
        .distinct()
        .order(a::contact_id)
        .load(conn)?;
    let seats: Vec<(String, String)> = m::table
        .filter(m::joined_on.eq(day).or(m::left_on.eq(yesterday)))
        .select((m::id, m::group_id))
        .order(m::id)
        .load(conn)?;
    let count = people.len() + seats.len();
    for person in people {
        pending.push(on_day(Change::new(
            "contact.updated",
            entity::CONTACT,
            &person,
        )));
    }
    for (seat, group) in seats {
        pending.push(on_day(Change {
            parent_id: Some(group),
            ..Change::new("expert_group.member.updated", entity::GROUP_MEMBER, &seat)
        }));
    }
    Ok(count)
}

/// Rows of the first sweep per insert: two bound values each, well under SQLite's limit.
const REMEMBERED_PER_STATEMENT: usize = 1000;

const STATUSES: [MembershipStatus; 5] = [
    MembershipStatus::Pending,
    MembershipStatus::Current,
    MembershipStatus::Grace,
    MembershipStatus::Lapsed,
    MembershipStatus::Withdrawn,
];

/// What one step of the sweep did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The first sweep of this database: statuses on the day remembered, nothing announced
    /// (the feed starts here; a client syncs in full once, then follows it).
    Started(NaiveDate),
    /// The day's moves announced (status moves, and the affiliations and seats it
    /// started or ended).
    Swept { day: NaiveDate, moves: usize },
    /// Every day up to the one asked for was already swept (by another instance, perhaps).
    UpToDate,
}

/// One step towards having swept through `today`: the first sweep, or the next day not yet
/// swept. Run each step in a write transaction of its own, so a long catch-up never holds
/// the write lock for long; repeat until `UpToDate`.
pub fn sweep_step(
    conn: &mut DbConn,
    today: NaiveDate,
    grace: GraceWindow,
) -> Result<Step, DomainError> {
    let swept = lock(conn)?;
    let mut pending = Pending::default();
    let step = match swept {
        Some(swept) if swept >= today => return Ok(Step::UpToDate),
        None => {
            // Nothing is remembered yet: every status is new, written in batches (a large
            // membership would otherwise hold start-up for a statement per organisation).
            for status in STATUSES {
                let ids = moved_to(conn, status, today, grace)?;
                for batch in ids.chunks(REMEMBERED_PER_STATEMENT) {
                    let rows: Vec<_> = batch
                        .iter()
                        .map(|id| {
                            (
                                announced::organisation_id.eq(id),
                                announced::status.eq(status.as_str()),
                            )
                        })
                        .collect();
                    crate::with_backend!(conn, |c| diesel::insert_into(announced::table)
                        .values(&rows)
                        .execute(c))?;
                }
            }
            set_swept(conn, today)?;
            Step::Started(today)
        }
        Some(swept) => {
            let day = swept.succ_opt().unwrap_or(today);
            let mut moves = 0;
            for status in STATUSES {
                for id in moved_to(conn, status, day, grace)? {
                    announce(conn, &mut pending, &id, Some(status), day, Cause::Calendar)?;
                    moves += 1;
                }
            }
            moves += dated_changes(conn, &mut pending, day)?;
            set_swept(conn, day)?;
            Step::Swept { day, moves }
        }
    };
    pending.seal(conn, crate::domain::now())?;
    Ok(step)
}
