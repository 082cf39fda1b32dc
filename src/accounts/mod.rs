//! What makes an acceptable account: its email address (normalised, and shaped as one) and
//! the password policy. Pure rules at the bottom of the layers, so that the settings
//! (`CONVENE_ADMIN_EMAIL`, checked before anything starts), the `admin` command and the API
//! refuse exactly the same things.

use std::sync::LazyLock;

use validator::{ValidateEmail, ValidationError};

/// Longest email address accepted (RFC 5321's limit on a forward path).
pub const EMAIL_MAX_LENGTH: usize = 254;

/// Shortest password accepted (NCSC and NIST both ask for length over complexity).
pub const PASSWORD_MIN_LENGTH: usize = 12;
/// Long enough for any passphrase, short enough that hashing cannot be used to tie up a core.
pub const PASSWORD_MAX_LENGTH: usize = 128;

/// Emails are compared and stored lower-cased.
pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// An account's email address: the rule of `POST /users` and of `CONVENE_ADMIN_EMAIL`, so an
/// account the API would refuse cannot be made at start-up.
pub fn account_email(email: &str) -> Result<(), ValidationError> {
    if email.chars().count() > EMAIL_MAX_LENGTH {
        return Err(ValidationError::new("length"));
    }
    if !email.validate_email() {
        return Err(ValidationError::new("email").with_message("must be an email address".into()));
    }
    Ok(())
}

/// The 10,000 most common passwords, lower-case (from the zxcvbn frequency lists, MIT).
static COMMON: LazyLock<std::collections::HashSet<&'static str>> =
    LazyLock::new(|| include_str!("common-passwords.txt").lines().collect());

/// Why `password` may not be used, or `None` when it may. `email` is the account's, so the
/// password cannot simply be the user's name.
pub fn password_weakness(password: &str, email: &str) -> Option<String> {
    let length = password.chars().count();
    if length < PASSWORD_MIN_LENGTH {
        return Some(format!("must be at least {PASSWORD_MIN_LENGTH} characters"));
    }
    if length > PASSWORD_MAX_LENGTH {
        return Some(format!("must be at most {PASSWORD_MAX_LENGTH} characters"));
    }
    let lower = password.to_lowercase();
    // A common word with digits or symbols added ("Summer2026!!!") is as weak as the word.
    let stem = lower.trim_end_matches(|c: char| !c.is_alphabetic());
    let stem = stem.trim_start_matches(|c: char| !c.is_alphabetic());
    if COMMON.contains(lower.as_str()) || (stem.chars().count() >= 4 && COMMON.contains(stem)) {
        return Some("is too common: choose a less predictable password".to_owned());
    }
    let distinct: std::collections::HashSet<char> = lower.chars().collect();
    if distinct.len() < 5 {
        return Some("uses too few different characters".to_owned());
    }
    let local_part = email.split('@').next().unwrap_or_default().to_lowercase();
    if local_part.chars().count() >= 4 && lower.contains(&local_part) {
        return Some("must not contain your email address".to_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_refuses_short_common_and_personal_passwords() {
        let email = "sam.jones@example.org";
        assert!(password_weakness("short", email).is_some());
        assert!(password_weakness("password1234", email).is_some());
        assert!(password_weakness("Password1234", email).is_some());
        assert!(password_weakness("Football2026!!", email).is_some());
        assert!(password_weakness("aaaaaaaaaaaaaaaa", email).is_some());
        assert!(password_weakness("sam.jones-2026-x", email).is_some());
        assert!(password_weakness(&"x".repeat(200), email).is_some());
        assert_eq!(password_weakness("copper kettle moorland", email), None);
        assert_eq!(password_weakness("Tr0ubadour&3-horse", email), None);
    }
}
