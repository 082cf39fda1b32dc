//! Reading and writing consultations, their invitations and their responses, and the
//! participation figures worked out from them in SQL.

use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::{
    Attribution, Consultation, ConsultationFilter, ConsultationProfile, ConsultationSort,
    ConsultationStatus, HiddenInvitees, HistoryEntry, Invitation, Participation, Party, Response,
    ResponseFields, anonymous_responses_disclosed,
};
use crate::db::DbConn;
use crate::db::schema::{
    consultation_expertise, consultation_invitations, consultation_responses, consultations,
    expert_groups,
};
use crate::domain::Page;
use crate::domain::expert_groups::store::{check_party, current_parties, hold_party};
use crate::domain::id_position;
use crate::domain::one_of;
use crate::domain::organisations::name_key;
use crate::domain::{
    CURSOR_TIME_FORMAT, Direction, DomainError, FieldError, Gone, Listed, VersionCheck, changed,
    cursor_time, escape_like, new_id, now, parse_stored, past_cursor, taxonomies, update_locked,
};
use crate::with_backend;

const ENTITY: &str = "consultation";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = consultations)]
struct ConsultationRow {
    id: String,
    title: String,
    title_key: String,
    kind: String,
    summary: Option<String>,
    lead_group_id: Option<String>,
    opens_on: Option<NaiveDate>,
    closes_on: Option<NaiveDate>,
    status: String,
    external_url: Option<String>,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    deleted_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = consultation_responses)]
struct ResponseRow {
    id: String,
    consultation_id: String,
    organisation_id: Option<String>,
    contact_id: Option<String>,
    summary: Option<String>,
    attribution: String,
    attended: Option<bool>,
    submitted_at: NaiveDateTime,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// The columns a consultation's profile writes, on insert and update alike.
#[derive(Insertable, AsChangeset)]
#[diesel(
    table_name = consultations,
    treat_none_as_null = true,
    treat_none_as_default_value = false
)]
struct ProfileColumns<'a> {
    title: &'a str,
    title_key: String,
    kind: &'static str,
    summary: Option<&'a str>,
    lead_group_id: Option<&'a str>,
    opens_on: Option<NaiveDate>,
    closes_on: Option<NaiveDate>,
    status: &'static str,
    external_url: Option<&'a str>,
}

impl<'a> ProfileColumns<'a> {
    fn new(profile: &'a ConsultationProfile) -> Self {
        Self {
            title: &profile.title,
            title_key: name_key(&profile.title),
            kind: profile.kind.as_str(),
            summary: profile.summary.as_deref(),
            lead_group_id: profile.lead_group_id.as_deref(),
            opens_on: profile.opens_on,
            closes_on: profile.closes_on,
            status: profile.status.as_str(),
            external_url: profile.external_url.as_deref(),
        }
    }
}

impl ResponseRow {
    fn into_response(self) -> Result<Response, DomainError> {
        Ok(Response {
            fields: ResponseFields {
                summary: self.summary,
                attribution: parse_stored(&self.attribution)?,
                attended: self.attended,
                submitted_at: self.submitted_at,
            },
            id: self.id,
            consultation_id: self.consultation_id,
            organisation_id: self.organisation_id,
            contact_id: self.contact_id,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// The key that makes a respondent answer once: the organisation when given, otherwise
/// the contact.
fn respondent_key(party: &Party) -> String {
    match party {
        Party::Organisation(id) => format!("organisation:{id}"),
        Party::Contact(id) => format!("contact:{id}"),
    }
}

fn conflict(message: impl Into<String>) -> DomainError {
    DomainError::Conflict {
        message: message.into(),
        errors: Vec::new(),
    }
}

/// Codes must be active (those already on the record may have been retired since), and a
/// lead group must be a live expert group.
fn check_against_store(
    conn: &mut DbConn,
    profile: &ConsultationProfile,
    current: Option<&ConsultationProfile>,
) -> Result<(), DomainError> {
    let kept = current.map(|c| c.expertise.as_slice()).unwrap_or_default();
    let mut errors = taxonomies::expertise_errors(conn, &profile.expertise, kept)?;
    // A lead group deleted since it was set stays on the record, as retired codes do.
    let unchanged = current.is_some_and(|c| c.lead_group_id == profile.lead_group_id);
    if let Some(group) = profile.lead_group_id.as_ref().filter(|_| !unchanged) {
        let found = expert_groups::table
            .find(group)
            .filter(expert_groups::deleted_at.is_null())
            .select(expert_groups::id)
            .first::<String>(conn)
            .optional()?;
        if found.is_none() {
            errors.push(FieldError::new(
                "lead_group_id",
                "unknown",
                "is not an expert group",
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Invalid(errors))
    }
}

fn write_expertise(conn: &mut DbConn, id: &str, codes: &[String]) -> QueryResult<()> {
    diesel::delete(consultation_expertise::table)
        .filter(consultation_expertise::consultation_id.eq(id))
        .execute(conn)?;
    if codes.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = codes
        .iter()
        .map(|code| {
            (
                consultation_expertise::consultation_id.eq(id),
                consultation_expertise::expertise_code.eq(code),
            )
        })
        .collect();
    // Multi-row inserts do not compile through the connection enum.
    with_backend!(conn, |c| diesel::insert_into(consultation_expertise::table)
        .values(&rows)
        .execute(c))?;
    Ok(())
}

/// Expertise codes for a page of consultations in one query.
fn assemble(
    conn: &mut DbConn,
    rows: Vec<ConsultationRow>,
) -> Result<Vec<Listed<Consultation>>, DomainError> {
    let ids: Vec<String> = rows
        .iter()
        .filter(|row| row.deleted_at.is_none())
        .map(|row| row.id.clone())
        .collect();
    let mut expertise: HashMap<String, Vec<String>> = HashMap::new();
    if !ids.is_empty() {
        let codes: Vec<(String, String)> =
            one_of!(&ids[..], consultation_expertise::consultation_id, |ours| {
                consultation_expertise::table
                    .filter(ours)
                    .order(consultation_expertise::expertise_code)
                    .select((
                        consultation_expertise::consultation_id,
                        consultation_expertise::expertise_code,
                    ))
                    .load(conn)
            })?;
        for (id, code) in codes {
            expertise.entry(id).or_default().push(code);
        }
    }
    rows.into_iter()
        .map(|row| {
            if let Some(deleted_at) = row.deleted_at {
                return Ok(Listed::Deleted(Gone::new(row.id, deleted_at)));
            }
            Ok(Listed::Live(Box::new(Consultation {
                profile: ConsultationProfile {
                    kind: parse_stored(&row.kind)?,
                    status: parse_stored(&row.status)?,
                    expertise: expertise.remove(&row.id).unwrap_or_default(),
                    title: row.title,
                    summary: row.summary,
                    lead_group_id: row.lead_group_id,
                    opens_on: row.opens_on,
                    closes_on: row.closes_on,
                    external_url: row.external_url,
                },
                id: row.id,
                version: row.version,
                created_at: row.created_at,
                updated_at: row.updated_at,
            })))
        })
        .collect()
}

fn live_row(conn: &mut DbConn, id: &str) -> Result<ConsultationRow, DomainError> {
    consultations::table
        .find(id)
        .filter(consultations::deleted_at.is_null())
        .select(ConsultationRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound(ENTITY))
}

fn live_status(conn: &mut DbConn, id: &str) -> Result<ConsultationStatus, DomainError> {
    parse_stored(&live_row(conn, id)?.status)
}

/// A live (not deleted) consultation.
pub fn find(conn: &mut DbConn, id: &str) -> Result<Consultation, DomainError> {
    let row = live_row(conn, id)?;
    match assemble(conn, vec![row])?.pop() {
        Some(Listed::Live(consultation)) => Ok(*consultation),
        _ => Err(DomainError::NotFound(ENTITY)),
    }
}

pub fn create(
    conn: &mut DbConn,
    profile: &ConsultationProfile,
) -> Result<Consultation, DomainError> {
    if !matches!(
        profile.status,
        ConsultationStatus::Draft | ConsultationStatus::Open
    ) {
        return Err(DomainError::Invalid(vec![FieldError::new(
            "status",
            "invalid",
            "a new consultation is draft or open",
        )]));
    }
    conn.transaction(|conn| {
        check_against_store(conn, profile, None)?;
        let id = new_id();
        let at = now();
        diesel::insert_into(consultations::table)
            .values((
                consultations::id.eq(&id),
                ProfileColumns::new(profile),
                consultations::version.eq(1),
                consultations::created_at.eq(at),
                consultations::updated_at.eq(at),
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
) -> Result<Consultation, DomainError>
where
    F: Fn(&ConsultationProfile) -> Result<ConsultationProfile, DomainError>,
{
    let write = |conn: &mut DbConn, current: &Consultation, profile: ConsultationProfile| {
        if !current.profile.status.can_become(profile.status) {
            return Err(DomainError::Conflict {
                message: format!(
                    "a {} consultation cannot become {}",
                    current.profile.status, profile.status
                ),
                errors: vec![FieldError::new(
                    "status",
                    "transition",
                    "draft → open → closed → published; closed → open reopens",
                )],
            });
        }
        check_against_store(conn, &profile, Some(&current.profile))?;
        diesel::update(consultations::table.find(id))
            .set((
                ProfileColumns::new(&profile),
                consultations::version.eq(current.version + 1),
                consultations::updated_at.eq(now()),
            ))
            .execute(conn)?;
        write_expertise(conn, id, &profile.expertise)?;
        Ok(())
    };
    let lock = |conn: &mut DbConn| crate::domain::lock_row!(conn, consultations, id);
    let change = |current: &Consultation| changed(&current.profile, change);
    let find = |conn: &mut DbConn| find(conn, id);
    let version = |current: &Consultation| current.version;
    update_locked(conn, check, lock, find, version, change, write)
}

/// Marks a consultation deleted, keeping it as a tombstone for sync.
pub fn soft_delete(conn: &mut DbConn, id: &str, check: &VersionCheck) -> Result<(), DomainError> {
    crate::domain::soft_delete_row!(conn, consultations, id, check, live_row)
}

fn filtered(filter: &ConsultationFilter) -> consultations::BoxedQuery<'_, crate::db::Backend> {
    let mut query = consultations::table.into_boxed();
    if !filter.include_deleted {
        query = query.filter(consultations::deleted_at.is_null());
    }
    if !filter.kinds.is_empty() {
        let kinds: Vec<&str> = filter.kinds.iter().map(|k| k.as_str()).collect();
        query = query.filter(consultations::kind.eq_any(kinds));
    }
    if !filter.statuses.is_empty() {
        let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
        query = query.filter(consultations::status.eq_any(statuses));
    }
    if !filter.lead_groups.is_empty() {
        let lead = consultations::lead_group_id;
        query = one_of!(&filter.lead_groups[..], lead, |led_by| query.filter(led_by));
    }
    if !filter.expertise.is_empty() {
        query = query.filter(
            consultations::id.eq_any(
                consultation_expertise::table
                    .filter(consultation_expertise::expertise_code.eq_any(&filter.expertise))
                    .select(consultation_expertise::consultation_id),
            ),
        );
    }
    if let Some(q) = &filter.q {
        query = query.filter(
            consultations::title_key
                .like(format!("%{}%", escape_like(&name_key(q))))
                .escape('\\'),
        );
    }
    if let Some(since) = filter.updated_since {
        query = query.filter(consultations::updated_at.gt(since));
    }
    query
}

pub fn list(
    conn: &mut DbConn,
    filter: &ConsultationFilter,
    sort: ConsultationSort,
    after: Option<&(String, String)>,
    limit: usize,
) -> Result<Page<Listed<Consultation>>, DomainError> {
    use consultations::{created_at, id, title_key, updated_at};

    taxonomies::check_expertise_filter(conn, &filter.expertise)?;
    let mut query = filtered(filter);
    if let Some((after_key, after_id)) = after {
        use ConsultationSort as S;
        let (up, down) = (Direction::Ascending, Direction::Descending);
        let title = |direction| past_cursor(title_key, after_key.clone(), id, after_id, direction);
        let opens_on = |date, direction| past_cursor(opens_on_key(), date, id, after_id, direction);
        query = query.filter(match sort {
            S::Title => title(up),
            S::TitleDesc => title(down),
            S::OpensOn => opens_on(cursor_date(after_key)?, up),
            S::OpensOnDesc => opens_on(cursor_date(after_key)?, down),
            S::CreatedAt => past_cursor(created_at, cursor_time(after_key)?, id, after_id, up),
            S::UpdatedAt => past_cursor(updated_at, cursor_time(after_key)?, id, after_id, up),
        });
    }
    query = match sort {
        ConsultationSort::Title => query.order((title_key.asc(), id.asc())),
        ConsultationSort::TitleDesc => query.order((title_key.desc(), id.desc())),
        ConsultationSort::OpensOn => query.order((opens_on_key().asc(), id.asc())),
        ConsultationSort::OpensOnDesc => query.order((opens_on_key().desc(), id.desc())),
        ConsultationSort::CreatedAt => query.order((created_at.asc(), id.asc())),
        ConsultationSort::UpdatedAt => query.order((updated_at.asc(), id.asc())),
    };
    let position = |last: &ConsultationRow| {
        let key = match sort {
            ConsultationSort::Title | ConsultationSort::TitleDesc => last.title_key.clone(),
            ConsultationSort::OpensOn | ConsultationSort::OpensOnDesc => last
                .opens_on
                .unwrap_or_else(undated)
                .format("%Y-%m-%d")
                .to_string(),
            ConsultationSort::CreatedAt => last.created_at.format(CURSOR_TIME_FORMAT).to_string(),
            ConsultationSort::UpdatedAt => last.updated_at.format(CURSOR_TIME_FORMAT).to_string(),
        };
        (key, last.id.clone())
    };
    let query = query.select(ConsultationRow::as_select());
    let (rows, next) = crate::domain::load_page(conn, query, limit, position, Ok)?;
    Ok((assemble(conn, rows)?, next))
}

/// Where consultations without `opens_on` sort: after every real date (the same day as
/// the literal in `opens_on_key`).
fn undated() -> NaiveDate {
    NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX)
}

/// `opens_on` with the undated sorted last: the same literal works on both backends (SQLite
/// stores dates as ISO text; PostgreSQL reads the literal as a date).
fn opens_on_key() -> diesel::expression::SqlLiteral<diesel::sql_types::Date> {
    diesel::dsl::sql("COALESCE(consultations.opens_on, '9999-12-31')")
}

fn cursor_date(key: &str) -> Result<NaiveDate, DomainError> {
    NaiveDate::parse_from_str(key, "%Y-%m-%d").map_err(|_| {
        DomainError::BadFilter(vec![FieldError::new(
            "cursor",
            "invalid",
            "is not a cursor this API issued",
        )])
    })
}

/// How many consultations match `filter` (for `include_total`).
pub fn count(conn: &mut DbConn, filter: &ConsultationFilter) -> Result<i64, DomainError> {
    Ok(filtered(filter).count().get_result(conn)?)
}

/// Whom to invite: one organisation, or every current member of an expert group.
#[derive(Debug, Clone)]
pub enum Invitee {
    Organisation(String),
    Group(String),
}

/// Invites an organisation, or a whole group as its members stand now (each invitation
/// records the group). Those already invited are skipped and returned as the second list.
pub fn invite(
    conn: &mut DbConn,
    consultation_id: &str,
    invitee: &Invitee,
) -> Result<(Vec<Invitation>, Vec<Party>), DomainError> {
    conn.transaction(|conn| {
        if live_status(conn, consultation_id)? == ConsultationStatus::Published {
            return Err(conflict(
                "the consultation is published: nobody more can be invited",
            ));
        }
        let (parties, via_group) = match invitee {
            Invitee::Organisation(id) => {
                let party = Party::Organisation(id.clone());
                hold_party(conn, &party)?;
                (vec![party], None)
            }
            Invitee::Group(group) => {
                let parties = current_parties(conn, group).map_err(|error| match error {
                    DomainError::NotFound(_) => DomainError::Invalid(vec![FieldError::new(
                        "expert_group_id",
                        "unknown",
                        "is not an expert group",
                    )]),
                    other => other,
                })?;
                (parties, Some(group.clone()))
            }
        };
        let mut invited = Vec::new();
        let mut skipped = Vec::new();
        let at = now();
        for party in parties {
            let mut existing = consultation_invitations::table
                .filter(consultation_invitations::consultation_id.eq(consultation_id))
                .select(consultation_invitations::id)
                .into_boxed();
            existing = match &party {
                Party::Organisation(id) => {
                    existing.filter(consultation_invitations::organisation_id.eq(id.clone()))
                }
                Party::Contact(id) => {
                    existing.filter(consultation_invitations::contact_id.eq(id.clone()))
                }
            };
            if existing.first::<String>(conn).optional()?.is_some() {
                skipped.push(party);
                continue;
            }
            let id = new_id();
            diesel::insert_into(consultation_invitations::table)
                .values((
                    consultation_invitations::id.eq(&id),
                    consultation_invitations::consultation_id.eq(consultation_id),
                    consultation_invitations::organisation_id.eq(party.organisation_id()),
                    consultation_invitations::contact_id.eq(party.contact_id()),
                    consultation_invitations::via_group_id.eq(&via_group),
                    consultation_invitations::invited_at.eq(at),
                ))
                .execute(conn)?;
            invited.push(Invitation {
                id,
                consultation_id: consultation_id.to_owned(),
                party,
                via_group_id: via_group.clone(),
                invited_at: at,
                response: None,
            });
        }
        attach_responses(conn, consultation_id, &mut invited)?;
        Ok((invited, skipped))
    })
}

type InvitationRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    NaiveDateTime,
);

/// Fills in each invitee's response (one query for the whole page).
fn attach_responses(
    conn: &mut DbConn,
    consultation_id: &str,
    invitations: &mut [Invitation],
) -> Result<(), DomainError> {
    let keys: Vec<String> = invitations
        .iter()
        .map(|i| respondent_key(&i.party))
        .collect();
    if keys.is_empty() {
        return Ok(());
    }
    let answers: HashMap<String, (String, Option<bool>)> = consultation_responses::table
        .filter(consultation_responses::consultation_id.eq(consultation_id))
        .filter(consultation_responses::respondent_key.eq_any(&keys))
        .select((
            consultation_responses::respondent_key,
            (
                consultation_responses::attribution,
                consultation_responses::attended,
            ),
        ))
        .load::<(String, (String, Option<bool>))>(conn)?
        .into_iter()
        .collect();
    for invitation in invitations {
        if let Some((attribution, attended)) = answers.get(&respondent_key(&invitation.party)) {
            invitation.response = Some((parse_stored(attribution)?, *attended));
        }
    }
    Ok(())
}

/// A consultation's invitations in the order they were made.
pub fn invitations(
    conn: &mut DbConn,
    consultation_id: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Page<Invitation>, DomainError> {
    live_row(conn, consultation_id)?;
    let mut query = consultation_invitations::table
        .filter(consultation_invitations::consultation_id.eq(consultation_id.to_owned()))
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(consultation_invitations::id.gt(after.to_owned()));
    }
    let query = query.order(consultation_invitations::id.asc()).select((
        consultation_invitations::id,
        consultation_invitations::consultation_id,
        consultation_invitations::organisation_id,
        consultation_invitations::contact_id,
        consultation_invitations::via_group_id,
        consultation_invitations::invited_at,
    ));
    let position = |last: &InvitationRow| id_position(&last.0);
    let (mut invitations, next) = crate::domain::load_page(
        conn,
        query,
        limit,
        position,
        |(id, consultation_id, organisation, contact, via, at)| {
            Ok(Invitation {
                id,
                consultation_id,
                party: Party::from_columns(organisation, contact)?,
                via_group_id: via,
                invited_at: at,
                response: None,
            })
        },
    )?;
    attach_responses(conn, consultation_id, &mut invitations)?;
    Ok((invitations, next))
}

/// Records a response to an open consultation; a second from the same respondent is a 409.
pub fn respond(
    conn: &mut DbConn,
    consultation_id: &str,
    organisation_id: Option<&str>,
    contact_id: Option<&str>,
    fields: &ResponseFields,
) -> Result<Response, DomainError> {
    conn.transaction(|conn| {
        let status = live_status(conn, consultation_id)?;
        if status != ConsultationStatus::Open {
            return Err(conflict(format!(
                "the consultation is {status}: responses are taken only while it is open"
            )));
        }
        let mut errors = Vec::new();
        for party in [
            organisation_id.map(|id| Party::Organisation(id.to_owned())),
            contact_id.map(|id| Party::Contact(id.to_owned())),
        ]
        .into_iter()
        .flatten()
        {
            match hold_party(conn, &party) {
                Ok(()) => {}
                Err(DomainError::Invalid(mut more)) => errors.append(&mut more),
                Err(other) => return Err(other),
            }
        }
        if !errors.is_empty() {
            return Err(DomainError::Invalid(errors));
        }
        let respondent = match (organisation_id, contact_id) {
            (Some(id), _) => Party::Organisation(id.to_owned()),
            (None, Some(id)) => Party::Contact(id.to_owned()),
            (None, None) => {
                return Err(DomainError::Invalid(vec![FieldError::new(
                    "organisation_id",
                    "required",
                    "give organisation_id, contact_id or both",
                )]));
            }
        };
        let key = respondent_key(&respondent);
        let existing = consultation_responses::table
            .filter(consultation_responses::consultation_id.eq(consultation_id))
            .filter(consultation_responses::respondent_key.eq(&key))
            .select(consultation_responses::id)
            .first::<String>(conn)
            .optional()?;
        if let Some(existing) = existing {
            return Err(conflict(format!(
                "this respondent has already responded (response {existing}): update that response instead"
            )));
        }
        let id = new_id();
        let at = now();
        diesel::insert_into(consultation_responses::table)
            .values((
                consultation_responses::id.eq(&id),
                consultation_responses::consultation_id.eq(consultation_id),
                consultation_responses::organisation_id.eq(organisation_id),
                consultation_responses::contact_id.eq(contact_id),
                consultation_responses::respondent_key.eq(&key),
                consultation_responses::summary.eq(&fields.summary),
                consultation_responses::attribution.eq(fields.attribution.as_str()),
                consultation_responses::attended.eq(fields.attended),
                consultation_responses::submitted_at.eq(fields.submitted_at),
                consultation_responses::version.eq(1),
                consultation_responses::created_at.eq(at),
                consultation_responses::updated_at.eq(at),
            ))
            .execute(conn)?;
        find_response(conn, consultation_id, &id)
    })
}

fn find_response(
    conn: &mut DbConn,
    consultation_id: &str,
    response_id: &str,
) -> Result<Response, DomainError> {
    consultation_responses::table
        .find(response_id)
        .filter(consultation_responses::consultation_id.eq(consultation_id))
        .select(ResponseRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound("response"))?
        .into_response()
}

/// A response to a live consultation.
pub fn response(
    conn: &mut DbConn,
    consultation_id: &str,
    response_id: &str,
) -> Result<Response, DomainError> {
    live_row(conn, consultation_id)?;
    find_response(conn, consultation_id, response_id)
}

/// Changes a response while the consultation is open or closed (attendance is often recorded
/// after an event); draft and published consultations refuse (409).
pub fn update_response(
    conn: &mut DbConn,
    consultation_id: &str,
    response_id: &str,
    check: &VersionCheck,
    change: impl FnOnce(ResponseFields) -> ResponseFields,
) -> Result<Response, DomainError> {
    conn.transaction(|conn| {
        crate::domain::lock_row!(conn, consultation_responses, response_id)?;
        let status = live_status(conn, consultation_id)?;
        let current = find_response(conn, consultation_id, response_id)?;
        check.require(current.version)?;
        if !matches!(
            status,
            ConsultationStatus::Open | ConsultationStatus::Closed
        ) {
            return Err(conflict(format!(
                "the consultation is {status}: its responses cannot change"
            )));
        }
        let fields = change(current.fields.clone());
        if fields == current.fields {
            return Ok(current);
        }
        diesel::update(consultation_responses::table.find(response_id))
            .set((
                consultation_responses::summary.eq(&fields.summary),
                consultation_responses::attribution.eq(fields.attribution.as_str()),
                consultation_responses::attended.eq(fields.attended),
                consultation_responses::submitted_at.eq(fields.submitted_at),
                consultation_responses::version.eq(current.version + 1),
                consultation_responses::updated_at.eq(now()),
            ))
            .execute(conn)?;
        find_response(conn, consultation_id, response_id)
    })
}

/// Which responses a list returns.
#[derive(Debug, Clone, Default)]
pub struct ResponseFilter {
    pub attended: Option<bool>,
    pub attribution: Option<Attribution>,
    /// Named responses only: for callers who may not learn of the anonymous ones.
    pub named_only: bool,
}

/// A consultation's responses in the order they were recorded.
pub fn responses(
    conn: &mut DbConn,
    consultation_id: &str,
    filter: &ResponseFilter,
    after: Option<&str>,
    limit: usize,
) -> Result<Page<Response>, DomainError> {
    live_row(conn, consultation_id)?;
    let mut query = consultation_responses::table
        .filter(consultation_responses::consultation_id.eq(consultation_id.to_owned()))
        .into_boxed();
    if let Some(attended) = filter.attended {
        query = query.filter(consultation_responses::attended.eq(attended));
    }
    if let Some(attribution) = filter.attribution {
        query = query.filter(consultation_responses::attribution.eq(attribution.as_str()));
    }
    if filter.named_only {
        query = query.filter(consultation_responses::attribution.eq(Attribution::Named.as_str()));
    }
    let query = query
        .order(consultation_responses::id.asc())
        .select(ResponseRow::as_select());
    let after = after.map(|after| consultation_responses::id.gt(after.to_owned()));
    crate::domain::load_id_page(
        conn,
        query,
        after,
        limit,
        |row| &row.id,
        ResponseRow::into_response,
    )
}

/// The participation figures of a consultation, counted in SQL.
pub fn participation(
    conn: &mut DbConn,
    consultation_id: &str,
) -> Result<Participation, DomainError> {
    use consultation_invitations as inv;
    use consultation_responses as res;
    live_row(conn, consultation_id)?;
    let invited = || inv::table.filter(inv::consultation_id.eq(consultation_id.to_owned()));
    let responded = || res::table.filter(res::consultation_id.eq(consultation_id.to_owned()));
    let invited_organisations: i64 = invited()
        .filter(inv::organisation_id.is_not_null())
        .count()
        .get_result(conn)?;
    let invited_contacts: i64 = invited()
        .filter(inv::contact_id.is_not_null())
        .count()
        .get_result(conn)?;
    let responded_organisations: i64 = responded()
        .filter(res::organisation_id.is_not_null())
        .count()
        .get_result(conn)?;
    let responded_contacts: i64 = responded()
        .filter(res::organisation_id.is_null())
        .count()
        .get_result(conn)?;
    let anonymous_responses: i64 = responded()
        .filter(res::attribution.eq(Attribution::Anonymous.as_str()))
        .count()
        .get_result(conn)?;
    let attended: i64 = responded()
        .filter(res::attended.eq(true))
        .count()
        .get_result(conn)?;
    let (mut invitees_responded, mut invited_organisations_responded) = (0, 0);
    let mut hidden = HiddenInvitees::default();
    for (party, answer) in answers(conn, consultation_id)? {
        if answer.is_some() {
            invitees_responded += 1;
            if matches!(party, Party::Organisation(_)) {
                invited_organisations_responded += 1;
            }
        }
        if answer != Some(Attribution::Named) {
            hide(&mut hidden, &party);
        }
    }
    Ok(Participation {
        invited_organisations,
        invited_contacts,
        responded_organisations,
        responded_contacts,
        anonymous_responses,
        invitees_responded,
        invited_organisations_responded,
        attended,
        hidden,
    })
}

/// Each invitee of a consultation with the attribution of its response, if any: an invitee
/// responded when a response carries its respondent key.
fn answers(
    conn: &mut DbConn,
    consultation_id: &str,
) -> Result<Vec<(Party, Option<Attribution>)>, DomainError> {
    use consultation_invitations as inv;
    use consultation_responses as res;
    let answered: HashMap<String, String> = res::table
        .filter(res::consultation_id.eq(consultation_id))
        .select((res::respondent_key, res::attribution))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    inv::table
        .filter(inv::consultation_id.eq(consultation_id))
        .select((inv::organisation_id, inv::contact_id))
        .load::<(Option<String>, Option<String>)>(conn)?
        .into_iter()
        .map(|(organisation, contact)| {
            let party = Party::from_columns(organisation, contact)?;
            let answer = answered
                .get(&respondent_key(&party))
                .map(|attribution| parse_stored::<Attribution>(attribution))
                .transpose()?;
            Ok((party, answer))
        })
        .collect()
}

fn hide(hidden: &mut HiddenInvitees, party: &Party) {
    match party {
        Party::Organisation(_) => hidden.organisations += 1,
        Party::Contact(_) => hidden.contacts += 1,
    }
}

/// Whether a caller may learn of the consultation's anonymous responses (see
/// [`anonymous_responses_disclosed`]); staff and admins are answered without a query.
pub fn anonymous_responses_disclosed_to(
    conn: &mut DbConn,
    consultation_id: &str,
    sees_anonymous: bool,
    threshold: i64,
) -> Result<bool, DomainError> {
    live_row(conn, consultation_id)?;
    if sees_anonymous {
        return Ok(true);
    }
    let mut hidden = HiddenInvitees::default();
    for (party, answer) in answers(conn, consultation_id)? {
        if answer != Some(Attribution::Named) {
            hide(&mut hidden, &party);
        }
    }
    Ok(anonymous_responses_disclosed(false, hidden, threshold))
}

/// An organisation's consultations: those it was invited to or responded to, one entry per
/// consultation in id order, after `after` (a consultation id). Without `with_anonymous`
/// its anonymous responses are left out, so nothing (not even an entry, or a cursor) tells
/// of them.
pub fn history(
    conn: &mut DbConn,
    organisation_id: &str,
    with_anonymous: bool,
    after: Option<&str>,
    limit: usize,
) -> Result<Page<HistoryEntry>, DomainError> {
    check_party(conn, &Party::Organisation(organisation_id.to_owned()))
        .map_err(|_| DomainError::NotFound("organisation"))?;
    let after = after.unwrap_or_default().to_owned();
    let invited: Vec<(String, NaiveDateTime, Option<String>)> = consultation_invitations::table
        .filter(consultation_invitations::organisation_id.eq(organisation_id))
        .filter(consultation_invitations::consultation_id.gt(&after))
        .select((
            consultation_invitations::consultation_id,
            consultation_invitations::invited_at,
            consultation_invitations::via_group_id,
        ))
        .load(conn)?;
    let mut responses = consultation_responses::table
        .filter(consultation_responses::organisation_id.eq(organisation_id))
        .filter(consultation_responses::consultation_id.gt(&after))
        .into_boxed();
    if !with_anonymous {
        responses =
            responses.filter(consultation_responses::attribution.eq(Attribution::Named.as_str()));
    }
    let answered: Vec<(String, String, Option<bool>, NaiveDateTime)> = responses
        .select((
            consultation_responses::consultation_id,
            consultation_responses::attribution,
            consultation_responses::attended,
            consultation_responses::submitted_at,
        ))
        .load(conn)?;
    type Involvement = (
        Option<(NaiveDateTime, Option<String>)>,
        Option<(Attribution, Option<bool>, NaiveDateTime)>,
    );
    let mut involvement: BTreeMap<String, Involvement> = BTreeMap::new();
    for (consultation, at, via) in invited {
        involvement.entry(consultation).or_default().0 = Some((at, via));
    }
    for (consultation, attribution, attended, submitted_at) in answered {
        involvement.entry(consultation).or_default().1 =
            Some((parse_stored(&attribution)?, attended, submitted_at));
    }
    let ids: Vec<String> = involvement.keys().cloned().collect();
    let query = consultations::table
        .filter(consultations::id.eq_any(&ids))
        .filter(consultations::deleted_at.is_null())
        .order(consultations::id.asc())
        .select(ConsultationRow::as_select());
    let position = |last: &ConsultationRow| id_position(&last.id);
    crate::domain::load_page(conn, query, limit, position, |row| {
        let (invitation, response) = involvement.remove(&row.id).unwrap_or_default();
        Ok(HistoryEntry {
            kind: parse_stored(&row.kind)?,
            status: parse_stored(&row.status)?,
            consultation_id: row.id,
            title: row.title,
            opens_on: row.opens_on,
            closes_on: row.closes_on,
            invited_at: invitation.as_ref().map(|(at, _)| *at),
            via_group_id: invitation.and_then(|(_, via)| via),
            response,
        })
    })
}

/// Whether a consultation with this id was ever stored (deleted ones included), for its history.
pub fn ever_existed(conn: &mut DbConn, id: &str) -> Result<bool, DomainError> {
    Ok(diesel::select(diesel::dsl::exists(consultations::table.find(id))).get_result(conn)?)
}

/// Every response a person gave or wrote, oldest first (for their subject access export).
pub fn responses_of_contact(
    conn: &mut DbConn,
    contact_id: &str,
) -> Result<Vec<Response>, DomainError> {
    consultation_responses::table
        .filter(consultation_responses::contact_id.eq(contact_id))
        .order(consultation_responses::id.asc())
        .select(ResponseRow::as_select())
        .load::<ResponseRow>(conn)?
        .into_iter()
        .map(ResponseRow::into_response)
        .collect()
}
