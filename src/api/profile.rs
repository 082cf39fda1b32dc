//! Turning create and merge-patch bodies into the profile a store writes: required fields,
//! date ranges, one-of-two ids, and a patch checked as the whole record it makes.

use validator::Validate;

use crate::api::body::field_errors;
use crate::domain::{DomainError, FieldError};
use crate::error::ApiError;

/// A field the `validator` rules already required; a 422 naming it if it is somehow absent.
pub fn required<T>(value: Option<T>, field: &str) -> Result<T, DomainError> {
    value.ok_or_else(|| {
        DomainError::Invalid(vec![FieldError::new(field, "required", "is required")])
    })
}

/// A date range whose end, when both are given, is not before its start (a 422 on the end).
pub fn date_range<D: PartialOrd>(
    (start, start_field): (Option<D>, &str),
    (end, end_field): (Option<D>, &str),
) -> Result<(), DomainError> {
    match (start, end) {
        (Some(start), Some(end)) if end < start => {
            Err(DomainError::Invalid(vec![FieldError::new(
                end_field,
                "invalid",
                format!("must not be before {start_field}"),
            )]))
        }
        _ => Ok(()),
    }
}

/// A merge-patch field: the patch's value when it gives one, else the current value.
pub fn patched<T: Clone>(patch: &Option<T>, current: &T) -> T {
    patch.clone().unwrap_or_else(|| current.clone())
}

/// The request a patch makes of the current record, checked by the rules a new one meets.
pub fn validated<T: Validate>(whole: T) -> Result<T, DomainError> {
    whole
        .validate()
        .map_err(|errors| DomainError::Invalid(field_errors(&errors)))?;
    Ok(whole)
}

/// Exactly one of two alternative ids (a 422 on the first otherwise), as the one given.
pub fn one_of<A, B>(
    first: (Option<A>, &str),
    second: (Option<B>, &str),
) -> Result<Either<A, B>, ApiError> {
    match (first.0, second.0) {
        (Some(a), None) => Ok(Either::First(a)),
        (None, Some(b)) => Ok(Either::Second(b)),
        _ => Err(ApiError::Validation {
            errors: vec![FieldError::new(
                first.1,
                "one_of",
                format!("give exactly one of {} and {}", first.1, second.1),
            )],
        }),
    }
}

/// Which of `one_of`'s two ids was given.
pub enum Either<A, B> {
    First(A),
    Second(B),
}
