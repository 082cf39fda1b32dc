//! Who may call what: one rule per operation, by operation id. The guard enforces these,
//! `document` writes them into the OpenAPI document (security requirements, 401 and 403),
//! and a test walks every documented operation against every role and scope, so an
//! operation without a rule cannot ship.

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{OpenApi, Ref, RefOr};

use super::{Principal, Role, Scope};
use crate::error::ApiError;

/// The security scheme names used in the OpenAPI document.
pub const SESSION_SCHEME: &str = "session";
pub const API_KEY_SCHEME: &str = "api_key";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: health checks and signing in.
    Public,
    /// Any signed-in staff member, whatever the role (their own account, signing out).
    SignedIn,
    /// Reading CRM data: every role, and API keys holding the scope.
    Read(Scope),
    /// Reading the change feed: every role, and API keys with any scope; each caller is
    /// shown only the changes to what it may read (`api::changes`).
    Feed,
    /// Changing CRM data: staff and admins.
    Write,
    /// Reading what only staff may see (a record's history, a person's data export): staff
    /// and admins.
    Staff,
    /// Accounts and API keys: admins only.
    Admin,
}

use Access::{Admin, Feed, Public, Read, SignedIn, Staff, Write};

/// Every operation's rule. Keep in operation order of the API, one line each.
const RULES: &[(&str, Access)] = &[
    ("live", Public),
    ("ready", Public),
    ("login", Public),
    ("refresh", Public),
    ("logout", SignedIn),
    ("get_me", SignedIn),
    ("change_my_password", SignedIn),
    ("list_users", Admin),
    ("create_user", Admin),
    ("get_user", Admin),
    ("update_user", Admin),
    ("list_api_keys", Admin),
    ("create_api_key", Admin),
    ("get_api_key", Admin),
    ("revoke_api_key", Admin),
    ("list_audit_events", Admin),
    ("feed_position", Feed),
    ("list_changes", Feed),
    ("list_webhooks", Admin),
    ("create_webhook", Admin),
    ("get_webhook", Admin),
    ("update_webhook", Admin),
    ("delete_webhook", Admin),
    ("rotate_webhook_secret", Admin),
    ("list_webhook_deliveries", Admin),
    ("retry_webhook_delivery", Admin),
    ("test_webhook", Admin),
    ("list_organisations", Read(Scope::OrganisationsRead)),
    ("get_organisation", Read(Scope::OrganisationsRead)),
    ("organisation_history", Staff),
    ("list_duplicates", Staff),
    ("dismiss_duplicate", Write),
    ("create_organisation", Write),
    ("update_organisation", Write),
    ("delete_organisation", Write),
    ("merge_organisations", Write),
    ("get_membership", Read(Scope::OrganisationsRead)),
    ("apply_membership", Write),
    ("approve_membership", Write),
    ("renew_membership", Write),
    ("withdraw_membership", Write),
    ("reinstate_membership", Write),
    ("list_communities", Read(Scope::OrganisationsRead)),
    ("create_community", Admin),
    ("update_community", Admin),
    ("list_expertise_areas", Read(Scope::OrganisationsRead)),
    ("create_expertise_area", Admin),
    ("update_expertise_area", Admin),
    ("list_contacts", Read(Scope::ContactsRead)),
    ("create_contact", Write),
    ("get_contact", Read(Scope::ContactsRead)),
    ("update_contact", Write),
    ("delete_contact", Write),
    ("add_affiliation", Write),
    ("get_affiliation", Read(Scope::ContactsRead)),
    ("update_affiliation", Write),
    ("remove_affiliation", Write),
    ("record_consent", Write),
    ("consent_history", Read(Scope::ContactsRead)),
    ("contact_history", Staff),
    ("export_contact", Staff),
    ("erase_contact", Admin),
    ("list_expert_groups", Read(Scope::GroupsRead)),
    ("create_expert_group", Write),
    ("get_expert_group", Read(Scope::GroupsRead)),
    ("expert_group_history", Staff),
    ("update_expert_group", Write),
    ("delete_expert_group", Write),
    ("list_group_members", Read(Scope::GroupsRead)),
    ("add_group_member", Write),
    ("get_group_member", Read(Scope::GroupsRead)),
    ("update_group_member", Write),
    ("organisation_expert_groups", Read(Scope::GroupsRead)),
    ("contact_expert_groups", Read(Scope::GroupsRead)),
    ("list_consultations", Read(Scope::ConsultationsRead)),
    ("create_consultation", Write),
    ("get_consultation", Read(Scope::ConsultationsRead)),
    ("consultation_history", Staff),
    ("update_consultation", Write),
    ("delete_consultation", Write),
    ("invite_to_consultation", Write),
    ("list_invitations", Read(Scope::ConsultationsRead)),
    ("create_response", Write),
    ("list_responses", Read(Scope::ConsultationsRead)),
    ("get_response", Read(Scope::ConsultationsRead)),
    ("update_response", Write),
    ("consultation_participation", Read(Scope::ConsultationsRead)),
    ("organisation_consultations", Read(Scope::ConsultationsRead)),
    ("composition_report", Read(Scope::ReportsRead)),
    ("composition_trend", Read(Scope::ReportsRead)),
    ("gaps_report", Read(Scope::ReportsRead)),
    ("expertise_coverage_report", Read(Scope::ReportsRead)),
    ("participation_report", Read(Scope::ReportsRead)),
    ("list_report_snapshots", Read(Scope::ReportsRead)),
    ("create_report_snapshot", Write),
    ("compare_report_snapshots", Read(Scope::ReportsRead)),
    ("get_report_snapshot", Read(Scope::ReportsRead)),
    ("delete_report_snapshot", Write),
    ("list_benchmarks", Read(Scope::ReportsRead)),
    ("create_benchmark", Write),
    ("get_benchmark", Read(Scope::ReportsRead)),
    ("update_benchmark", Write),
    ("delete_benchmark", Write),
    ("import_organisations", Write),
    ("import_contacts", Write),
    ("list_targets", Read(Scope::ReportsRead)),
    ("create_target", Write),
    ("get_target", Read(Scope::ReportsRead)),
    ("update_target", Write),
    ("delete_target", Write),
];

/// The rule for an operation, or `None` when it has none (the guard then refuses it).
pub fn rule(operation_id: &str) -> Option<Access> {
    RULES
        .iter()
        .find(|(id, _)| *id == operation_id)
        .map(|(_, access)| *access)
}

impl Access {
    /// The roles whose members may call the operation.
    pub fn roles(self) -> &'static [Role] {
        match self {
            Public | SignedIn | Read(_) | Feed => &[Role::Admin, Role::Staff, Role::Viewer],
            Write | Staff => &[Role::Admin, Role::Staff],
            Admin => &[Role::Admin],
        }
    }

    /// The key scopes any one of which allows the operation; none means keys may not.
    pub fn scopes(self) -> Vec<Scope> {
        match self {
            Read(scope) => vec![scope],
            Feed => Scope::ALL.to_vec(),
            _ => Vec::new(),
        }
    }

    /// Allows `principal` or says why not (403).
    pub fn check(self, principal: &Principal) -> Result<(), ApiError> {
        match principal {
            Principal::User { role, .. } if self.roles().contains(role) => Ok(()),
            Principal::User { role, .. } => Err(ApiError::forbidden(format!(
                "the {role} role may not do this; it needs one of: {}",
                join(self.roles())
            ))),
            Principal::ApiKey { scopes: held, .. } => {
                let allowed = self.scopes();
                if allowed.iter().any(|scope| held.contains(scope)) {
                    Ok(())
                } else if allowed.is_empty() {
                    Err(ApiError::forbidden(
                        "API keys are read-only and cannot use this operation; sign in as staff",
                    ))
                } else {
                    let names: Vec<&str> = allowed.iter().map(|s| s.as_str()).collect();
                    Err(ApiError::forbidden(format!(
                        "this API key lacks the {} scope",
                        names.join(" or ")
                    )))
                }
            }
        }
    }

    /// A sentence for the operation's description.
    fn describe(self) -> String {
        match self {
            Public => "**Access:** anyone, no credentials needed.".to_owned(),
            SignedIn => "**Access:** any signed-in user (not API keys).".to_owned(),
            Feed => "**Access:** roles admin, staff, viewer; API keys with any scope. Each caller is shown only the changes to what it may read.".to_owned(),
            _ => {
                let keys = match self.scopes().as_slice() {
                    [scope] => format!("; API keys with `{scope}`"),
                    _ => "; not API keys".to_owned(),
                };
                format!("**Access:** roles {}{keys}.", join(self.roles()))
            }
        }
    }
}

fn join(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|role| role.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes the security schemes and every operation's rule into `openapi`: its security
/// requirements (role names as the scopes of the session scheme, as OpenAPI 3.1 allows),
/// 401 and 403 responses, and a line in its description.
pub fn document(openapi: &mut OpenApi) {
    let components = openapi.components.get_or_insert_with(Default::default);
    let mut session = Http::new(HttpAuthScheme::Bearer);
    session.bearer_format = Some("JWT".to_owned());
    session.description = Some(
        "An access token from `POST /api/v1/auth/login` or `/auth/refresh`. The scopes listed on an operation are the roles allowed.".to_owned(),
    );
    components.add_security_scheme(SESSION_SCHEME, SecurityScheme::Http(session));
    let mut key = Http::new(HttpAuthScheme::Bearer);
    key.bearer_format = Some("cvk_…".to_owned());
    key.description = Some(
        "An integration's API key, created by an admin. The scopes listed on an operation are the key scopes allowed.".to_owned(),
    );
    components.add_security_scheme(API_KEY_SCHEME, SecurityScheme::Http(key));

    for item in openapi.paths.paths.values_mut() {
        for operation in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            document_operation(operation);
        }
    }
}

fn document_operation(operation: &mut Operation) {
    let Some(access) = operation.operation_id.as_deref().and_then(rule) else {
        return;
    };
    let description = operation.description.get_or_insert_with(String::new);
    if !description.is_empty() {
        description.push_str("\n\n");
    }
    description.push_str(&access.describe());
    if access == Public {
        return;
    }
    let roles: Vec<&str> = access.roles().iter().map(|role| role.as_str()).collect();
    let mut security = vec![SecurityRequirement::new(SESSION_SCHEME, roles)];
    // One requirement per scope: any one of them will do.
    for scope in access.scopes() {
        security.push(SecurityRequirement::new(API_KEY_SCHEME, [scope.as_str()]));
    }
    operation.security = Some(security);
    for (status, response) in [("401", "Unauthorized"), ("403", "Forbidden")] {
        operation.responses.responses.insert(
            status.to_owned(),
            RefOr::Ref(Ref::from_response_name(response)),
        );
    }
}
