//! API keys for integrations: read-only, scoped, optionally expiring, revocable. Only a
//! digest of the secret is stored; the prefix lets staff tell keys apart.

pub mod store;

use chrono::NaiveDateTime;

text_enum! {
    /// What an API key may read. Keys never write.
    pub enum Scope {
        OrganisationsRead => "organisations:read",
        ContactsRead => "contacts:read",
        GroupsRead => "groups:read",
        ConsultationsRead => "consultations:read",
        ReportsRead => "reports:read",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    /// The start of the key (`cvk_1a2b3c4d`), safe to show.
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
    pub last_used_at: Option<NaiveDateTime>,
}

pub struct NewApiKey {
    pub name: String,
    pub prefix: String,
    pub secret_digest: String,
    pub scopes: Vec<Scope>,
    pub expires_at: Option<NaiveDateTime>,
    pub created_by: String,
}
