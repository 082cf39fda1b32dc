//! The shape of an API key: `cvk_<8 hex>_<43 base64url>`. The first part (the prefix) is
//! stored in the clear to tell keys apart; the whole key is stored only as a digest.

use super::secrets::{digest, random_secret};

/// Every key starts with this, so a key is never mistaken for a JWT (and secret scanners
/// can spot leaked keys).
pub const KEY_PREFIX: &str = "cvk_";

/// A new key, whose `key` is shown to the admin once and never stored.
pub struct GeneratedKey {
    pub key: String,
    pub prefix: String,
    pub digest: String,
}

pub fn generate() -> GeneratedKey {
    let tag = &digest(&random_secret())[..8];
    let prefix = format!("{KEY_PREFIX}{tag}");
    let key = format!("{prefix}_{}", random_secret());
    GeneratedKey {
        digest: digest(&key),
        prefix,
        key,
    }
}

pub fn looks_like_key(token: &str) -> bool {
    token.starts_with(KEY_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_their_prefix_and_only_their_digest_is_kept() {
        let generated = generate();
        assert!(generated.key.starts_with(&format!("{}_", generated.prefix)));
        assert_eq!(generated.prefix.len(), KEY_PREFIX.len() + 8);
        assert_eq!(generated.digest, digest(&generated.key));
        assert!(looks_like_key(&generated.key));
        assert!(!looks_like_key("eyJhbGciOiJIUzI1NiJ9.e30.x"));
    }
}
