//! Password hashing (argon2id with OWASP's minimum cost). The policy for which passwords
//! may be chosen is `crate::accounts::password_weakness`.

use std::sync::LazyLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::ApiError;

/// OWASP Password Storage Cheat Sheet: argon2id, m = 19 MiB, t = 2, p = 1.
fn hasher() -> Argon2<'static> {
    let params = Params::new(
        Params::DEFAULT_M_COST,
        Params::DEFAULT_T_COST,
        Params::DEFAULT_P_COST,
        None,
    )
    .unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) for `password`, with a fresh salt.
pub fn hash(password: &str) -> Result<String, ApiError> {
    hasher()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|error| ApiError::internal(format!("password hashing failed: {error}")))
}

/// Whether `password` matches `stored`. A stored value that does not parse never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|parsed| {
        hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Whether `stored` was made with other parameters than today's, so a successful sign-in
/// should store a fresh hash.
pub fn needs_rehash(stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return true;
    };
    let current = hasher();
    let Ok(params) = Params::try_from(&parsed) else {
        return true;
    };
    parsed.algorithm.as_str() != Algorithm::Argon2id.ident().as_str()
        || parsed.version != Some(Version::V0x13.into())
        || params.m_cost() != current.params().m_cost()
        || params.t_cost() != current.params().t_cost()
        || params.p_cost() != current.params().p_cost()
}

/// A hash of nothing anyone knows. Sign-in checks an unknown email against it, so that an
/// unknown email costs the same time as a wrong password and tells an attacker nothing.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash(&super::secrets::random_secret()).unwrap_or_default());

/// Spends the time of a real verification without a real account.
pub fn verify_dummy(password: &str) {
    let _ = verify(password, &DUMMY_HASH);
}

/// Computes the dummy hash at start-up, so the first sign-in is not slower than the rest.
pub fn warm_up() {
    LazyLock::force(&DUMMY_HASH);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_carry_owasp_parameters() {
        let stored = hash("a long and unusual passphrase").unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(verify("a long and unusual passphrase", &stored));
        assert!(!verify("a long and unusual passphrasf", &stored));
        assert!(!verify("anything", "not a hash"));
        assert!(!needs_rehash(&stored));
        let weaker = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8192, 1, 1, None).unwrap(),
        )
        .hash_password(b"a long and unusual passphrase")
        .unwrap()
        .to_string();
        assert!(verify("a long and unusual passphrase", &weaker));
        assert!(needs_rehash(&weaker));
    }
}
