//! The list conventions every collection shares: strict query parsing (repeated parameters
//! are OR, unknown parameters are refused), `limit`, opaque cursors, the `Link` header, and
//! JSON-or-CSV content negotiation.

use std::collections::BTreeMap;
use std::str::FromStr;

use actix_web::HttpRequest;
use actix_web::http::header::{self, Header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::FieldError;
use crate::error::ApiError;

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;
/// Longest free-text query parameter (`q`).
pub const MAX_QUERY_TEXT: usize = 200;

/// The query string as name → values, consumed parameter by parameter so that whatever is
/// left at the end is an unknown parameter. Problems are collected, not returned at once, so
/// the client hears about every bad parameter in one answer.
pub struct QueryParams {
    values: BTreeMap<String, Vec<String>>,
    errors: Vec<FieldError>,
}

impl QueryParams {
    pub fn parse(query: &str) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|_| ApiError::bad_request("the query string is not valid URL encoding"))?;
        let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, value) in pairs {
            values.entry(name).or_default().push(value);
        }
        Ok(Self {
            values,
            errors: Vec::new(),
        })
    }

    fn error(&mut self, name: &str, code: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(name, code, message));
    }

    /// A parameter that may be given once.
    pub fn single(&mut self, name: &str) -> Option<String> {
        let mut values = self.values.remove(name)?;
        if values.len() > 1 {
            self.error(name, "repeated", "may be given only once");
            return None;
        }
        values.pop()
    }

    /// A single parameter parsed with `parse`, whose error message is reported as is.
    pub fn single_with<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let raw = self.single(name)?;
        match parse(&raw) {
            Ok(value) => Some(value),
            Err(message) => {
                self.error(name, "invalid", message);
                None
            }
        }
    }

    /// The values of a repeatable parameter; the same value twice is reported, as a set
    /// parameter should not repeat.
    fn repeatable(&mut self, name: &str) -> Vec<String> {
        let raw = self.values.remove(name).unwrap_or_default();
        let mut seen = std::collections::HashSet::new();
        if !raw.iter().all(|value| seen.insert(value)) {
            self.error(name, "unique", "repeats a value");
        }
        raw
    }

    /// A parameter that may be repeated (OR within the field), each value parsed with `FromStr`.
    pub fn many<T: FromStr>(&mut self, name: &str) -> Vec<T>
    where
        T::Err: std::fmt::Display,
    {
        let raw = self.repeatable(name);
        let mut parsed = Vec::with_capacity(raw.len());
        for value in raw {
            match value.parse() {
                Ok(value) => parsed.push(value),
                Err(error) => self.error(name, "invalid", format!("{value:?}: {error}")),
            }
        }
        parsed
    }

    /// A repeatable parameter of codes shaped like `pattern` (whether each code exists is
    /// for the store to say).
    pub fn codes(&mut self, name: &str, pattern: &regex::Regex) -> Vec<String> {
        let raw = self.repeatable(name);
        let (good, bad): (Vec<String>, Vec<String>) =
            raw.into_iter().partition(|v| pattern.is_match(v));
        for value in bad {
            self.error(
                name,
                "invalid",
                format!("{value:?} is not shaped like a code ({})", pattern.as_str()),
            );
        }
        good
    }

    pub fn boolean(&mut self, name: &str) -> Option<bool> {
        self.single_with(name, |raw| match raw {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err("must be true or false".to_owned()),
        })
    }

    pub fn timestamp(&mut self, name: &str) -> Option<NaiveDateTime> {
        self.single_with(name, |raw| {
            DateTime::parse_from_rfc3339(raw)
                .ok()
                .map(|at| at.with_timezone(&Utc).naive_utc())
                // The year as stored (in UTC): an offset can carry 9999-12-31 into 10000.
                .filter(|at| (1..=9999).contains(&chrono::Datelike::year(at)))
                .ok_or_else(|| {
                    "must be an RFC 3339 timestamp in the years 0001 to 9999, e.g. 2026-11-22T10:15:00Z"
                        .to_owned()
                })
        })
    }

    pub fn date(&mut self, name: &str) -> Option<chrono::NaiveDate> {
        self.single_with(name, parse_date)
    }

    /// A repeatable date parameter (distinct values), each read as `date` reads one.
    pub fn dates(&mut self, name: &str) -> Vec<chrono::NaiveDate> {
        let mut dates = Vec::new();
        for raw in self.repeatable(name) {
            match parse_date(&raw) {
                Ok(date) => dates.push(date),
                Err(message) => self.error(name, "invalid", format!("{raw:?}: {message}")),
            }
        }
        dates
    }

    /// Free text: bounded length, no control characters.
    pub fn text(&mut self, name: &str) -> Option<String> {
        self.single_with(name, |raw| {
            if raw.chars().count() > MAX_QUERY_TEXT {
                Err(format!("must be at most {MAX_QUERY_TEXT} characters"))
            } else if raw.chars().any(char::is_control) {
                Err("must not contain control characters".to_owned())
            } else {
                Ok(raw.to_owned())
            }
        })
    }

    /// A single parameter parsed with `FromStr`, whose error is reported as is.
    pub fn parsed<T: FromStr>(&mut self, name: &str) -> Option<T>
    where
        T::Err: std::fmt::Display,
    {
        self.single_with(name, |raw| raw.parse().map_err(|e: T::Err| e.to_string()))
    }

    /// A parameter read by `read`, for a rule of one list only.
    pub fn with<T>(&mut self, name: &str, read: impl FnOnce(&mut Self, &str) -> T) -> T {
        read(self, name)
    }

    /// A page size: 1 to `MAX_LIMIT`, `DEFAULT_LIMIT` when absent.
    pub fn limit(&mut self, name: &str) -> usize {
        self.single_with(name, |raw| match raw.parse::<usize>() {
            Ok(limit @ 1..=MAX_LIMIT) => Ok(limit),
            _ => Err(format!("must be a whole number from 1 to {MAX_LIMIT}")),
        })
        .unwrap_or(DEFAULT_LIMIT)
    }

    /// A cursor this API issued.
    pub fn cursor(&mut self, name: &str) -> Option<Cursor> {
        self.single_with(name, Cursor::decode)
    }

    /// Ends parsing: unknown parameters and every collected problem become one 400.
    pub fn finish(mut self) -> Result<(), ApiError> {
        let unknown: Vec<String> = std::mem::take(&mut self.values).into_keys().collect();
        for name in unknown {
            self.error(
                &name,
                "unknown_parameter",
                "is not a parameter of this list",
            );
        }
        if self.errors.is_empty() {
            Ok(())
        } else {
            let detail = match self.errors.len() {
                1 => format!("{}: {}", self.errors[0].field, self.errors[0].message),
                n => format!("{n} query parameters are invalid"),
            };
            Err(ApiError::BadRequest {
                detail,
                errors: self.errors,
            })
        }
    }
}

/// Refuses `updated_since` beside a filter on state the calendar moves (`derived`, when
/// given): a record can leave such a filter with no change of its own, so an incremental
/// sync would never hear that it left. The change feed tells of those moves.
pub fn sync_by_changes_only(
    updated_since: bool,
    derived: &str,
    given: bool,
) -> Result<(), ApiError> {
    if !(updated_since && given) {
        return Ok(());
    }
    Err(ApiError::BadRequest {
        detail: format!(
            "updated_since cannot be combined with {derived}: a record can leave that filter as the calendar moves, with no change of its own, so an incremental sync would never hear of it. Follow GET /api/v1/changes for changes (membership.status_changed among them), or list this filter in full without updated_since"
        ),
        errors: vec![FieldError::new(
            derived,
            "conflicts_with_updated_since",
            "cannot be combined with updated_since; follow GET /api/v1/changes",
        )],
    })
}

/// A query string read by the same struct that documents it (`query_params!`): each field is
/// read under its own name, so what the document lists is exactly what is accepted.
pub trait FromQuery: Sized {
    /// Reads every parameter from `params`; problems are collected there.
    fn read(params: &mut QueryParams) -> Self;

    /// Reads `query`: unknown parameters and every bad one are refused in one 400.
    fn parse(query: &str) -> Result<Self, ApiError> {
        let mut params = QueryParams::parse(query)?;
        let value = Self::read(&mut params);
        params.finish()?;
        Ok(value)
    }
}

/// Declares an operation's query parameters once: the struct (documented by `IntoParams`, every
/// parameter optional) and its `FromQuery::read`. Each field names the `QueryParams` reader
/// that reads it, called with the field's name and any further arguments:
///
/// ```ignore
/// query_params! {
///     pub struct Params {
///         /// Most entries per page.
///         #[param(value_type = Option<u32>)]
///         pub limit: usize = limit,
///         pub expertise: Vec<String> = codes(&rules::EXPERTISE_CODE_RE),
///     }
/// }
/// ```
macro_rules! query_params {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[$field_meta:meta])*
                $field_vis:vis $field:ident : $type:ty = $read:ident $( ( $($arg:expr),* $(,)? ) )?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, utoipa::IntoParams)]
        #[into_params(parameter_in = Query)]
        $vis struct $name {
            $(
                $(#[$field_meta])*
                // After the field's own attributes, which win: a filter is optional unless
                // the field says otherwise (utoipa would mark every `Vec` required).
                #[param(required = false)]
                $field_vis $field: $type,
            )*
        }

        impl $crate::api::list::FromQuery for $name {
            fn read(params: &mut $crate::api::list::QueryParams) -> Self {
                Self {
                    $( $field: params.$read(stringify!($field) $( $(, $arg)* )?), )*
                }
            }
        }
    };
}
pub(crate) use query_params;

/// `2026-03-31`, in the years 0001 to 9999 (the range both databases store and order alike).
fn parse_date(raw: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .filter(|_| crate::api::body::four_digit_year(raw))
        .ok_or_else(|| "must be a date in the years 0001 to 9999, e.g. 2026-03-31".to_owned())
}

/// Where the next page starts. Opaque to clients (base64url JSON); it records the sort it
/// was made for, so it cannot be replayed against another order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "s")]
    pub sort: String,
    #[serde(rename = "k")]
    pub key: String,
    #[serde(rename = "i")]
    pub id: String,
}

impl Cursor {
    /// The cursor of the page after the row at (`key`, `id`) in `sort` order.
    pub fn after(sort: &str, key: impl Into<String>, id: impl Into<String>) -> String {
        Self {
            sort: sort.to_owned(),
            key: key.into(),
            id: id.into(),
        }
        .encode()
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(raw: &str) -> Result<Self, String> {
        URL_SAFE_NO_PAD
            .decode(raw)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Self>(&bytes).ok())
            // Cursors are not signed: a made-up one must not smuggle what the database
            // cannot compare (PostgreSQL refuses NUL characters).
            .filter(|cursor| {
                [&cursor.sort, &cursor.key, &cursor.id]
                    .iter()
                    .all(|part| part.len() <= 512 && !part.chars().any(char::is_control))
            })
            .ok_or_else(|| "is not a cursor this API issued".to_owned())
    }

    /// The cursor's position, if it was made for `sort`.
    pub fn for_sort(&self, sort: &str) -> Result<(String, String), ApiError> {
        if self.sort == sort {
            Ok((self.key.clone(), self.id.clone()))
        } else {
            Err(ApiError::BadRequest {
                detail: "cursor: was issued for another sort order".to_owned(),
                errors: vec![FieldError::new(
                    "cursor",
                    "invalid",
                    format!(
                        "was issued for sort={}; repeat that sort or start again",
                        self.sort
                    ),
                )],
            })
        }
    }
}

/// The sort name that the cursors of sub-lists (a group's members, a consultation's
/// responses…) carry: those lists page in id order, which is creation order for UUIDv7.
pub const BY_ID: &str = "id";

query_params! {
    /// Paging through a sub-list (a record's history, a group's members…).
    pub struct PageParams {
        /// Most entries per page (1 to 500).
        #[param(value_type = Option<u32>, minimum = 1, maximum = 500, default = 50)]
        pub limit: usize = limit,
        /// `next_cursor` from the previous page.
        #[param(value_type = Option<String>, pattern = "CURSOR")]
        pub cursor: Option<Cursor> = cursor,
    }
}

/// 200 with a page as `body`, and `Link: <…>; rel="next"` when there is a next page.
pub fn page_response(
    req: &HttpRequest,
    next_cursor: Option<&str>,
    body: impl Serialize,
) -> actix_web::HttpResponse {
    let mut response = actix_web::HttpResponse::Ok();
    if let Some(cursor) = next_cursor {
        response.insert_header((header::LINK, next_link(req, cursor)));
    }
    response.json(body)
}

/// `<path?query&cursor=…>; rel="next"`, keeping every other parameter as the client sent it.
pub fn next_link(req: &HttpRequest, cursor: &str) -> String {
    let mut pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    pairs.retain(|(name, _)| name != "cursor");
    pairs.push(("cursor".to_owned(), cursor.to_owned()));
    let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    format!("<{}?{}>; rel=\"next\"", req.path(), query)
}

/// The representations a list can be sent as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

/// Picks JSON or CSV from `Accept` (JSON when absent or indifferent); 406 otherwise.
pub fn negotiate(req: &HttpRequest, csv_offered: bool) -> Result<Format, ApiError> {
    let Ok(accept) = header::Accept::parse(req) else {
        return Err(ApiError::NotAcceptable {
            detail: "the Accept header could not be read".to_owned(),
        });
    };
    if accept.is_empty() {
        return Ok(Format::Json);
    }
    for preference in accept.ranked() {
        let (kind, subtype) = (preference.type_().as_str(), preference.subtype().as_str());
        match (kind, subtype) {
            ("*", "*") | ("application", "*") | ("application", "json") => return Ok(Format::Json),
            ("text", "csv") | ("text", "*") if csv_offered => return Ok(Format::Csv),
            _ => {}
        }
    }
    Err(ApiError::NotAcceptable {
        detail: if csv_offered {
            "this resource is available as application/json or text/csv".to_owned()
        } else {
            "this resource is available as application/json".to_owned()
        },
    })
}
