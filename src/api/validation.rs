//! Field rules shared by request bodies and queries. Each pattern is written once, here: fields
//! name it (`#[schema(pattern = "SINGLE_LINE")]`) and `api::spec` writes the regex in place
//! of the name, so clients see exactly what the server checks.

use std::collections::HashSet;
use std::hash::Hash;
use std::sync::LazyLock;

use regex::Regex;
use validator::ValidationError;

/// A single line: no control characters, no leading or trailing white space, not empty.
pub const SINGLE_LINE: &str = r"^[^\s\u0000-\u001f\u007f-\u009f]([^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$";
/// Multi-line text: line breaks and tabs allowed, other control characters not.
pub const MULTI_LINE: &str = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$";
/// Charity Commission for England and Wales register number, with an optional subsidiary
/// suffix (`1123456-1`).
pub const CHARITY_NUMBER: &str = r"^[0-9]{6,7}(-[0-9]{1,2})?$";
/// Companies House number: eight digits, or a two-letter prefix and six digits (SC, NI, OC…).
pub const COMPANY_NUMBER: &str = r"^([0-9]{8}|[A-Z]{2}[0-9]{6})$";
/// A UK postcode in any case, with or without the space; stored upper-case with one space.
pub const POSTCODE: &str = r"^[A-Za-z]{1,2}[0-9][A-Za-z0-9]? ?[0-9][A-Za-z]{2}$";
/// A telephone number as people write it: digits, spaces, brackets, hyphens, leading `+`.
pub const PHONE: &str = r"^\+?[ ()-]*[0-9][0-9 ()-]{5,19}$";
/// An http(s) address with a host name.
pub const WEBSITE: &str = r"^https?://[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+(:[0-9]{1,5})?(/[!-~]*)?$";

/// A community code: three capitals and six digits (`DEI010110`, `EXT020000`).
pub const COMMUNITY_CODE: &str = r"^[A-Z]{3}[0-9]{6}$";
/// An expertise area code: lower-case words joined by underscores (`racial_justice`).
pub const EXPERTISE_CODE: &str = r"^[a-z][a-z0-9_]{1,62}$";

/// A target's code: letters, digits and underscores.
pub const TARGET_CODE: &str = r"^[A-Za-z0-9_]+$";
/// A cursor as the API issues it (base64url).
pub const CURSOR: &str = r"^[A-Za-z0-9_-]+$";
/// Free text in a query (`q`): no control characters (see `list::QueryParams::text`).
pub const QUERY_TEXT: &str = r"^[^\u0000-\u001f\u007f-\u009f]*$";

/// Every pattern by the name fields give it in `#[schema(pattern = …)]` and
/// `#[param(pattern = …)]`.
pub const PATTERNS: &[(&str, &str)] = &[
    ("SINGLE_LINE", SINGLE_LINE),
    ("MULTI_LINE", MULTI_LINE),
    ("CHARITY_NUMBER", CHARITY_NUMBER),
    ("COMPANY_NUMBER", COMPANY_NUMBER),
    ("POSTCODE", POSTCODE),
    ("PHONE", PHONE),
    ("WEBSITE", WEBSITE),
    ("COMMUNITY_CODE", COMMUNITY_CODE),
    ("EXPERTISE_CODE", EXPERTISE_CODE),
    ("TARGET_CODE", TARGET_CODE),
    ("CURSOR", CURSOR),
    ("QUERY_TEXT", QUERY_TEXT),
];

/// The regex a field's pattern names, if it names one.
pub fn pattern(name: &str) -> Option<&'static str> {
    PATTERNS
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, pattern)| *pattern)
}

fn compiled(pattern: &str) -> Regex {
    Regex::new(pattern).expect("the field patterns are valid (checked by unit tests)")
}

pub static SINGLE_LINE_RE: LazyLock<Regex> = LazyLock::new(|| compiled(SINGLE_LINE));
pub static MULTI_LINE_RE: LazyLock<Regex> = LazyLock::new(|| compiled(MULTI_LINE));
pub static CHARITY_NUMBER_RE: LazyLock<Regex> = LazyLock::new(|| compiled(CHARITY_NUMBER));
pub static COMPANY_NUMBER_RE: LazyLock<Regex> = LazyLock::new(|| compiled(COMPANY_NUMBER));
pub static POSTCODE_RE: LazyLock<Regex> = LazyLock::new(|| compiled(POSTCODE));
pub static PHONE_RE: LazyLock<Regex> = LazyLock::new(|| compiled(PHONE));
pub static WEBSITE_RE: LazyLock<Regex> = LazyLock::new(|| compiled(WEBSITE));
pub static COMMUNITY_CODE_RE: LazyLock<Regex> = LazyLock::new(|| compiled(COMMUNITY_CODE));
pub static EXPERTISE_CODE_RE: LazyLock<Regex> = LazyLock::new(|| compiled(EXPERTISE_CODE));
pub static TARGET_CODE_RE: LazyLock<Regex> = LazyLock::new(|| compiled(TARGET_CODE));

/// A set sent as a JSON array: the same value twice is a mistake worth reporting.
pub fn unique_items<T: Eq + Hash>(items: &[T]) -> Result<(), ValidationError> {
    let mut seen = HashSet::new();
    if items.iter().all(|item| seen.insert(item)) {
        Ok(())
    } else {
        Err(ValidationError::new("unique").with_message("must not repeat a value".into()))
    }
}

/// `SW1A1AA`, `sw1a 1aa` → `SW1A 1AA`: the inward code is always the last three characters.
pub fn normalise_postcode(postcode: &str) -> String {
    let compact: String = postcode
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    let split = compact.len().saturating_sub(3);
    format!("{} {}", &compact[..split], &compact[split..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_accept_and_refuse_what_they_say() {
        assert!(SINGLE_LINE_RE.is_match("Northside Peer Voices"));
        assert!(SINGLE_LINE_RE.is_match("A"));
        for bad in ["", " padded", "padded ", "two\nlines", "nul\u{0}"] {
            assert!(!SINGLE_LINE_RE.is_match(bad), "{bad:?}");
        }
        assert!(MULTI_LINE_RE.is_match("Line one\nLine two\tindented"));
        assert!(!MULTI_LINE_RE.is_match("bell\u{7}"));
        for good in ["1161226", "220949", "1123456-1"] {
            assert!(CHARITY_NUMBER_RE.is_match(good), "{good}");
        }
        for bad in ["SC012345", "12345", "1161226-123"] {
            assert!(!CHARITY_NUMBER_RE.is_match(bad), "{bad}");
        }
        for good in ["01234567", "SC123456"] {
            assert!(COMPANY_NUMBER_RE.is_match(good), "{good}");
        }
        assert!(!COMPANY_NUMBER_RE.is_match("1234567"));
        for good in ["M1 1AE", "sw1a1aa", "CF10 3NQ", "B33 8TH"] {
            assert!(POSTCODE_RE.is_match(good), "{good}");
        }
        for bad in ["M1", "12345", "SW1A 1AAA"] {
            assert!(!POSTCODE_RE.is_match(bad), "{bad}");
        }
        for good in ["+44 20 7946 0000", "(0161) 496 0000", "07700900123"] {
            assert!(PHONE_RE.is_match(good), "{good}");
        }
        assert!(!PHONE_RE.is_match("call me"));
        for good in ["https://northside.example.org", "http://a.org:8080/x?y=1"] {
            assert!(WEBSITE_RE.is_match(good), "{good}");
        }
        for bad in [
            "ftp://a.org",
            "https://localhost",
            "https://a.org/ space",
            "northside.org",
        ] {
            assert!(!WEBSITE_RE.is_match(bad), "{bad}");
        }
    }

    #[test]
    fn postcodes_are_stored_in_one_form() {
        assert_eq!(normalise_postcode("sw1a1aa"), "SW1A 1AA");
        assert_eq!(normalise_postcode("M1 1AE"), "M1 1AE");
    }
}
