//! Staff accounts and their sign-in sessions. Passwords arrive here already hashed; the
//! rules that protect the alliance from locking itself out live here too.

pub mod sessions;
pub mod store;

use chrono::NaiveDateTime;

text_enum! {
    /// What a staff account may do: `admin` everything, including accounts and keys;
    /// `staff` read and write CRM data; `viewer` read only.
    pub enum Role {
        Admin => "admin",
        Staff => "staff",
        Viewer => "viewer",
    }
}

/// A staff account as the API shows it: never with its password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub active: bool,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub last_login_at: Option<NaiveDateTime>,
}

pub struct NewUser {
    /// Lower-cased by the caller.
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
}

/// A change to an account: fields left `None` stay as they are.
#[derive(Debug, Default, Clone)]
pub struct UserChange {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub active: Option<bool>,
}

/// Filters for the account list.
#[derive(Debug, Default, Clone)]
pub struct UserFilter {
    pub roles: Vec<String>,
    pub active: Option<bool>,
    /// Part of the email or name, case-insensitive.
    pub q: Option<String>,
}

/// Why a session ended early; stored with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeReason {
    Logout,
    /// A spent refresh token came back: someone else may hold the family.
    RefreshReuse,
    Deactivated,
    PasswordChanged,
    PasswordReset,
}

impl RevokeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::RefreshReuse => "refresh_reuse",
            Self::Deactivated => "deactivated",
            Self::PasswordChanged => "password_changed",
            Self::PasswordReset => "password_reset",
        }
    }
}
