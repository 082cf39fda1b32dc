//! The access matrix: every operation in the served OpenAPI document, called by every role,
//! every API key scope, a revoked key, a forged token and nobody, must allow exactly whom
//! its documented security requirements name. An operation without a rule fails here.

use actix_web::http::Method;
use serde_json::Value;

use crate::db_test;
use crate::helpers::{PASSWORD, TestApp, TestResponse};

const SCOPES: &[&str] = &[
    "organisations:read",
    "contacts:read",
    "groups:read",
    "consultations:read",
    "reports:read",
];

/// Who calls.
#[derive(Debug, Clone)]
enum Caller {
    Nobody,
    Role {
        role: &'static str,
        email: String,
        token: String,
    },
    Key {
        scope: &'static str,
        key: String,
    },
    RevokedKey(String),
    ForgedToken,
}

/// What an operation's documented `security` allows.
struct Documented {
    /// `None`: public.
    roles: Option<Vec<String>>,
    scopes: Vec<String>,
}

impl Documented {
    fn of(operation: &Value) -> Self {
        // Public operations say so with `security: []`.
        let Some(requirements) = operation["security"]
            .as_array()
            .filter(|requirements| !requirements.is_empty())
        else {
            return Self {
                roles: None,
                scopes: Vec::new(),
            };
        };
        let named = |scheme: &str| -> Vec<String> {
            requirements
                .iter()
                .filter_map(|requirement| requirement[scheme].as_array())
                .flatten()
                .filter_map(|name| name.as_str().map(str::to_owned))
                .collect()
        };
        Self {
            roles: Some(named("session")),
            scopes: named("api_key"),
        }
    }

    /// The status class the caller must get: `None` allowed, `Some(401 | 403)` refused.
    fn expected_refusal(&self, caller: &Caller) -> Option<u16> {
        let Some(roles) = &self.roles else {
            return None;
        };
        match caller {
            Caller::Nobody | Caller::RevokedKey(_) | Caller::ForgedToken => Some(401),
            Caller::Role { role, .. } => (!roles.iter().any(|r| r == role)).then_some(403),
            Caller::Key { scope, .. } => (!self.scopes.iter().any(|s| s == scope)).then_some(403),
        }
    }
}

async fn callers(app: &TestApp) -> Vec<Caller> {
    let mut callers = vec![Caller::Nobody, Caller::ForgedToken];
    for role in ["admin", "staff", "viewer"] {
        let (email, token) = app.account(role).await;
        callers.push(Caller::Role { role, email, token });
    }
    for scope in SCOPES {
        let key = app.api_key(&[scope]).await;
        callers.push(Caller::Key { scope, key });
    }
    let revoked = app.api_key(SCOPES).await;
    let keys = app.get("/api/v1/api-keys?limit=500").await.json();
    let id = keys["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| revoked.starts_with(key["prefix"].as_str().unwrap()))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.delete(&format!("/api/v1/api-keys/{id}"), None)
            .await
            .status
            .as_u16(),
        204
    );
    callers.push(Caller::RevokedKey(revoked));
    callers
}

/// A credential for `caller` to call `operation` with. Signing out ends a session, so users
/// sign in afresh for it; sign-in is rate limited, so only for it.
async fn credential(app: &TestApp, caller: &Caller, operation: &str) -> Option<String> {
    match caller {
        Caller::Nobody => None,
        Caller::ForgedToken => Some("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl".to_owned()),
        Caller::Role { email, .. } if operation == "logout" => Some(
            app.sign_in(email, PASSWORD).await["access_token"]
                .as_str()
                .unwrap()
                .to_owned(),
        ),
        Caller::Role { token, .. } => Some(token.clone()),
        Caller::Key { key, .. } | Caller::RevokedKey(key) => Some(key.clone()),
    }
}

async fn call(
    app: &TestApp,
    credential: Option<&str>,
    method: &Method,
    path: &str,
) -> TestResponse {
    let path = path.replace("{id}", &uuid::Uuid::now_v7().to_string());
    let caller = app.as_(credential);
    let request = caller.request(method.clone(), &path);
    match *method {
        Method::POST | Method::PUT | Method::PATCH => {
            let request = request.insert_header(("content-type", "application/json"));
            caller.send(request, Some(b"{}".to_vec())).await
        }
        _ => caller.send(request, None).await,
    }
}

db_test!(
    async fn every_operation_allows_exactly_whom_it_documents(app) {
        let document = app.get("/api/v1/openapi.json").await.json();
        let callers = callers(&app).await;
        let mut checked = 0;
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let id = operation["operationId"].as_str().unwrap();
                assert!(
                    convene::auth::rules::rule(id).is_some(),
                    "{id} has no access rule in src/auth/rules.rs"
                );
                let method: Method = method.to_uppercase().parse().unwrap();
                let documented = Documented::of(operation);
                for caller in &callers {
                    let credential = credential(&app, caller, id).await;
                    let response = call(&app, credential.as_deref(), &method, path).await;
                    let status = response.status.as_u16();
                    match documented.expected_refusal(caller) {
                        Some(refusal) => {
                            response.problem(refusal);
                            if refusal == 401 {
                                assert_eq!(
                                    response.header("www-authenticate").as_deref(),
                                    Some(r#"Bearer realm="convene""#)
                                );
                            }
                        }
                        None => assert!(
                            status != 401 && status != 403,
                            "{method} {path} refused {caller:?} with {status}: {}",
                            response.text()
                        ),
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked >= 20 * 11, "walked only {checked} calls");
    }
);

db_test!(
    async fn the_document_states_every_rule_with_401_and_403(app) {
        let document = app.get("/api/v1/openapi.json").await.json();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let responses = &operation["responses"];
                if operation["security"].as_array().is_none_or(Vec::is_empty) {
                    assert!(responses["403"].is_null(), "{method} {path} is public");
                } else {
                    for status in ["401", "403"] {
                        assert_eq!(
                            responses[status]["$ref"].as_str(),
                            Some(if status == "401" {
                                "#/components/responses/Unauthorized"
                            } else {
                                "#/components/responses/Forbidden"
                            }),
                            "{method} {path}"
                        );
                    }
                }
                let description = operation["description"].as_str().unwrap_or_default();
                assert!(description.contains("**Access:**"), "{method} {path}: {description}");
            }
        }
    }
);

db_test!(
    /// The promises of API.md, checked against the documented rules independently of the
    /// table that produces them: keys never write, viewers never change CRM data, accounts,
    /// keys and taxonomies are managed by admins, and every role can read CRM data.
    async fn the_rules_keep_the_promises_of_the_roles(app) {
        let document = app.get("/api/v1/openapi.json").await.json();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let documented = Documented::of(operation);
                let Some(roles) = &documented.roles else {
                    assert!(
                        path.starts_with("/health/") || path == "/api/v1/auth/login" || path == "/api/v1/auth/refresh",
                        "{method} {path} is public"
                    );
                    continue;
                };
                let has = |role: &str| roles.iter().any(|r| r == role);
                assert!(has("admin"), "{method} {path}: admins may do everything");
                let own_account = path.starts_with("/api/v1/auth/") || path.starts_with("/api/v1/me");
                // Accounts, keys and the vocabularies everyone codes against are for admins.
                // So are the audit log and erasure (irreversible).
                let administration = path.starts_with("/api/v1/users")
                    || path.starts_with("/api/v1/api-keys")
                    || path.starts_with("/api/v1/webhooks")
                    || path.starts_with("/api/v1/audit-events")
                    || path.ends_with("/erasure")
                    || (path.starts_with("/api/v1/taxonomies") && method != "get");
                // A record's history and a person's export: staff, never viewers or keys.
                // So are the duplicates list, a data-quality tool.
                let staff_only = path.ends_with("/history")
                    || path.ends_with("/export")
                    || path.ends_with("/duplicates");
                if administration {
                    assert_eq!(roles, &["admin"], "{method} {path}");
                } else if staff_only {
                    assert!(has("staff") && !has("viewer"), "{method} {path}: staff only");
                    assert!(documented.scopes.is_empty(), "{method} {path}: not for keys");
                } else if own_account || method == "get" {
                    assert!(has("staff") && has("viewer"), "{method} {path}");
                } else {
                    assert!(has("staff") && !has("viewer"), "{method} {path}: staff write, viewers read");
                }
                if method != "get" || own_account || administration {
                    assert!(documented.scopes.is_empty(), "{method} {path}: keys only read CRM data");
                }
            }
        }
    }
);
