//! Webhooks: subscriptions that are told of the change feed's events, signed as the Standard
//! Webhooks specification says, from a transactional outbox (`store::enqueue` runs in the
//! write that makes the change), at least once and in feed order per subscription.

pub mod store;
pub mod targets;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::NaiveDateTime;
use sha2::{Digest, Sha256};

crate::domain::text_enum! {
    /// `active` subscriptions are sent to; `paused` ones keep their deliveries queued until
    /// resumed; `disabled` ones (failing for three days, or by hand) are sent nothing and
    /// queue nothing.
    pub enum SubscriptionStatus {
        Active => "active",
        Paused => "paused",
        Disabled => "disabled",
    }
}

crate::domain::text_enum! {
    /// `pending` until a 2xx (`delivered`) or the last retry fails (`failed`).
    pub enum DeliveryStatus {
        Pending => "pending",
        Delivered => "delivered",
        Failed => "failed",
    }
}

/// The prefix of every signing secret, as the Standard Webhooks libraries expect.
pub const SECRET_PREFIX: &str = "whsec_";
/// How long the secret before a rotation keeps signing beside the new one.
pub const ROTATION_OVERLAP_HOURS: i64 = 24;
/// A subscription whose deliveries fail for this long is disabled.
pub const DISABLE_AFTER_FAILING_DAYS: i64 = 3;
/// The wait before each retry: about 27 hours in all, then the delivery has failed.
pub const RETRY_SCHEDULE: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];
/// A delivery taken by a sender is its own for this long; then another may take it (the
/// sender died mid-send: at least once, never lost).
pub const LEASE: Duration = Duration::from_secs(60);
/// How long a receiver has to answer.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(15);

/// The event type of a test delivery.
pub const TEST_EVENT: &str = "webhook.test";

/// A subscription as stored (its secrets stay here: they are shown once, when made).
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub id: String,
    pub url: String,
    pub description: Option<String>,
    pub event_types: Vec<String>,
    pub status: SubscriptionStatus,
    pub failing_since: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
}

impl Subscription {
    /// Whether it wants events of `event_type`: no types means every type; a type ending in a
    /// dot is a prefix.
    pub fn wants(&self, event_type: &str) -> bool {
        wants(&self.event_types, event_type)
    }
}

/// Whether `event_types` (exact types and prefixes ending in a dot; none for all) take
/// `event_type`.
pub fn wants(event_types: &[String], event_type: &str) -> bool {
    event_types.is_empty()
        || event_types
            .iter()
            .any(|wanted| match wanted.ends_with('.') {
                true => event_type.starts_with(wanted.as_str()),
                false => event_type == wanted,
            })
}

/// A new signing secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{SECRET_PREFIX}{}", BASE64.encode(bytes))
}

/// HMAC-SHA256 (RFC 2104) of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|k| k ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// The `webhook-signature` value for a message under each of `secrets` (the new and, during
/// a rotation, the previous): `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, space
/// separated. The key is the base64 after `whsec_`.
pub fn signature(secrets: &[&str], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut signed = format!("{id}.{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    secrets
        .iter()
        .filter_map(|secret| {
            let key = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
            BASE64.decode(key).ok()
        })
        .map(|key| format!("v1,{}", BASE64.encode(hmac_sha256(&key, &signed))))
        .collect::<Vec<_>>()
        .join(" ")
}

/// When to try again after `attempts` failed attempts, with up to a tenth of jitter so that
/// many deliveries failing together do not come back together; `None` when retries are spent.
pub fn next_attempt(attempts: usize, after: NaiveDateTime) -> Option<NaiveDateTime> {
    let wait = *RETRY_SCHEDULE.get(attempts.checked_sub(1)?)?;
    let jitter = wait.as_millis() as u64 / 10;
    let jitter = match jitter {
        0 => 0,
        spread => rand::random::<u64>() % spread,
    };
    let wait = wait + Duration::from_millis(jitter);
    Some(after + chrono::Duration::from_std(wait).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn hmac_matches_the_rfc_4231_test_vectors() {
        // Test case 2: a short key.
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block, hashed first.
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn a_signature_matches_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&[secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn retries_wait_longer_each_time_then_stop() {
        let at = chrono::DateTime::from_timestamp(0, 0).unwrap().naive_utc();
        let first = next_attempt(1, at).unwrap();
        assert!((5_000..=5_500).contains(&(first - at).num_milliseconds()));
        let last = next_attempt(7, at).unwrap();
        assert!((last - at).num_hours() >= 10);
        assert_eq!(next_attempt(8, at), None);
    }

    #[test]
    fn types_and_prefixes_choose_events() {
        let types = vec!["membership.".to_owned(), "organisation.deleted".to_owned()];
        assert!(wants(&types, "membership.status_changed"));
        assert!(wants(&types, "organisation.deleted"));
        assert!(!wants(&types, "organisation.updated"));
        assert!(wants(&[], "contact.created"));
    }
}
