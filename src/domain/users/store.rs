//! Reading and writing accounts.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::Role;
use super::sessions;
use super::{NewUser, RevokeReason, User, UserChange, UserFilter};
use crate::db::DbConn;
use crate::db::literal_limit::LiteralLimit;
use crate::db::schema::users;
use crate::domain::{
    Direction, DomainError, FieldError, VersionCheck, escape_like, new_id, now, parse_stored,
    past_cursor,
};

const ENTITY: &str = "user";

diesel::define_sql_function!(fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text);

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
struct UserRow {
    id: String,
    email: String,
    name: String,
    role: String,
    password_hash: String,
    active: bool,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    last_login_at: Option<NaiveDateTime>,
}

impl UserRow {
    fn into_user(self) -> Result<User, DomainError> {
        Ok(User {
            role: parse_stored(&self.role)?,
            id: self.id,
            email: self.email,
            name: self.name,
            active: self.active,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            last_login_at: self.last_login_at,
        })
    }
}

pub fn count(conn: &mut DbConn) -> Result<i64, DomainError> {
    Ok(users::table.count().get_result(conn)?)
}

pub fn create(conn: &mut DbConn, new: &NewUser) -> Result<User, DomainError> {
    let at = now();
    let row = UserRow {
        id: new_id(),
        email: new.email.clone(),
        name: new.name.clone(),
        role: new.role.as_str().to_owned(),
        password_hash: new.password_hash.clone(),
        active: true,
        version: 1,
        created_at: at,
        updated_at: at,
        last_login_at: None,
    };
    conn.transaction(|conn| {
        if email_taken(conn, &row.email)? {
            return Err(email_conflict());
        }
        diesel::insert_into(users::table)
            .values(&row)
            .execute(conn)
            .map_err(|error| match error {
                // Lost a race with another create of the same email.
                diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                ) => email_conflict(),
                other => other.into(),
            })?;
        row.clone().into_user()
    })
}

fn email_taken(conn: &mut DbConn, email: &str) -> Result<bool, DomainError> {
    Ok(users::table
        .filter(users::email.eq(email))
        .select(users::id)
        .first::<String>(conn)
        .optional()?
        .is_some())
}

fn email_conflict() -> DomainError {
    DomainError::Conflict {
        message: "an account with this email already exists".to_owned(),
        errors: vec![FieldError::new(
            "email",
            "duplicate",
            "an account with this email already exists",
        )],
    }
}

pub fn get(conn: &mut DbConn, id: &str) -> Result<User, DomainError> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound(ENTITY))?
        .into_user()
}

/// The account with this (lower-cased) email and its password hash, for sign-in.
pub fn credentials(conn: &mut DbConn, email: &str) -> Result<Option<(User, String)>, DomainError> {
    let row = users::table
        .filter(users::email.eq(email))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?;
    row.map(|row| {
        let hash = row.password_hash.clone();
        row.into_user().map(|user| (user, hash))
    })
    .transpose()
}

/// A page of accounts in email order, starting after `after` (an email and id).
pub fn list(
    conn: &mut DbConn,
    filter: &UserFilter,
    after: Option<&(String, String)>,
    limit: usize,
) -> Result<(Vec<User>, bool), DomainError> {
    let mut query = users::table.into_boxed();
    if !filter.roles.is_empty() {
        query = query.filter(users::role.eq_any(&filter.roles));
    }
    if let Some(active) = filter.active {
        query = query.filter(users::active.eq(active));
    }
    if let Some(q) = &filter.q {
        // Emails are stored lower-cased; names are lower-cased in the query.
        let pattern = format!("%{}%", escape_like(&q.to_lowercase()));
        query = query.filter(
            users::email
                .like(pattern.clone())
                .escape('\\')
                .or(lower(users::name).like(pattern).escape('\\')),
        );
    }
    if let Some((email, id)) = after {
        let up = Direction::Ascending;
        query = query.filter(past_cursor(users::email, email.clone(), users::id, id, up));
    }
    let query = query
        .order((users::email.asc(), users::id.asc()))
        .select(UserRow::as_select());
    let mut rows: Vec<UserRow> = LiteralLimit::at_least(query, limit as u64 + 1).load(conn)?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let users = rows
        .into_iter()
        .map(UserRow::into_user)
        .collect::<Result<_, _>>()?;
    Ok((users, more))
}

/// Applies `change` to the account `id` on behalf of `actor_id`. The alliance must always
/// keep one active admin, and nobody deactivates or demotes themselves by accident.
/// Deactivation ends every session of the account at once.
pub fn update(
    conn: &mut DbConn,
    id: &str,
    change: &UserChange,
    check: &VersionCheck,
    actor_id: &str,
) -> Result<User, DomainError> {
    conn.transaction(|conn| {
        if change.role.is_some() || change.active.is_some() {
            lock_active_admins(conn)?;
        }
        crate::domain::lock_row!(conn, users, id)?;
        let current = get(conn, id)?;
        check.require(current.version)?;
        let role = change.role.unwrap_or(current.role);
        let active = change.active.unwrap_or(current.active);
        let name = change.name.clone().unwrap_or_else(|| current.name.clone());
        let loses_admin =
            current.role == Role::Admin && current.active && (role != Role::Admin || !active);
        if loses_admin && id == actor_id {
            return Err(conflict(
                if active { "role" } else { "active" },
                "you cannot demote or deactivate your own account; ask another admin",
            ));
        }
        if loses_admin && active_admins(conn)? <= 1 {
            return Err(conflict(
                if active { "role" } else { "active" },
                "this is the last active admin; make someone else an admin first",
            ));
        }
        diesel::update(users::table.filter(users::id.eq(id)))
            .set((
                users::name.eq(&name),
                users::role.eq(role.as_str()),
                users::active.eq(active),
                users::version.eq(current.version + 1),
                users::updated_at.eq(now()),
            ))
            .execute(conn)?;
        if current.active && !active {
            sessions::revoke_all(conn, id, RevokeReason::Deactivated, None)?;
        }
        get(conn, id)
    })
}

/// Takes the write lock on every active admin before they are counted, so two admins
/// demoting each other at once are serialised and the second sees the first's change
/// (a row lock on PostgreSQL, the database write lock on SQLite). The update changes nothing.
fn lock_active_admins(conn: &mut DbConn) -> Result<(), DomainError> {
    diesel::update(
        users::table
            .filter(users::role.eq(Role::Admin.as_str()))
            .filter(users::active.eq(true)),
    )
    .set(users::version.eq(users::version))
    .execute(conn)?;
    Ok(())
}

fn active_admins(conn: &mut DbConn) -> Result<i64, DomainError> {
    Ok(users::table
        .filter(users::role.eq(Role::Admin.as_str()))
        .filter(users::active.eq(true))
        .count()
        .get_result(conn)?)
}

fn conflict(field: &str, message: &str) -> DomainError {
    DomainError::Conflict {
        message: message.to_owned(),
        errors: vec![FieldError::new(field, "conflict", message)],
    }
}

/// Stores a new password hash. Every session is ended except `keep` (the one that changed
/// its own password), so a leaked password stops working everywhere.
pub fn set_password(
    conn: &mut DbConn,
    id: &str,
    password_hash: &str,
    reason: RevokeReason,
    keep: Option<&str>,
) -> Result<(), DomainError> {
    conn.transaction(|conn| {
        crate::domain::lock_row!(conn, users, id)?;
        let updated = diesel::update(users::table.find(id))
            .set((
                users::password_hash.eq(password_hash),
                users::updated_at.eq(now()),
            ))
            .execute(conn)?;
        if updated == 0 {
            return Err(DomainError::NotFound(ENTITY));
        }
        sessions::revoke_all(conn, id, reason, keep)
    })
}

/// Notes a successful sign-in, storing a fresh hash when the old one used outdated
/// parameters.
pub fn record_login(
    conn: &mut DbConn,
    id: &str,
    rehashed: Option<&str>,
) -> Result<(), DomainError> {
    let at = now();
    match rehashed {
        Some(hash) => diesel::update(users::table.find(id))
            .set((users::last_login_at.eq(at), users::password_hash.eq(hash)))
            .execute(conn)?,
        None => diesel::update(users::table.find(id))
            .set(users::last_login_at.eq(at))
            .execute(conn)?,
    };
    Ok(())
}
