//! Business areas, one folder each: rows, queries and rules, with no HTTP types. Functions
//! take `&mut DbConn` and return `Result<_, DomainError>`.

/// An enum stored as TEXT (guarded by a CHECK in the migrations) and sent as a lower
/// snake_case string: one list of variants gives serde, OpenAPI and the database spelling.
macro_rules! text_enum {
    ($(#[doc = $doc:literal])* pub enum $name:ident { $($variant:ident => $text:literal,)+ }) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
                 serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::domain::UnknownVariant;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::domain::UnknownVariant {
                        expected: &[$($text,)+],
                    }),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        // Written by hand: utoipa's derive does not see serde renames made inside a macro.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .description(Some(concat!($($doc, "\n"),*).trim()))
                    .enum_values(Some([$($text,)+]))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}
pub(crate) use text_enum;

pub mod api_keys;
pub mod audit;
pub mod changes;
pub mod consultations;

pub mod contacts;
pub mod expert_groups;
pub mod idempotency;
pub mod imports;
pub mod membership;
pub mod organisations;
pub mod reports;
pub mod taxonomies;
pub mod users;
pub mod webhooks;

use crate::db::literal_limit::LiteralLimit;
use serde::Serialize;
use utoipa::ToSchema;

/// One thing wrong with one field of a request, in a form a frontend can show beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct FieldError {
    /// The field, as a path into the request (`leadership.communities[1]`) or a query parameter.
    #[schema(example = "email")]
    pub field: String,
    /// A stable machine-readable reason, e.g. `required`, `length`, `unknown_code`.
    #[schema(example = "email")]
    pub code: String,
    /// A sentence for people.
    #[schema(example = "must be an email address")]
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

/// Which stored versions a write may replace (`If-Match`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionCheck {
    /// Any version: last writer wins, but a concurrent change is never silently merged away.
    Any,
    /// Only one of these versions; otherwise the write is refused as stale.
    OneOf(Vec<i64>),
}

impl VersionCheck {
    pub fn allows(&self, version: i64) -> bool {
        match self {
            Self::Any => true,
            Self::OneOf(versions) => versions.contains(&version),
        }
    }

    /// `Stale` (412) unless the stored `version` is one `If-Match` allows: checked by every
    /// write once it holds the row's lock.
    pub fn require(&self, version: i64) -> Result<(), DomainError> {
        if self.allows(version) {
            Ok(())
        } else {
            Err(DomainError::Stale)
        }
    }
}

/// A sync list's entry: a live record, or what is left of a deleted one (for sync, with
/// `include_deleted`).
#[derive(Debug, Clone, PartialEq)]
pub enum Listed<T> {
    Live(Box<T>),
    Deleted(Gone),
}

/// What is left of a deleted record: its id, so integrations can remove their copy.
#[derive(Debug, Clone, PartialEq)]
pub struct Gone {
    pub id: String,
    pub deleted_at: chrono::NaiveDateTime,
    /// The record it was merged into, when a merge is why it was deleted (organisations).
    pub merged_into: Option<String>,
}

impl Gone {
    pub fn new(id: String, deleted_at: chrono::NaiveDateTime) -> Self {
        Self {
            id,
            deleted_at,
            merged_into: None,
        }
    }
}

/// A page of entries and where the next page starts (sort key, id of the last entry).
pub type Page<T> = (Vec<T>, Option<(String, String)>);

/// A keyset page from `rows`, read with one row more than `limit` so the extra row says
/// whether there is a next page: the first `limit` rows made into entries by `convert`, and
/// the position (sort key, id) of the last one when there is more.
pub fn keyset_page<R, T>(
    mut rows: Vec<R>,
    limit: usize,
    position: impl Fn(&R) -> (String, String),
    convert: impl FnMut(R) -> Result<T, DomainError>,
) -> Result<Page<T>, DomainError> {
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = if more {
        rows.last().map(position)
    } else {
        None
    };
    let entries = rows.into_iter().map(convert).collect::<Result<_, _>>()?;
    Ok((entries, next))
}

/// A keyset page read by `query` (filtered past the cursor and ordered already): one row
/// more than `limit` is read, for `keyset_page` to tell whether there is a next page.
pub fn load_page<'q, Q, R, T>(
    conn: &mut crate::db::DbConn,
    query: Q,
    limit: usize,
    position: impl Fn(&R) -> (String, String),
    convert: impl FnMut(R) -> Result<T, DomainError>,
) -> Result<Page<T>, DomainError>
where
    LiteralLimit<Q>: diesel::query_dsl::LoadQuery<'q, crate::db::DbConn, R>,
{
    use diesel::RunQueryDsl;
    let mut rows: Vec<R> = LiteralLimit::at_least(query, limit as u64 + 1).load(conn)?;
    rows.truncate(limit + 1);
    keyset_page(rows, limit, position, convert)
}

/// `load_page` of a list ordered by id alone (ids are time-ordered): `after`, when given,
/// keeps the rows past the cursor's id; the next cursor is the last entry's `id`.
pub fn load_id_page<'q, Q, P, R, T>(
    conn: &mut crate::db::DbConn,
    query: Q,
    after: Option<P>,
    limit: usize,
    id: impl Fn(&R) -> &str,
    convert: impl FnMut(R) -> Result<T, DomainError>,
) -> Result<Page<T>, DomainError>
where
    Q: diesel::query_dsl::methods::FilterDsl<P, Output = Q>,
    LiteralLimit<Q>: diesel::query_dsl::LoadQuery<'q, crate::db::DbConn, R>,
{
    let query = match after {
        Some(after) => query.filter(after),
        None => query,
    };
    load_page(conn, query, limit, |last| id_position(id(last)), convert)
}

/// Whether a keyset list goes up or down its sort key (ties go the same way by id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ascending,
    Descending,
}

/// A boolean condition on the rows of `QS`, built at run time (a list's filter).
pub type Condition<QS> =
    Box<dyn diesel::BoxableExpression<QS, crate::db::Backend, SqlType = diesel::sql_types::Bool>>;

/// The rows strictly after a cursor (`key`, `after_id`) in a list sorted by (`column`, `id`):
/// the two are compared as a pair, so rows that share the key are split by their id.
pub fn past_cursor<QS, C, I, V>(
    column: C,
    key: V,
    id: I,
    after_id: &str,
    direction: Direction,
) -> Condition<QS>
where
    QS: 'static,
    C: diesel::ExpressionMethods + Clone,
    I: diesel::ExpressionMethods,
    C::SqlType: diesel::sql_types::SqlType + diesel::expression::TypedExpressionType,
    I::SqlType: diesel::sql_types::SqlType + diesel::expression::TypedExpressionType,
    V: diesel::expression::AsExpression<C::SqlType> + Clone,
    String: diesel::expression::AsExpression<I::SqlType>,
    diesel::dsl::Gt<C, V>: diesel::BoxableExpression<QS, crate::db::Backend, SqlType = diesel::sql_types::Bool>
        + 'static,
    diesel::dsl::Lt<C, V>: diesel::BoxableExpression<QS, crate::db::Backend, SqlType = diesel::sql_types::Bool>
        + 'static,
    diesel::dsl::Eq<C, V>: diesel::BoxableExpression<QS, crate::db::Backend, SqlType = diesel::sql_types::Bool>
        + 'static,
    diesel::dsl::Gt<I, String>: diesel::BoxableExpression<QS, crate::db::Backend, SqlType = diesel::sql_types::Bool>
        + 'static,
    diesel::dsl::Lt<I, String>: diesel::BoxableExpression<QS, crate::db::Backend, SqlType = diesel::sql_types::Bool>
        + 'static,
{
    use diesel::BoolExpressionMethods;
    let after_id = after_id.to_owned();
    let (beyond, tie): (Condition<QS>, Condition<QS>) = match direction {
        Direction::Ascending => (
            Box::new(column.clone().gt(key.clone())),
            Box::new(id.gt(after_id)),
        ),
        Direction::Descending => (
            Box::new(column.clone().lt(key.clone())),
            Box::new(id.lt(after_id)),
        ),
    };
    let same: Condition<QS> = Box::new(column.eq(key));
    Box::new(beyond.or(same.and(tie)))
}

/// The position of a page's last entry in a list that is ordered by id alone.
pub fn id_position(id: &str) -> (String, String) {
    (String::new(), id.to_owned())
}

/// What `change` makes of `current`, or `None` when that is `current` again (nothing to write).
pub fn changed<P: PartialEq>(
    current: &P,
    change: impl FnOnce(&P) -> Result<P, DomainError>,
) -> Result<Option<P>, DomainError> {
    let next = change(current)?;
    Ok((next != *current).then_some(next))
}

/// The one shape of a locked update, in one transaction: `lock` holds the row (see
/// `lock_row!`) before `find` reads it, `If-Match` must allow its `version`, then `change`
/// says what to write (`None`: nothing, the record is answered as it is), `write` writes it
/// with the table's own rules, and the record is read again as written.
pub fn update_locked<R, P>(
    conn: &mut crate::db::DbConn,
    check: &VersionCheck,
    lock: impl FnOnce(&mut crate::db::DbConn) -> diesel::QueryResult<bool>,
    find: impl Fn(&mut crate::db::DbConn) -> Result<R, DomainError>,
    version: impl FnOnce(&R) -> i64,
    change: impl FnOnce(&R) -> Result<Option<P>, DomainError>,
    write: impl FnOnce(&mut crate::db::DbConn, &R, P) -> Result<(), DomainError>,
) -> Result<R, DomainError> {
    use diesel::Connection;
    conn.transaction(|conn| {
        lock(conn)?;
        let current = find(conn)?;
        check.require(version(&current))?;
        let Some(next) = change(&current)? else {
            return Ok(current);
        };
        write(conn, &current, next)?;
        find(conn)
    })
}

/// Holds the row `$id` of `$table` until the transaction ends, and answers whether it exists:
/// on PostgreSQL an UPDATE that sets `version` (or `$column`) to itself takes the row lock, so
/// a concurrent writer of the row waits here, before it reads; SQLite's write transactions
/// (`BEGIN IMMEDIATE`) run one at a time anyway. A write reads the row, checks `If-Match` and
/// takes the time it stamps only after this: it can then never find the version moved under
/// it (no 412 without a precondition), and versions and `updated_at` increase together, in
/// the order the writes commit.
macro_rules! lock_row {
    ($conn:expr, $table:ident, $id:expr) => {
        $crate::domain::lock_row!($conn, $table, $id, version)
    };
    ($conn:expr, $table:ident, $id:expr, $column:ident) => {{
        use $crate::db::schema::$table;
        diesel::update($table::table.find($id))
            .set($table::$column.eq($table::$column))
            .execute($conn)
            .map(|locked| locked == 1)
    }};
}
pub(crate) use lock_row;

/// `lock_row!` for many rows at once (an import's), 500 ids to a statement: the live and
/// deleted rows of `$ids` in `$table` are held until the transaction ends (reads skip the
/// deleted).
macro_rules! lock_rows {
    ($conn:expr, $table:ident, $ids:expr) => {{
        use $crate::db::schema::$table;
        $ids.chunks(500).try_for_each(|chunk| {
            diesel::update($table::table.filter($table::id.eq_any(chunk)))
                .set($table::version.eq($table::version))
                .execute(&mut *$conn)
                .map(drop)
        })
    }};
}
pub(crate) use lock_rows;

/// `$body` with `$condition` standing for "`$column` is one of `$values`": `= $1` for one
/// value, `= ANY($1)` for more. PostgreSQL caches a plan for the first form. For the second
/// it judges a generic plan (for an array of unknown length) dearer than a fresh plan for
/// one value, so a read of one record, or a list filtered by one kind, was planned again at
/// every execution: 0.3 to 0.5 ms of the database's time each. `$body` is written once and
/// built for each form.
macro_rules! one_of {
    ($values:expr, $column:expr, |$condition:ident| $body:expr) => {
        match $values {
            [value] => {
                let $condition = $column.eq(value);
                $body
            }
            values => {
                let $condition = $column.eq_any(values);
                $body
            }
        }
    };
}
pub(crate) use one_of;

/// The one shape of a soft delete, in one transaction: `live_version` holds the row (see
/// `lock_row!`) and reads its version (404 when there is no live row), `If-Match` must allow
/// it, then `stamp`, the table's own UPDATE, sets `deleted_at` and `updated_at` to one time
/// and the version to the next.
pub fn soft_delete(
    conn: &mut crate::db::DbConn,
    check: &VersionCheck,
    live_version: impl FnOnce(&mut crate::db::DbConn) -> Result<i64, DomainError>,
    stamp: impl FnOnce(&mut crate::db::DbConn, chrono::NaiveDateTime, i64) -> diesel::QueryResult<usize>,
) -> Result<(), DomainError> {
    use diesel::Connection;
    conn.transaction(|conn| {
        let version = live_version(conn)?;
        check.require(version)?;
        stamp(conn, now(), version + 1)?;
        Ok(())
    })
}

/// `soft_delete` of row `$id` of `$table`, whose live row `$find` reads: the table's own lock
/// and UPDATE around the shared shape. A store's `soft_delete` is this one line.
macro_rules! soft_delete_row {
    ($conn:expr, $table:ident, $id:expr, $check:expr, $find:path) => {{
        use $crate::db::schema::$table;
        let live_version = |conn: &mut $crate::db::DbConn| {
            $crate::domain::lock_row!(conn, $table, $id)?;
            Ok($find(conn, $id)?.version)
        };
        $crate::domain::soft_delete($conn, $check, live_version, |conn, at, version| {
            let stamped = (
                $table::deleted_at.eq(at),
                $table::updated_at.eq(at),
                $table::version.eq(version),
            );
            diesel::update($table::table.find($id))
                .set(stamped)
                .execute(conn)
        })
    }};
}
pub(crate) use soft_delete_row;

/// A string that is none of an enum's spellings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownVariant {
    pub expected: &'static [&'static str],
}

impl std::fmt::Display for UnknownVariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "must be one of: {}", self.expected.join(", "))
    }
}

/// The current time as stored: UTC, truncated to microseconds so that SQLite and
/// PostgreSQL give back exactly what was written.
pub fn now() -> chrono::NaiveDateTime {
    use chrono::{DurationRound, TimeDelta};
    let now = chrono::Utc::now().naive_utc();
    now.duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or(now)
}

/// A new time-ordered id (UUIDv7) as stored and sent.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// How a timestamp is written into a list cursor: to the microsecond, as stored.
pub const CURSOR_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6f";

/// The time in a list cursor's sort key (see `CURSOR_TIME_FORMAT`).
pub fn cursor_time(key: &str) -> Result<chrono::NaiveDateTime, DomainError> {
    chrono::NaiveDateTime::parse_from_str(key, CURSOR_TIME_FORMAT).map_err(|_| {
        DomainError::BadFilter(vec![FieldError::new(
            "cursor",
            "invalid",
            "is not a cursor this API issued",
        )])
    })
}

/// `text` for a `LIKE … ESCAPE '\'` pattern: its own `%`, `_` and `\` match only themselves.
pub fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// A value the migrations' CHECK constraints guarantee; anything else is corruption.
pub fn parse_stored<T: std::str::FromStr>(text: &str) -> Result<T, DomainError> {
    text.parse().map_err(|_| {
        DomainError::Database(diesel::result::Error::DeserializationError(
            format!("unexpected stored value {text:?}").into(),
        ))
    })
}

/// Why a domain operation did not happen. Nothing was written when one of these is returned.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request clashes with what is stored (a duplicate, a move the state does not allow).
    #[error("{message}")]
    Conflict {
        message: String,
        errors: Vec<FieldError>,
    },
    /// Rules that need the database to check (unknown or retired codes).
    #[error("invalid request")]
    Invalid(Vec<FieldError>),
    /// A list filter naming something that does not exist (an unknown code): a bad query.
    #[error("bad filter")]
    BadFilter(Vec<FieldError>),
    /// The caller's `If-Match` version is not the stored one.
    #[error("the record has changed since it was read")]
    Stale,
    /// A write that recorded no audit event (see `audit::commit`): refused and rolled back.
    #[error("a write recorded no audit event; it was rolled back")]
    Unrecorded,
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    /// The pool or the blocking task failed before or around the query.
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
}

/// The reference data every database starts with (default taxonomies and benchmarks) and
/// the email keys older rows lack; each step writes only what is missing. Run at start-up.
pub fn seed_defaults(conn: &mut crate::db::DbConn) -> Result<(), DomainError> {
    taxonomies::seed_defaults(conn)?;
    reports::benchmarks::seed_defaults(conn)?;
    contacts::store::key_emails(conn)?;
    Ok(())
}
