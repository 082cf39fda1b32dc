//! JSON Web Tokens: HS256, pinned on the way in, with issuer, audience, expiry, subject and a
//! type claim checked, and a `kid` header so a rotated-out key keeps working for a while.

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::Role;
use super::secrets::digest;
use crate::config::{AuthConfig, Secret};
use crate::error::ApiError;

/// Clock skew tolerated on `exp` (the issue allows at most 30 s).
const LEEWAY_SECONDS: u64 = 10;

/// Which kind of token a JWT is: an access token is never accepted where a refresh token is
/// expected, nor the reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    pub role: Role,
    pub typ: TokenType,
    /// The session (refresh-token family) the token belongs to.
    pub sid: String,
    /// Unique per token, so two tokens issued in the same second differ.
    pub jti: String,
}

struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl SigningKey {
    fn new(secret: &Secret) -> Self {
        // The key id names the key without revealing it.
        let kid = digest(&format!("convene-kid:{}", secret.expose()))[..16].to_owned();
        Self {
            kid,
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
        }
    }
}

/// A token and when it stops being accepted.
pub struct Issued {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// Issues and checks tokens with the configured keys, issuer, audience and lifetimes.
pub struct Tokens {
    current: SigningKey,
    previous: Option<(SigningKey, DateTime<Utc>)>,
    issuer: String,
    audience: String,
    pub access_lifetime: Duration,
    pub session_lifetime: Duration,
}

impl Tokens {
    /// `secret` is the current key (from `JWT_SECRET` or the generated key file).
    pub fn new(config: &AuthConfig, secret: &Secret, started_at: DateTime<Utc>) -> Self {
        let access_lifetime = Duration::minutes(i64::from(config.access_token_minutes));
        let previous = config.previous_jwt_secret.as_ref().map(|previous| {
            let until = config
                .previous_jwt_secret_until
                .unwrap_or(started_at + access_lifetime);
            (SigningKey::new(previous), until)
        });
        Self {
            current: SigningKey::new(secret),
            previous,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            access_lifetime,
            session_lifetime: Duration::days(i64::from(config.session_days)),
        }
    }

    /// An access token for a session, valid for the access lifetime.
    pub fn access(&self, user_id: &str, role: Role, session_id: &str) -> Result<Issued, ApiError> {
        let expires_at = Utc::now() + self.access_lifetime;
        self.issue(TokenType::Access, user_id, role, session_id, expires_at)
    }

    /// A refresh token, valid until `expires_at` (the end of its session).
    pub fn refresh(
        &self,
        user_id: &str,
        role: Role,
        session_id: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<Issued, ApiError> {
        self.issue(TokenType::Refresh, user_id, role, session_id, expires_at)
    }

    fn issue(
        &self,
        typ: TokenType,
        user_id: &str,
        role: Role,
        session_id: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<Issued, ApiError> {
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user_id.to_owned(),
            iat: Utc::now().timestamp(),
            exp: expires_at.timestamp(),
            role,
            typ,
            sid: session_id.to_owned(),
            jti: uuid::Uuid::now_v7().to_string(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.current.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.current.encoding)
            .map_err(|error| ApiError::internal(format!("cannot sign a token: {error}")))?;
        Ok(Issued { token, expires_at })
    }

    /// The claims of `token` if it is a valid token of type `expected`; `None` otherwise,
    /// whatever the reason (the reason is never told to the client).
    pub fn verify(&self, token: &str, expected: TokenType) -> Option<Claims> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != Algorithm::HS256 {
            return None;
        }
        let kid = header.kid?;
        let key = if kid == self.current.kid {
            &self.current
        } else {
            match &self.previous {
                Some((previous, until)) if kid == previous.kid && Utc::now() < *until => previous,
                _ => return None,
            }
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECONDS;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation)
            .ok()?
            .claims;
        (claims.typ == expected).then_some(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn tokens(secret: &str, previous: Option<&str>) -> Tokens {
        let mut config = Config::from_lookup(|_| None).unwrap().auth;
        config.previous_jwt_secret = previous.map(Secret::new);
        Tokens::new(&config, &Secret::new(secret), Utc::now())
    }

    #[test]
    fn access_and_refresh_tokens_are_not_interchangeable() {
        let tokens = tokens(&"k".repeat(32), None);
        let access = tokens.access("u1", Role::Staff, "s1").unwrap().token;
        let claims = tokens.verify(&access, TokenType::Access).unwrap();
        assert_eq!((claims.sub.as_str(), claims.role), ("u1", Role::Staff));
        assert!(tokens.verify(&access, TokenType::Refresh).is_none());
        let refresh = tokens
            .refresh("u1", Role::Staff, "s1", Utc::now() + Duration::days(1))
            .unwrap()
            .token;
        assert!(tokens.verify(&refresh, TokenType::Access).is_none());
    }

    #[test]
    fn a_rotated_key_is_accepted_only_as_the_previous_key() {
        let old = tokens(&"o".repeat(32), None);
        let token = old.access("u1", Role::Admin, "s1").unwrap().token;
        let rotated = tokens(&"n".repeat(32), Some(&"o".repeat(32)));
        assert!(rotated.verify(&token, TokenType::Access).is_some());
        let unrelated = tokens(&"n".repeat(32), None);
        assert!(unrelated.verify(&token, TokenType::Access).is_none());
    }
}
