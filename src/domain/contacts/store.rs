//! Reading and writing contacts, their affiliations and consents. Every change to a contact
//! (its affiliations and consents included) moves its version and `updated_at` on, so ETags
//! and incremental sync see it.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::{
    Affiliation, AffiliationFields, ConsentRecord, Contact, ContactFilter, ContactProfile,
    ContactSort, Purpose, email_match_key, name_key,
};
use crate::db::DbConn;
use crate::db::schema::{contact_affiliations, contact_consents, contacts};
use crate::domain::{
    CURSOR_TIME_FORMAT, Direction, DomainError, FieldError, Gone, Listed, VersionCheck, changed,
    cursor_time, escape_like, new_id, now, one_of, parse_stored, past_cursor, update_locked,
};

const ENTITY: &str = "contact";
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = contacts)]
struct ContactRow {
    id: String,
    given_name: String,
    family_name: String,
    name_key: String,
    email: Option<String>,
    phone: Option<String>,
    job_title: Option<String>,
    pronouns: Option<String>,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    deleted_at: Option<NaiveDateTime>,
}

fn email_conflict() -> DomainError {
    DomainError::Conflict {
        message: "another contact already has this email address".to_owned(),
        errors: vec![email_clash()],
    }
}

fn unique_email(error: diesel::result::Error) -> DomainError {
    match error {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => email_conflict(),
        other => other.into(),
    }
}

/// Emails are unique among contacts that are not deleted, whatever their case and whether
/// the domain is written in Unicode or in its ASCII (punycode) form.
fn check_email(
    conn: &mut DbConn,
    profile: &ContactProfile,
    own_id: Option<&str>,
) -> Result<(), DomainError> {
    let Some(email) = &profile.email else {
        return Ok(());
    };
    let holder = contacts::table
        .filter(contacts::email_match_key.eq(email_match_key(email)))
        .filter(contacts::deleted_at.is_null())
        .filter(contacts::id.ne(own_id.unwrap_or("")))
        .select(contacts::id)
        .first::<String>(conn)
        .optional()?;
    match holder {
        Some(_) => Err(email_conflict()),
        None => Ok(()),
    }
}

/// Gives each stored email its match key where the migration could not (an address with a
/// Unicode domain: IDNA is not SQL). Run at start-up. Two live contacts whose addresses turn
/// out to be one keep the first key; the other is logged and left unmatched until merged.
pub fn key_emails(conn: &mut DbConn) -> Result<usize, DomainError> {
    let unkeyed: Vec<(String, Option<String>)> = contacts::table
        .filter(contacts::email.is_not_null())
        .filter(contacts::email_match_key.is_null())
        .select((contacts::id, contacts::email))
        .load(conn)?;
    let mut keyed = 0;
    for (id, email) in unkeyed {
        let key = email.as_deref().map(email_match_key);
        match diesel::update(contacts::table.find(&id))
            .set(contacts::email_match_key.eq(key))
            .execute(conn)
        {
            Ok(_) => keyed += 1,
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => log::warn!(
                "contact {id} has the email address of another contact, written with its \
                 domain in another form; it is not matched by email until the two are merged"
            ),
            Err(error) => return Err(error.into()),
        }
    }
    Ok(keyed)
}

pub fn create(conn: &mut DbConn, profile: &ContactProfile) -> Result<Contact, DomainError> {
    conn.transaction(|conn| {
        check_email(conn, profile, None)?;
        let id = new_id();
        let at = now();
        diesel::insert_into(contacts::table)
            .values((
                contacts::id.eq(&id),
                ProfileColumns::new(profile),
                contacts::version.eq(1),
                contacts::created_at.eq(at),
                contacts::updated_at.eq(at),
            ))
            .execute(conn)
            .map_err(unique_email)?;
        find(conn, &id)
    })
}

pub fn find(conn: &mut DbConn, id: &str) -> Result<Contact, DomainError> {
    let row = contacts::table
        .find(id)
        .filter(contacts::deleted_at.is_null())
        .select(ContactRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound(ENTITY))?;
    let mut parts = Parts::load(conn, std::slice::from_ref(&row.id))?;
    parts.assemble(row)
}

/// Replaces the profile, if `check` allows the stored version.
pub fn update(
    conn: &mut DbConn,
    id: &str,
    check: &VersionCheck,
    change: impl FnOnce(&ContactProfile) -> Result<ContactProfile, DomainError>,
) -> Result<Contact, DomainError> {
    let write = |conn: &mut DbConn, current: &Contact, profile: ContactProfile| {
        check_email(conn, &profile, Some(id))?;
        diesel::update(contacts::table.find(id))
            .set((
                ProfileColumns::new(&profile),
                contacts::version.eq(current.version + 1),
                contacts::updated_at.eq(now()),
            ))
            .execute(conn)
            .map_err(unique_email)?;
        Ok(())
    };
    let lock = |conn: &mut DbConn| crate::domain::lock_row!(conn, contacts, id);
    let change = |current: &Contact| changed(&current.profile, change);
    let find = |conn: &mut DbConn| find(conn, id);
    let version = |current: &Contact| current.version;
    update_locked(conn, check, lock, find, version, change, write)
}

/// The live contacts among `ids`, by id, read together (two statements for their parts).
pub fn find_many(
    conn: &mut DbConn,
    ids: &[String],
) -> Result<HashMap<String, Contact>, DomainError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<ContactRow> = contacts::table
        .filter(contacts::id.eq_any(ids))
        .filter(contacts::deleted_at.is_null())
        .select(ContactRow::as_select())
        .load(conn)?;
    let live: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
    let mut parts = Parts::load(conn, &live)?;
    rows.into_iter()
        .map(|row| Ok((row.id.clone(), parts.assemble(row)?)))
        .collect()
}

/// How many contacts one batched write covers.
const WRITTEN_PER_STATEMENT: usize = 500;

/// Holds the live rows of `ids` until the transaction ends, as `lock_row!` holds one.
pub fn lock_many(conn: &mut DbConn, ids: &[String]) -> QueryResult<()> {
    crate::domain::lock_rows!(conn, contacts, ids)
}

/// Writes an import's contacts as they are to be stored: `created` as new rows (500 to a
/// statement), `updated` (as stored, and as they are now) over their stored rows (locked
/// by `lock_many`). The caller has checked emails against every contact the import holds;
/// the unique index still decides.
pub fn write_imported(
    conn: &mut DbConn,
    created: &[&Contact],
    updated: &[(&Contact, &Contact)],
) -> Result<(), DomainError> {
    for chunk in created.chunks(WRITTEN_PER_STATEMENT) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|contact| {
                (
                    contacts::id.eq(&contact.id),
                    ProfileColumns::new(&contact.profile),
                    contacts::version.eq(contact.version),
                    contacts::created_at.eq(contact.created_at),
                    contacts::updated_at.eq(contact.updated_at),
                )
            })
            .collect();
        // Multi-row inserts do not compile through the connection enum.
        crate::with_backend!(&mut *conn, |c| diesel::insert_into(contacts::table)
            .values(&rows)
            .execute(c))
        .map_err(unique_email)?;
    }
    for (_, contact) in updated {
        diesel::update(contacts::table.find(&contact.id))
            .set((
                ProfileColumns::new(&contact.profile),
                contacts::version.eq(contact.version),
                contacts::updated_at.eq(contact.updated_at),
            ))
            .execute(conn)
            .map_err(unique_email)?;
    }
    Ok(())
}

/// The error of an email address another contact already has.
pub fn email_clash() -> FieldError {
    FieldError::new(
        "email",
        "duplicate",
        "another contact already has this email address",
    )
}

/// The columns a contact's profile writes, on insert and update alike.
#[derive(Insertable, AsChangeset)]
#[diesel(
    table_name = contacts,
    treat_none_as_null = true,
    treat_none_as_default_value = false
)]
struct ProfileColumns<'a> {
    given_name: &'a str,
    family_name: &'a str,
    name_key: String,
    email: Option<&'a str>,
    email_key: Option<String>,
    email_match_key: Option<String>,
    phone: Option<&'a str>,
    job_title: Option<&'a str>,
    pronouns: Option<&'a str>,
}

impl<'a> ProfileColumns<'a> {
    fn new(profile: &'a ContactProfile) -> Self {
        Self {
            given_name: &profile.given_name,
            family_name: &profile.family_name,
            name_key: name_key(profile),
            email: profile.email.as_deref(),
            email_key: profile.email.as_ref().map(|e| e.to_lowercase()),
            email_match_key: profile.email.as_deref().map(email_match_key),
            phone: profile.phone.as_deref(),
            job_title: profile.job_title.as_deref(),
            pronouns: profile.pronouns.as_deref(),
        }
    }
}

pub fn soft_delete(conn: &mut DbConn, id: &str, check: &VersionCheck) -> Result<(), DomainError> {
    crate::domain::soft_delete_row!(conn, contacts, id, check, find)
}

/// Moves a live contact's version and `updated_at` on, locking it first; 404 when there is
/// none.
fn touch(conn: &mut DbConn, id: &str) -> Result<(), DomainError> {
    crate::domain::lock_row!(conn, contacts, id)?;
    let touched = diesel::update(
        contacts::table
            .find(id)
            .filter(contacts::deleted_at.is_null()),
    )
    .set((
        contacts::version.eq(contacts::version + 1),
        contacts::updated_at.eq(now()),
    ))
    .execute(conn)?;
    if touched == 0 {
        return Err(DomainError::NotFound(ENTITY));
    }
    Ok(())
}

fn check_dates(fields: &AffiliationFields) -> Result<(), DomainError> {
    match (fields.start_on, fields.end_on) {
        (Some(start), Some(end)) if end < start => {
            Err(DomainError::Invalid(vec![FieldError::new(
                "end_on",
                "invalid",
                "must not be before start_on",
            )]))
        }
        _ => Ok(()),
    }
}

/// Only one affiliation is primary: setting one clears the others.
fn clear_primary(
    conn: &mut DbConn,
    contact_id: &str,
    fields: &AffiliationFields,
) -> Result<(), DomainError> {
    if fields.is_primary {
        diesel::update(
            contact_affiliations::table.filter(contact_affiliations::contact_id.eq(contact_id)),
        )
        .set(contact_affiliations::is_primary.eq(false))
        .execute(conn)?;
    }
    Ok(())
}

pub fn add_affiliation(
    conn: &mut DbConn,
    contact_id: &str,
    organisation_id: &str,
    fields: &AffiliationFields,
) -> Result<(Contact, String), DomainError> {
    check_dates(fields)?;
    conn.transaction(|conn| {
        touch(conn, contact_id)?;
        if !crate::domain::organisations::lock_live(conn, organisation_id)? {
            return Err(DomainError::Invalid(vec![FieldError::new(
                "organisation_id",
                "unknown",
                "is not an organisation",
            )]));
        }
        clear_primary(conn, contact_id, fields)?;
        let at = now();
        let affiliation_id = new_id();
        diesel::insert_into(contact_affiliations::table)
            .values((
                contact_affiliations::id.eq(&affiliation_id),
                contact_affiliations::contact_id.eq(contact_id),
                contact_affiliations::organisation_id.eq(organisation_id),
                contact_affiliations::role.eq(&fields.role),
                contact_affiliations::is_primary.eq(fields.is_primary),
                contact_affiliations::start_on.eq(fields.start_on),
                contact_affiliations::end_on.eq(fields.end_on),
                contact_affiliations::created_at.eq(at),
                contact_affiliations::updated_at.eq(at),
            ))
            .execute(conn)?;
        Ok((find(conn, contact_id)?, affiliation_id))
    })
}

/// An affiliation's editable columns as stored.
type StoredFields = (Option<String>, bool, Option<NaiveDate>, Option<NaiveDate>);

/// Changes an affiliation with `change` (e.g. ends it when someone moves on).
pub fn change_affiliation(
    conn: &mut DbConn,
    contact_id: &str,
    affiliation_id: &str,
    change: impl FnOnce(AffiliationFields) -> AffiliationFields,
) -> Result<Contact, DomainError> {
    conn.transaction(|conn| {
        touch(conn, contact_id)?;
        let mine = contact_affiliations::table
            .filter(contact_affiliations::id.eq(affiliation_id))
            .filter(contact_affiliations::contact_id.eq(contact_id));
        let current: Option<StoredFields> = mine
            .select((
                contact_affiliations::role,
                contact_affiliations::is_primary,
                contact_affiliations::start_on,
                contact_affiliations::end_on,
            ))
            .first(conn)
            .optional()?;
        let Some((role, is_primary, start_on, end_on)) = current else {
            return Err(DomainError::NotFound("affiliation"));
        };
        let fields = change(AffiliationFields {
            role,
            is_primary,
            start_on,
            end_on,
        });
        check_dates(&fields)?;
        clear_primary(conn, contact_id, &fields)?;
        diesel::update(mine)
            .set((
                contact_affiliations::role.eq(&fields.role),
                contact_affiliations::is_primary.eq(fields.is_primary),
                contact_affiliations::start_on.eq(fields.start_on),
                contact_affiliations::end_on.eq(fields.end_on),
                contact_affiliations::updated_at.eq(now()),
            ))
            .execute(conn)?;
        find(conn, contact_id)
    })
}

/// Removes an affiliation entered by mistake (to record a move, end it instead).
pub fn remove_affiliation(
    conn: &mut DbConn,
    contact_id: &str,
    affiliation_id: &str,
) -> Result<Contact, DomainError> {
    conn.transaction(|conn| {
        touch(conn, contact_id)?;
        let removed = diesel::delete(
            contact_affiliations::table
                .filter(contact_affiliations::id.eq(affiliation_id))
                .filter(contact_affiliations::contact_id.eq(contact_id)),
        )
        .execute(conn)?;
        if removed == 0 {
            return Err(DomainError::NotFound("affiliation"));
        }
        find(conn, contact_id)
    })
}

/// Records a grant or a withdrawal; earlier records for the purpose stay as history.
pub fn record_consent(
    conn: &mut DbConn,
    contact_id: &str,
    purpose: Purpose,
    granted: bool,
    source: &str,
    recorded_by: Option<&str>,
) -> Result<Contact, DomainError> {
    conn.transaction(|conn| {
        touch(conn, contact_id)?;
        diesel::update(
            contact_consents::table
                .filter(contact_consents::contact_id.eq(contact_id))
                .filter(contact_consents::purpose.eq(purpose.as_str())),
        )
        .set(contact_consents::in_force.eq(false))
        .execute(conn)?;
        diesel::insert_into(contact_consents::table)
            .values((
                contact_consents::id.eq(new_id()),
                contact_consents::contact_id.eq(contact_id),
                contact_consents::purpose.eq(purpose.as_str()),
                contact_consents::granted.eq(granted),
                contact_consents::in_force.eq(true),
                contact_consents::source.eq(source),
                contact_consents::recorded_at.eq(now()),
                contact_consents::recorded_by.eq(recorded_by),
            ))
            .execute(conn)?;
        find(conn, contact_id)
    })
}

type ConsentRow = (String, String, bool, String, NaiveDateTime, Option<String>);

fn consent(row: ConsentRow) -> Result<(String, ConsentRecord), DomainError> {
    let (contact_id, purpose, granted, source, recorded_at, recorded_by) = row;
    Ok((
        contact_id,
        ConsentRecord {
            purpose: parse_stored(&purpose)?,
            granted,
            source,
            recorded_at,
            recorded_by,
        },
    ))
}

const CONSENT_COLUMNS: (
    contact_consents::contact_id,
    contact_consents::purpose,
    contact_consents::granted,
    contact_consents::source,
    contact_consents::recorded_at,
    contact_consents::recorded_by,
) = (
    contact_consents::contact_id,
    contact_consents::purpose,
    contact_consents::granted,
    contact_consents::source,
    contact_consents::recorded_at,
    contact_consents::recorded_by,
);

/// Every grant and withdrawal of a live contact, oldest first.
pub fn consent_history(
    conn: &mut DbConn,
    contact_id: &str,
) -> Result<Vec<ConsentRecord>, DomainError> {
    find(conn, contact_id)?;
    let rows: Vec<ConsentRow> = contact_consents::table
        .filter(contact_consents::contact_id.eq(contact_id))
        .order((contact_consents::recorded_at, contact_consents::id))
        .select(CONSENT_COLUMNS)
        .load(conn)?;
    rows.into_iter()
        .map(|row| consent(row).map(|(_, record)| record))
        .collect()
}

/// Affiliations and consents of a set of contacts, one query each.
#[derive(Default)]
struct Parts {
    affiliations: HashMap<String, Vec<Affiliation>>,
    consents: HashMap<String, Vec<ConsentRecord>>,
}

impl Parts {
    fn load(conn: &mut DbConn, ids: &[String]) -> Result<Self, DomainError> {
        let mut parts = Self::default();
        if ids.is_empty() {
            return Ok(parts);
        }
        type AffiliationRow = (
            String,
            String,
            String,
            Option<String>,
            bool,
            Option<NaiveDate>,
            Option<NaiveDate>,
        );
        let rows: Vec<AffiliationRow> = one_of!(ids, contact_affiliations::contact_id, |ours| {
            contact_affiliations::table
                .filter(ours)
                .order((
                    contact_affiliations::contact_id,
                    contact_affiliations::created_at,
                    contact_affiliations::id,
                ))
                .select((
                    contact_affiliations::contact_id,
                    contact_affiliations::id,
                    contact_affiliations::organisation_id,
                    contact_affiliations::role,
                    contact_affiliations::is_primary,
                    contact_affiliations::start_on,
                    contact_affiliations::end_on,
                ))
                .load(conn)
        })?;
        for (contact_id, id, organisation_id, role, is_primary, start_on, end_on) in rows {
            parts
                .affiliations
                .entry(contact_id)
                .or_default()
                .push(Affiliation {
                    id,
                    organisation_id,
                    role,
                    is_primary,
                    start_on,
                    end_on,
                });
        }
        let rows: Vec<ConsentRow> = one_of!(ids, contact_consents::contact_id, |ours| {
            contact_consents::table
                .filter(ours)
                .filter(contact_consents::in_force.eq(true))
                .order((contact_consents::contact_id, contact_consents::purpose))
                .select(CONSENT_COLUMNS)
                .load(conn)
        })?;
        for row in rows {
            let (contact_id, record) = consent(row)?;
            parts.consents.entry(contact_id).or_default().push(record);
        }
        Ok(parts)
    }

    fn assemble(&mut self, row: ContactRow) -> Result<Contact, DomainError> {
        Ok(Contact {
            affiliations: self.affiliations.remove(&row.id).unwrap_or_default(),
            consents: self.consents.remove(&row.id).unwrap_or_default(),
            profile: ContactProfile {
                given_name: row.given_name,
                family_name: row.family_name,
                email: row.email,
                phone: row.phone,
                job_title: row.job_title,
                pronouns: row.pronouns,
            },
            id: row.id,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A page of entries and the (sort key, id) the next page starts after.
pub type ContactPage = (Vec<Listed<Contact>>, Option<(String, String)>);

/// A page of contacts in `sort` order after `after` (the sort key and id of the last row
/// seen), and the position of the next page.
pub fn list(
    conn: &mut DbConn,
    filter: &ContactFilter,
    sort: ContactSort,
    after: Option<&(String, String)>,
    limit: usize,
) -> Result<ContactPage, DomainError> {
    let mut query = contacts::table.into_boxed();
    if !filter.include_deleted {
        query = query.filter(contacts::deleted_at.is_null());
    }
    if let Some(since) = filter.updated_since {
        query = query.filter(contacts::updated_at.gt(since));
    }
    if let Some(q) = &filter.q {
        let pattern = format!("%{}%", escape_like(&q.to_lowercase()));
        query = query.filter(
            contacts::name_key
                .like(pattern.clone())
                .escape('\\')
                .or(contacts::email_key.like(pattern).escape('\\')),
        );
    }
    if !filter.organisations.is_empty() {
        let today = filter
            .today
            .unwrap_or_else(|| chrono::Utc::now().date_naive());
        query = query.filter(
            contacts::id.eq_any(
                contact_affiliations::table
                    .filter(contact_affiliations::organisation_id.eq_any(&filter.organisations))
                    .filter(
                        contact_affiliations::end_on
                            .is_null()
                            .or(contact_affiliations::end_on.ge(today)),
                    )
                    .select(contact_affiliations::contact_id),
            ),
        );
    }
    for purpose in &filter.consents {
        query = query.filter(
            contacts::id.eq_any(
                contact_consents::table
                    .filter(contact_consents::purpose.eq(purpose.as_str()))
                    .filter(contact_consents::in_force.eq(true))
                    .filter(contact_consents::granted.eq(true))
                    .select(contact_consents::contact_id),
            ),
        );
    }
    if let Some((key, id)) = after {
        let up = Direction::Ascending;
        query = query.filter(match sort {
            ContactSort::Name => past_cursor(contacts::name_key, key.clone(), contacts::id, id, up),
            ContactSort::UpdatedAt => past_cursor(
                contacts::updated_at,
                cursor_time(key)?,
                contacts::id,
                id,
                up,
            ),
        });
    }
    query = match sort {
        ContactSort::Name => query.order((contacts::name_key.asc(), contacts::id.asc())),
        ContactSort::UpdatedAt => query.order((contacts::updated_at.asc(), contacts::id.asc())),
    };
    let position = |last: &ContactRow| {
        let sort_key = match sort {
            ContactSort::Name => last.name_key.clone(),
            ContactSort::UpdatedAt => last.updated_at.format(CURSOR_TIME_FORMAT).to_string(),
        };
        (sort_key, last.id.clone())
    };
    let query = query.select(ContactRow::as_select());
    let (rows, next) = crate::domain::load_page(conn, query, limit, position, Ok)?;
    let live: Vec<String> = rows
        .iter()
        .filter(|row| row.deleted_at.is_none())
        .map(|row| row.id.clone())
        .collect();
    let mut parts = Parts::load(conn, &live)?;
    let entries = rows
        .into_iter()
        .map(|row| match row.deleted_at {
            Some(deleted_at) => Ok(Listed::Deleted(Gone::new(row.id, deleted_at))),
            None => parts.assemble(row).map(|c| Listed::Live(Box::new(c))),
        })
        .collect::<Result<_, _>>()?;
    Ok((entries, next))
}

/// Whether a contact with this id was ever stored (deleted ones included), for its history.
pub fn ever_existed(conn: &mut DbConn, id: &str) -> Result<bool, DomainError> {
    Ok(diesel::select(diesel::dsl::exists(contacts::table.find(id))).get_result(conn)?)
}
