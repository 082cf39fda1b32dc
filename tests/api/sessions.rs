//! Signing in, tokens, sessions and abuse resistance.

use actix_web::http::{Method, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use convene::auth::secrets::digest;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, JWT_SECRET, PASSWORD, TestApp, TestResponse};

const LOGIN: &str = "/api/v1/auth/login";
const REFRESH: &str = "/api/v1/auth/refresh";
const LOGOUT: &str = "/api/v1/auth/logout";
const ME: &str = "/api/v1/me";
const MY_PASSWORD: &str = "/api/v1/me/password";
const CHALLENGE: &str = r#"Bearer realm="convene""#;
/// The one origin the test configuration allows.
const ADMIN_ORIGIN: &str = "https://admin.example.org";
const FOREIGN_ORIGIN: &str = "https://evil.example.com";
/// Long, not common, and unlike `PASSWORD`.
const NEW_PASSWORD: &str = "lantern orchard granite 77";

/// Creates an account with `PASSWORD` without signing it in (sign-ins are rate limited, so
/// tests count them); returns its email and id.
async fn new_user(app: &TestApp, role: &str) -> (String, String) {
    let email = format!("{role}-{}@example.org", uuid::Uuid::now_v7().simple());
    let body = json!({"email": email, "name": "Test User", "role": role, "password": PASSWORD});
    let response = app.post_json("/api/v1/users", &body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    let id = response.json()["id"].as_str().expect("an id").to_owned();
    (email, id)
}

async fn login(app: &TestApp, email: &str, password: &str) -> TestResponse {
    app.as_anonymous()
        .post_json(LOGIN, &json!({"email": email, "password": password}))
        .await
}

async fn refresh(app: &TestApp, refresh_token: &str) -> TestResponse {
    app.as_anonymous()
        .post_json(REFRESH, &json!({"refresh_token": refresh_token}))
        .await
}

async fn me(app: &TestApp, access_token: &str) -> TestResponse {
    app.as_(Some(access_token)).get(ME).await
}

/// Activates or deactivates the account `id` as the admin.
async fn set_active(app: &TestApp, id: &str, active: bool) {
    let response = app
        .patch_json(
            &format!("/api/v1/users/{id}"),
            &json!({"active": active}),
            None,
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
}

fn access_token(tokens: &Value) -> &str {
    tokens["access_token"].as_str().expect("an access token")
}

fn refresh_token(tokens: &Value) -> &str {
    tokens["refresh_token"].as_str().expect("a refresh token")
}

/// The decoded `index`th part of a JWT (0: header, 1: claims).
fn jwt_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("a JWT part");
    let bytes = URL_SAFE_NO_PAD.decode(part).expect("base64url");
    serde_json::from_slice(&bytes).expect("a JSON object")
}

fn claims_of(token: &str) -> Value {
    jwt_part(token, 1)
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// The `kid` the server puts on tokens signed with `JWT_SECRET`.
fn server_kid() -> String {
    digest(&format!("convene-kid:{JWT_SECRET}"))[..16].to_owned()
}

fn sign(claims: &Value, alg: Algorithm, kid: Option<&str>, secret: &str) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    encode(
        &header,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("a signed token")
}

fn now() -> i64 {
    Utc::now().timestamp()
}

/// Asserts a 401 problem carrying the Bearer challenge; returns what it tells the client.
#[track_caller]
fn unauthorized(response: &TestResponse, case: &str) -> (Value, Value, Value) {
    assert_eq!(
        response.status,
        StatusCode::UNAUTHORIZED,
        "{case}: {}",
        response.text()
    );
    let problem = response.problem(401);
    assert_eq!(
        response.header("www-authenticate").as_deref(),
        Some(CHALLENGE),
        "{case}"
    );
    (
        problem["type"].clone(),
        problem["title"].clone(),
        problem["detail"].clone(),
    )
}

/// Forges access tokens from a real session of a staff account, and calls `GET /me` with
/// them. Every refusal must read like the refusal of a garbage token.
struct Forger<'a> {
    app: &'a TestApp,
    email: String,
    /// The claims of a real access token.
    template: Value,
    refusal: (Value, Value, Value),
}

impl<'a> Forger<'a> {
    async fn new(app: &'a TestApp) -> Self {
        let (email, token) = app.account("staff").await;
        let garbage = me(app, "not-a-token").await;
        Self {
            app,
            email,
            template: claims_of(&token),
            refusal: unauthorized(&garbage, "garbage"),
        }
    }

    /// The real claims, freshly issued: valid for five minutes, with a new `jti`.
    fn claims(&self) -> Value {
        let mut claims = self.template.clone();
        claims["iat"] = json!(now());
        claims["exp"] = json!(now() + 300);
        claims["jti"] = json!(uuid::Uuid::now_v7().to_string());
        claims
    }

    /// `claims` signed exactly as the server signs.
    fn token(&self, claims: &Value) -> String {
        sign(claims, Algorithm::HS256, Some(&server_kid()), JWT_SECRET)
    }

    async fn assert_accepted(&self, token: &str, case: &str) {
        let response = me(self.app, token).await;
        assert_eq!(
            response.status,
            StatusCode::OK,
            "{case}: {}",
            response.text()
        );
        assert_eq!(response.json()["email"], self.email.as_str(), "{case}");
    }

    async fn assert_refused(&self, token: &str, case: &str) {
        let response = me(self.app, token).await;
        assert_eq!(unauthorized(&response, case), self.refusal, "{case}");
    }

    /// The positive control: without it, the refusals could come from a broken forgery.
    async fn assert_control_accepted(&self) {
        self.assert_accepted(&self.token(&self.claims()), "control")
            .await;
    }
}

db_test!(
    async fn signing_in_returns_a_bearer_pair_for_the_account(app) {
        let (email, id) = new_user(&app, "staff").await;
        let tokens = app.sign_in(&email, PASSWORD).await;
        assert_eq!(tokens["token_type"], "Bearer");
        let access = access_token(&tokens);
        assert_ne!(access, refresh_token(&tokens));

        let header = jwt_part(access, 0);
        assert_eq!(header["alg"], "HS256");
        assert_eq!(header["kid"], server_kid());
        let claims = claims_of(access);
        assert_eq!(claims["iss"], "convene");
        assert_eq!(claims["aud"], "convene-api");
        assert_eq!(claims["sub"], id.as_str());
        assert_eq!(claims["role"], "staff");
        assert_eq!(claims["typ"], "access");
        assert!(claims["sid"].is_string() && claims["jti"].is_string(), "{claims}");
        let expires_in = tokens["expires_in"].as_i64().expect("expires_in");
        let lifetime = claims["exp"].as_i64().unwrap() - now();
        assert!(expires_in > 0 && (lifetime - expires_in).abs() <= 2, "{expires_in} vs {lifetime}");
        assert_eq!(claims_of(refresh_token(&tokens))["typ"], "refresh");
        let session_end = tokens["refresh_token_expires_at"].as_str().unwrap();
        let session_end = DateTime::parse_from_rfc3339(session_end).expect("an RFC 3339 time");
        assert!(session_end.timestamp() > claims["exp"].as_i64().unwrap());

        let response = me(&app, access).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        let account = response.json();
        assert_eq!(account["id"], id.as_str());
        assert_eq!(account["email"], email.as_str());
        assert!(account.get("password_hash").is_none(), "{account}");
        assert!(!response.text().contains("$argon2"));
    }
);

db_test!(
    async fn a_wrong_password_an_unknown_email_and_an_inactive_account_are_refused_alike(app) {
        let (email, _) = new_user(&app, "staff").await;
        let (inactive, inactive_id) = new_user(&app, "staff").await;
        set_active(&app, &inactive_id, false).await;

        let wrong = "not the password at all 9";
        let wrong_password = login(&app, &email, wrong).await;
        let unknown_email = login(&app, "nobody-here@example.org", wrong).await;
        let inactive_account = login(&app, &inactive, PASSWORD).await;

        let refusal = unauthorized(&wrong_password, "wrong password");
        assert_eq!(unauthorized(&unknown_email, "unknown email"), refusal);
        assert_eq!(unauthorized(&inactive_account, "inactive account"), refusal);
        for response in [&wrong_password, &unknown_email, &inactive_account] {
            let text = response.text();
            assert!(!text.contains(wrong) && !text.contains(PASSWORD), "{text}");
        }
    }
);

db_test!(
    async fn the_sixth_attempt_on_an_account_in_a_minute_is_limited_even_with_the_right_password(app) {
        let (email, _) = new_user(&app, "staff").await;
        for attempt in 0..5 {
            // The limit is per account, however its email is spelt.
            let spelling = if attempt % 2 == 0 { email.to_uppercase() } else { email.clone() };
            let response = login(&app, &spelling, "a wrong guess, surely 1").await;
            unauthorized(&response, &format!("attempt {}", attempt + 1));
        }

        let limited = login(&app, &email, PASSWORD).await;
        let problem = limited.problem(429);
        assert_eq!(problem["type"], "/problems/too-many-requests");
        let retry_after: u64 = limited
            .header("retry-after")
            .expect("a Retry-After header")
            .parse()
            .expect("Retry-After in seconds");
        assert!((1..=60).contains(&retry_after), "{retry_after}");

        // Other accounts are not locked out by it.
        app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    }
);

db_test!(
    async fn one_address_is_limited_to_thirty_sign_in_attempts_a_minute(app) {
        // The admin's sign-in at start-up was the first attempt from this address; these
        // are sent at once, so the bucket (one attempt back every two seconds) stays empty.
        let started = std::time::Instant::now();
        let anonymous = app.as_anonymous();
        let attempts = (0..31).map(|i| {
            let body = json!({"email": format!("unknown-{i}@example.org"), "password": "a wrong guess, surely 1"});
            let anonymous = &anonymous;
            async move { anonymous.post_json(LOGIN, &body).await }
        });
        let responses = futures_util::future::join_all(attempts).await;

        let mut limited = 0;
        for response in &responses {
            if response.status == StatusCode::TOO_MANY_REQUESTS {
                response.problem(429);
                assert!(response.header("retry-after").is_some());
                limited += 1;
            } else {
                unauthorized(response, "an attempt under the limit");
            }
        }
        if started.elapsed() < std::time::Duration::from_millis(1500) {
            assert_eq!(limited, 2, "29 of the burst of 30 were left for these 31");
        } else {
            // A slow machine: one attempt may have come back meanwhile.
            assert!((1..=2).contains(&limited), "{limited} of 31 attempts were limited");
        }
    }
);

db_test!(
    async fn guessing_the_current_password_is_limited_like_signing_in(app) {
        // The sign-in in `account` is the first attempt on the account.
        let (_, token) = app.account("staff").await;
        let guess = json!({"current_password": "a wrong guess, surely 1", "new_password": NEW_PASSWORD});
        for attempt in 2..=5 {
            let response = app.as_(Some(&token)).post_json(MY_PASSWORD, &guess).await;
            response.problem(422);
            assert_eq!(response.error_fields(), ["current_password"], "attempt {attempt}");
        }
        let right = json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD});
        let limited = app.as_(Some(&token)).post_json(MY_PASSWORD, &right).await;
        assert_eq!(limited.problem(429)["type"], "/problems/too-many-requests");
        assert!(limited.header("retry-after").is_some());
    }
);

db_test!(
    async fn refreshing_exchanges_the_refresh_token_for_a_new_working_pair(app) {
        let (email, _) = new_user(&app, "staff").await;
        let first = app.sign_in(&email, PASSWORD).await;
        let response = refresh(&app, refresh_token(&first)).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        let second = response.json();
        assert_eq!(second["token_type"], "Bearer");
        assert_ne!(refresh_token(&second), refresh_token(&first));
        assert_ne!(access_token(&second), access_token(&first));
        assert_eq!(claims_of(access_token(&second))["sid"], claims_of(access_token(&first))["sid"]);

        let account = me(&app, access_token(&second)).await;
        assert_eq!(account.status, StatusCode::OK, "{}", account.text());
        assert_eq!(account.json()["email"], email.as_str());
        // Refreshing never extends the session: it ends when the first token said.
        let end = |tokens: &Value| {
            DateTime::parse_from_rfc3339(tokens["refresh_token_expires_at"].as_str().unwrap())
                .unwrap()
                .timestamp()
        };
        assert_eq!(end(&second), end(&first));
        let third = refresh(&app, refresh_token(&second)).await;
        assert_eq!(third.status, StatusCode::OK, "{}", third.text());
    }
);

db_test!(
    async fn presenting_a_spent_refresh_token_ends_its_whole_session(app) {
        let (email, _) = new_user(&app, "staff").await;
        let stolen = app.sign_in(&email, PASSWORD).await;
        let elsewhere = app.sign_in(&email, PASSWORD).await;
        let response = refresh(&app, refresh_token(&stolen)).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        let rotated = response.json();

        unauthorized(&refresh(&app, refresh_token(&stolen)).await, "spent refresh token");
        unauthorized(&refresh(&app, refresh_token(&rotated)).await, "newest refresh token");
        unauthorized(&me(&app, access_token(&stolen)).await, "first access token");
        unauthorized(&me(&app, access_token(&rotated)).await, "rotated access token");

        // Only that session: the account's other session goes on.
        let other = me(&app, access_token(&elsewhere)).await;
        assert_eq!(other.status, StatusCode::OK, "{}", other.text());
        let other = refresh(&app, refresh_token(&elsewhere)).await;
        assert_eq!(other.status, StatusCode::OK, "{}", other.text());
    }
);

db_test!(
    async fn concurrent_exchanges_of_one_refresh_token_count_as_reuse(app) {
        let (email, _) = new_user(&app, "staff").await;
        let tokens = app.sign_in(&email, PASSWORD).await;
        let presented = refresh_token(&tokens);
        let responses =
            futures_util::future::join_all((0..4).map(|_| refresh(&app, presented))).await;
        let winners: Vec<&TestResponse> =
            responses.iter().filter(|r| r.status == StatusCode::OK).collect();
        assert_eq!(winners.len(), 1, "exactly one exchange succeeds");
        for response in responses.iter().filter(|r| r.status != StatusCode::OK) {
            unauthorized(response, "a concurrent exchange");
        }
        // The losers were reuses, so the session ended, the winner's pair with it.
        let won = winners[0].json();
        unauthorized(&refresh(&app, refresh_token(&won)).await, "the winner's refresh token");
        unauthorized(&me(&app, access_token(&won)).await, "the winner's access token");
    }
);

db_test!(
    async fn a_refresh_token_must_be_a_refresh_token_the_server_issued(app) {
        let (email, _) = new_user(&app, "staff").await;
        let tokens = app.sign_in(&email, PASSWORD).await;
        let refusal = unauthorized(&refresh(&app, "not-a-token").await, "garbage");
        let access_as_refresh = refresh(&app, access_token(&tokens)).await;
        assert_eq!(unauthorized(&access_as_refresh, "access token"), refusal);
        // Well signed but never stored: only issued refresh tokens can be exchanged.
        let mut claims = claims_of(refresh_token(&tokens));
        claims["jti"] = json!(uuid::Uuid::now_v7().to_string());
        let forged = sign(&claims, Algorithm::HS256, Some(&server_kid()), JWT_SECRET);
        assert_eq!(unauthorized(&refresh(&app, &forged).await, "forged refresh token"), refusal);

        // None of these spent or ended the session.
        let response = refresh(&app, refresh_token(&tokens)).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    }
);

db_test!(
    async fn signing_out_ends_only_that_session(app) {
        let (email, _) = new_user(&app, "staff").await;
        let leaving = app.sign_in(&email, PASSWORD).await;
        let staying = app.sign_in(&email, PASSWORD).await;

        let response = app.as_(Some(access_token(&leaving))).post_json(LOGOUT, &json!({})).await;
        assert_eq!(response.status, StatusCode::NO_CONTENT, "{}", response.text());
        assert!(response.body.is_empty());

        unauthorized(&me(&app, access_token(&leaving)).await, "signed-out access token");
        unauthorized(&refresh(&app, refresh_token(&leaving)).await, "signed-out refresh token");
        let again = app.as_(Some(access_token(&leaving))).post_json(LOGOUT, &json!({})).await;
        unauthorized(&again, "signing out twice");

        let other = me(&app, access_token(&staying)).await;
        assert_eq!(other.status, StatusCode::OK, "{}", other.text());
        let other = refresh(&app, refresh_token(&staying)).await;
        assert_eq!(other.status, StatusCode::OK, "{}", other.text());
    }
);

db_test!(
    async fn deactivating_an_account_ends_its_sessions_for_good(app) {
        let (email, id) = new_user(&app, "staff").await;
        let tokens = app.sign_in(&email, PASSWORD).await;
        let account = me(&app, access_token(&tokens)).await;
        assert_eq!(account.status, StatusCode::OK, "{}", account.text());

        set_active(&app, &id, false).await;
        unauthorized(&me(&app, access_token(&tokens)).await, "access token");
        unauthorized(&refresh(&app, refresh_token(&tokens)).await, "refresh token");

        // The sessions were ended, not paused: reactivating does not bring them back.
        set_active(&app, &id, true).await;
        unauthorized(&me(&app, access_token(&tokens)).await, "access token after reactivation");
        unauthorized(&refresh(&app, refresh_token(&tokens)).await, "refresh token after reactivation");
        let fresh = app.sign_in(&email, PASSWORD).await;
        let account = me(&app, access_token(&fresh)).await;
        assert_eq!(account.status, StatusCode::OK, "{}", account.text());
    }
);

db_test!(
    async fn changing_the_password_needs_the_current_one(app) {
        let (email, token) = app.account("staff").await;
        let tried = "a wrong guess, surely 1";
        let body = json!({"current_password": tried, "new_password": NEW_PASSWORD});
        let response = app.as_(Some(&token)).post_json(MY_PASSWORD, &body).await;
        response.problem(422);
        assert_eq!(response.error_fields(), ["current_password"]);
        assert!(!response.text().contains(tried) && !response.text().contains(NEW_PASSWORD));

        unauthorized(&login(&app, &email, NEW_PASSWORD).await, "the refused new password");
        app.sign_in(&email, PASSWORD).await;
    }
);

db_test!(
    async fn a_weak_new_password_is_refused(app) {
        let (email, token) = app.account("staff").await;
        for weak in ["short-pw-1", "password1234"] {
            let body = json!({"current_password": PASSWORD, "new_password": weak});
            let response = app.as_(Some(&token)).post_json(MY_PASSWORD, &body).await;
            response.problem(422);
            assert_eq!(response.error_fields(), ["new_password"], "{weak}");
            assert_eq!(response.json()["errors"][0]["code"], "weak_password", "{weak}");
            assert!(!response.text().contains(weak), "{weak}: {}", response.text());
        }
        // Still the old password.
        app.sign_in(&email, PASSWORD).await;
    }
);

db_test!(
    async fn a_password_change_ends_the_other_sessions_and_keeps_this_one(app) {
        let (email, _) = new_user(&app, "staff").await;
        let this = app.sign_in(&email, PASSWORD).await;
        let other = app.sign_in(&email, PASSWORD).await;

        let body = json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD});
        let response = app.as_(Some(access_token(&this))).post_json(MY_PASSWORD, &body).await;
        assert_eq!(response.status, StatusCode::NO_CONTENT, "{}", response.text());

        unauthorized(&me(&app, access_token(&other)).await, "other session's access token");
        unauthorized(&refresh(&app, refresh_token(&other)).await, "other session's refresh token");
        let kept = me(&app, access_token(&this)).await;
        assert_eq!(kept.status, StatusCode::OK, "{}", kept.text());
        let kept = refresh(&app, refresh_token(&this)).await;
        assert_eq!(kept.status, StatusCode::OK, "{}", kept.text());

        unauthorized(&login(&app, &email, PASSWORD).await, "the old password");
        app.sign_in(&email, NEW_PASSWORD).await;
    }
);

db_test!(
    async fn a_token_forged_with_the_right_key_kid_and_claims_is_accepted(app) {
        let forger = Forger::new(&app).await;
        forger.assert_control_accepted().await;
        // Within the 10 s leeway for clock skew.
        let mut claims = forger.claims();
        claims["exp"] = json!(now() - 3);
        forger.assert_accepted(&forger.token(&claims), "expired 3 s ago").await;
    }
);

db_test!(
    async fn tokens_signed_with_another_algorithm_are_refused(app) {
        let forger = Forger::new(&app).await;
        forger.assert_control_accepted().await;
        let claims = forger.claims();
        let kid = server_kid();

        let none = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&claims));
        forger.assert_refused(&none, "alg none").await;
        let none_with_kid = json!({"alg": "none", "typ": "JWT", "kid": kid});
        let none_with_kid = format!("{}.{}.", b64(&none_with_kid), b64(&claims));
        forger.assert_refused(&none_with_kid, "alg none with the kid").await;
        for alg in [Algorithm::HS384, Algorithm::HS512] {
            let token = sign(&claims, alg, Some(&kid), JWT_SECRET);
            forger.assert_refused(&token, &format!("{alg:?}")).await;
        }
    }
);

db_test!(
    async fn tokens_with_another_key_kid_or_signature_are_refused(app) {
        let forger = Forger::new(&app).await;
        forger.assert_control_accepted().await;
        let claims = forger.claims();
        let kid = server_kid();
        let other_secret = "another-signing-key-of-at-least-32-bytes-987654";

        let wrong_key = sign(&claims, Algorithm::HS256, Some(&kid), other_secret);
        forger.assert_refused(&wrong_key, "wrong key").await;
        let unknown_kid = sign(&claims, Algorithm::HS256, Some("0123456789abcdef"), JWT_SECRET);
        forger.assert_refused(&unknown_kid, "unknown kid").await;
        let no_kid = sign(&claims, Algorithm::HS256, None, JWT_SECRET);
        forger.assert_refused(&no_kid, "no kid").await;

        let genuine = forger.token(&claims);
        let (signed, signature) = genuine.rsplit_once('.').unwrap();
        forger.assert_refused(&format!("{signed}."), "signature stripped").await;
        let mut tampered = claims.clone();
        tampered["exp"] = json!(now() + 86_400);
        let header = signed.split('.').next().unwrap();
        let tampered = format!("{header}.{}.{signature}", b64(&tampered));
        forger.assert_refused(&tampered, "claims changed after signing").await;
    }
);

db_test!(
    async fn tokens_with_a_wrong_issuer_audience_or_expiry_are_refused(app) {
        let forger = Forger::new(&app).await;
        forger.assert_control_accepted().await;
        let cases = [
            ("iss", json!("someone-else"), "wrong issuer"),
            ("aud", json!("another-api"), "wrong audience"),
            ("exp", json!(now() - 120), "expired two minutes ago"),
        ];
        for (claim, value, case) in cases {
            let mut claims = forger.claims();
            claims[claim] = value;
            forger.assert_refused(&forger.token(&claims), case).await;
        }
    }
);

db_test!(
    async fn tokens_missing_a_required_claim_are_refused(app) {
        let forger = Forger::new(&app).await;
        forger.assert_control_accepted().await;
        for claim in ["exp", "sub", "iss", "aud"] {
            let mut claims = forger.claims();
            claims.as_object_mut().unwrap().remove(claim);
            forger.assert_refused(&forger.token(&claims), &format!("no {claim}")).await;
        }
    }
);

db_test!(
    async fn a_refresh_token_is_never_accepted_as_an_access_token(app) {
        let forger = Forger::new(&app).await;
        forger.assert_control_accepted().await;
        let mut claims = forger.claims();
        claims["typ"] = json!("refresh");
        forger.assert_refused(&forger.token(&claims), "forged typ refresh").await;

        let tokens = app.sign_in(&forger.email, PASSWORD).await;
        forger.assert_refused(refresh_token(&tokens), "a real refresh token").await;
    }
);

db_test!(
    async fn tokens_must_name_a_live_session_of_their_subject(app) {
        let forger = Forger::new(&app).await;
        forger.assert_control_accepted().await;
        let admin = claims_of(&app.admin_token);

        let mut claims = forger.claims();
        claims["sid"] = json!(uuid::Uuid::now_v7().to_string());
        forger.assert_refused(&forger.token(&claims), "unknown session").await;
        let mut claims = forger.claims();
        claims["sid"] = admin["sid"].clone();
        forger.assert_refused(&forger.token(&claims), "another account's session").await;
        let mut claims = forger.claims();
        claims["sub"] = admin["sub"].clone();
        claims["role"] = json!("admin");
        forger.assert_refused(&forger.token(&claims), "another account as subject").await;
    }
);

db_test!(
    async fn the_role_comes_from_the_account_not_the_token(app) {
        let forger = Forger::new(&app).await;
        let mut claims = forger.claims();
        claims["role"] = json!("admin");
        let token = forger.token(&claims);
        forger.assert_accepted(&token, "a staff session claiming admin").await;
        let response = app.as_(Some(&token)).get("/api/v1/users").await;
        response.problem(403);
        let response = app.get("/api/v1/users").await;
        assert_eq!(response.status, StatusCode::OK, "the admin may: {}", response.text());
    }
);

db_test!(
    async fn garbage_and_other_schemes_are_refused(app) {
        let forger = Forger::new(&app).await;
        let genuine = forger.token(&forger.claims());
        let anonymous = app.as_anonymous();
        let basic = format!("Basic {}", STANDARD.encode(format!("{ADMIN_EMAIL}:{ADMIN_PASSWORD}")));
        let cases = [
            (format!("bearer {genuine}"), true),
            (format!("Bearer {genuine}"), true),
            (basic, false),
            (genuine.clone(), false),
            (format!("Token {genuine}"), false),
            ("Bearer ".to_owned(), false),
            ("Bearer a.b.c".to_owned(), false),
            (format!("Bearer {}", "x".repeat(5000)), false),
        ];
        for (authorization, accepted) in cases {
            let request = anonymous
                .request(Method::GET, ME)
                .insert_header(("authorization", authorization.as_str()));
            let response = anonymous.send(request, None).await;
            let case: String = authorization.chars().take(40).collect();
            if accepted {
                assert_eq!(response.status, StatusCode::OK, "{case}: {}", response.text());
            } else {
                assert_eq!(unauthorized(&response, &case), forger.refusal, "{case}");
            }
        }
        let nothing = anonymous.get(ME).await;
        unauthorized(&nothing, "no credentials");
    }
);

#[track_caller]
fn assert_security_headers(response: &TestResponse, case: &str) {
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("content-security-policy", "frame-ancestors 'none'"),
        ("cache-control", "no-store"),
    ] {
        assert_eq!(
            response.header(name).as_deref(),
            Some(value),
            "{case}: {name}"
        );
    }
}

/// A CORS preflight for signing in from `origin`.
fn preflight(app: &TestApp, origin: &str) -> awc::ClientRequest {
    app.as_anonymous()
        .request(Method::OPTIONS, LOGIN)
        .insert_header(("origin", origin))
        .insert_header(("access-control-request-method", "POST"))
        .insert_header(("access-control-request-headers", "content-type"))
}

db_test!(
    async fn every_response_carries_the_security_headers(app) {
        let (email, _) = new_user(&app, "staff").await;
        let tokens = app.sign_in(&email, PASSWORD).await;
        let token = access_token(&tokens);
        let weak = json!({"current_password": PASSWORD, "new_password": "short"});
        let responses = [
            ("sign-in", login(&app, &email, PASSWORD).await),
            ("refused sign-in", login(&app, &email, "a wrong guess, surely 1").await),
            ("me", me(&app, token).await),
            ("no credentials", app.as_anonymous().get(ME).await),
            ("garbage token", me(&app, "garbage").await),
            ("refused refresh", refresh(&app, "garbage").await),
            ("validation", app.as_(Some(token)).post_json(MY_PASSWORD, &weak).await),
            ("not found", app.get("/api/v1/nothing-here").await),
            ("sign-out", app.as_(Some(token)).post_json(LOGOUT, &json!({})).await),
        ];
        for (case, response) in &responses {
            assert_security_headers(response, case);
        }
    }
);

db_test!(
    async fn cors_preflight_answers_carry_the_security_headers_too(app) {
        let anonymous = app.as_anonymous();
        let allowed = anonymous.send(preflight(&app, ADMIN_ORIGIN), None).await;
        assert_security_headers(&allowed, "preflight from the admin origin");
        let foreign = anonymous.send(preflight(&app, FOREIGN_ORIGIN), None).await;
        assert_security_headers(&foreign, "preflight from a foreign origin");
    }
);

db_test!(
    async fn cors_allows_only_the_configured_origin(app) {
        let anonymous = app.as_anonymous();
        let allowed = anonymous.send(preflight(&app, ADMIN_ORIGIN), None).await;
        assert!(allowed.status.is_success(), "{}", allowed.status);
        assert_eq!(allowed.header("access-control-allow-origin").as_deref(), Some(ADMIN_ORIGIN));
        let methods = allowed.header("access-control-allow-methods").unwrap_or_default();
        assert!(methods.contains("POST"), "{methods}");
        let foreign = anonymous.send(preflight(&app, FOREIGN_ORIGIN), None).await;
        assert_eq!(foreign.header("access-control-allow-origin"), None);

        for (origin, allowed) in [(ADMIN_ORIGIN, Some(ADMIN_ORIGIN)), (FOREIGN_ORIGIN, None)] {
            let request = app.request(Method::GET, ME).insert_header(("origin", origin));
            let response = app.send(request, None).await;
            assert_eq!(response.header("access-control-allow-origin").as_deref(), allowed, "{origin}");
        }
    }
);

db_test!(
    async fn no_response_reveals_a_password_or_its_hash(app) {
        let (email, token) = app.account("staff").await;
        let id = claims_of(&token)["sub"].as_str().unwrap().to_owned();
        let wrong = "a wrong guess, surely 1";
        let wrong_current = json!({"current_password": wrong, "new_password": NEW_PASSWORD});
        let common_new = json!({"current_password": PASSWORD, "new_password": "password1234"});
        let responses = [
            login(&app, &email, wrong).await,
            login(&app, "nobody-here@example.org", wrong).await,
            me(&app, &token).await,
            app.get("/api/v1/users").await,
            app.get(&format!("/api/v1/users/{id}")).await,
            app.as_(Some(&token)).post_json(MY_PASSWORD, &wrong_current).await,
            app.as_(Some(&token)).post_json(MY_PASSWORD, &common_new).await,
        ];
        for response in &responses {
            let text = response.text();
            for secret in [wrong, PASSWORD, NEW_PASSWORD, "password1234", "$argon2", "password_hash"] {
                assert!(!text.contains(secret), "{secret} in {text}");
            }
        }
        // Each answered as it should, so there was something to leak.
        let statuses: Vec<u16> = responses.iter().map(|r| r.status.as_u16()).collect();
        assert_eq!(statuses, [401, 401, 200, 200, 200, 422, 422]);
        assert!(responses[3].text().contains(&email), "the list includes the account");
    }
);
