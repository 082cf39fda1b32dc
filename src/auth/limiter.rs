//! Sign-in attempts limited per account and per client address, in memory (per process):
//! enough to make password guessing slow without a shared store. Every attempt counts, so a
//! flood of guesses cannot hide among successes.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::ApiError;

/// Attempts per minute (and the burst allowed) for one account.
pub const PER_ACCOUNT_PER_MINUTE: u32 = 5;
/// Attempts per minute (and the burst allowed) from one client address.
pub const PER_ADDRESS_PER_MINUTE: u32 = 30;
/// Forget idle keys every this many checks, so memory stays bounded under a spray attack.
const SWEEP_EVERY: u64 = 1024;

pub struct LoginLimiter {
    per_account: DefaultKeyedRateLimiter<String>,
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
    checks: AtomicU64,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self::new(PER_ACCOUNT_PER_MINUTE, PER_ADDRESS_PER_MINUTE)
    }
}

impl LoginLimiter {
    pub fn new(per_account_per_minute: u32, per_address_per_minute: u32) -> Self {
        let quota = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        Self {
            per_account: RateLimiter::keyed(quota(per_account_per_minute)),
            per_address: RateLimiter::keyed(quota(per_address_per_minute)),
            clock: DefaultClock::default(),
            checks: AtomicU64::new(0),
        }
    }

    /// Counts one attempt on `account` (a lower-cased email) from `address`; 429 with the
    /// wait when either has had too many.
    pub fn attempt(&self, account: &str, address: Option<IpAddr>) -> Result<(), ApiError> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.per_account.retain_recent();
            self.per_address.retain_recent();
        }
        let limited = |wait: std::time::Duration| ApiError::TooManyRequests {
            retry_after_seconds: wait.as_secs() + 1,
        };
        if let Some(address) = address {
            self.per_address
                .check_key(&address)
                .map_err(|not_until| limited(not_until.wait_time_from(self.clock.now())))?;
        }
        self.per_account
            .check_key(&account.to_lowercase())
            .map_err(|not_until| limited(not_until.wait_time_from(self.clock.now())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_each_account_and_each_address_separately() {
        let limiter = LoginLimiter::new(2, 3);
        let here = Some(IpAddr::from([10, 0, 0, 1]));
        let there = Some(IpAddr::from([10, 0, 0, 2]));
        assert!(limiter.attempt("a@x.org", here).is_ok());
        assert!(limiter.attempt("A@x.org", here).is_ok());
        let Err(ApiError::TooManyRequests {
            retry_after_seconds,
        }) = limiter.attempt("a@x.org", there)
        else {
            panic!("the third attempt on one account should be limited");
        };
        assert!((1..=61).contains(&retry_after_seconds));
        assert!(limiter.attempt("b@x.org", there).is_ok());
        assert!(limiter.attempt("c@x.org", here).is_ok());
        assert!(
            limiter.attempt("d@x.org", here).is_err(),
            "a fourth from one address"
        );
    }
}
