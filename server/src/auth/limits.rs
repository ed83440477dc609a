//! Login throttling. Three limits, each checked and charged in one step before the password
//! is looked at, so a burst of concurrent guesses cannot all slip past a check made while
//! none of them had failed yet:
//! - per (account, source): a few free attempts, then an exponentially growing wait. Keyed
//!   by source too, so that a stranger's failures never lock the owner out of their account;
//! - per source: more free attempts (an office behind one address), then the same waits;
//! - for the whole instance: a ceiling on attempts per second, because each costs an argon2
//!   hash and an anonymous flood from many addresses would otherwise eat every core.
//!
//! In-process: with several instances each keeps its own counts, which multiplies the
//! allowance by the instance count but keeps every instance's own CPU safe.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use crate::limits::Buckets;

const ACCOUNT_FREE_ATTEMPTS: u32 = 5;
const SOURCE_FREE_ATTEMPTS: u32 = 20;
const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// Entries untouched for this long are forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);
const MAX_ENTRIES: usize = 100_000;

/// Who is trying to sign in to what.
#[derive(Clone, Debug)]
pub struct Attempt {
    /// The account key (`<workspace>:<e-mail>`) joined with the source.
    account: String,
    source: String,
}

impl Attempt {
    pub fn new(workspace: &str, email: &str, source: Option<&str>) -> Attempt {
        let source = source.unwrap_or("?");
        Attempt {
            account: format!("acct:{workspace}:{email}@{source}"),
            source: format!("ip:{source}"),
        }
    }
}

pub struct LoginLimiter {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
    global: Buckets,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        LoginLimiter::new(10.0)
    }
}

impl LoginLimiter {
    /// `per_sec` attempts a second for the whole instance (burst: twice that).
    pub fn new(per_sec: f64) -> LoginLimiter {
        LoginLimiter {
            failures: Mutex::new(HashMap::new()),
            global: Buckets::new(per_sec, 2.0 * per_sec),
        }
    }

    /// Charges the attempt as a failure up front, or says how long to wait. The charge is
    /// refunded by [`LoginLimiter::succeeded`].
    pub fn reserve(&self, attempt: &Attempt) -> Result<(), Duration> {
        let mut map = self.failures.lock().expect("limiter lock");
        let now = Instant::now();
        let wait = [
            (&attempt.account, ACCOUNT_FREE_ATTEMPTS),
            (&attempt.source, SOURCE_FREE_ATTEMPTS),
        ]
        .into_iter()
        .filter_map(|(key, free)| {
            let (count, last) = map.get(key)?;
            let until = *last + backoff(*count, free);
            (until > now).then(|| until - now)
        })
        .max();
        if let Some(wait) = wait {
            return Err(wait);
        }
        // Only attempts that will be verified count against the ceiling.
        self.global.take("login", 1.0)?;
        if map.len() > MAX_ENTRIES {
            map.retain(|_, (_, last)| now.duration_since(*last) < FORGET_AFTER);
        }
        for key in [&attempt.account, &attempt.source] {
            let entry = map.entry(key.clone()).or_insert((0, now));
            entry.0 += 1;
            entry.1 = now;
        }
        Ok(())
    }

    /// The right password: the account's failures from this source are forgiven and this
    /// attempt's charge on the source is returned. Earlier failures from the source stay, so
    /// signing in to one's own account does not buy more guesses at others.
    pub fn succeeded(&self, attempt: &Attempt) {
        let mut map = self.failures.lock().expect("limiter lock");
        map.remove(&attempt.account);
        if let Some(entry) = map.get_mut(&attempt.source) {
            entry.0 = entry.0.saturating_sub(1);
        }
    }
}

fn backoff(failures: u32, free: u32) -> Duration {
    if failures < free {
        return Duration::ZERO;
    }
    let exp = (failures - free).min(10);
    (Duration::from_secs(1) * 2u32.pow(exp)).min(MAX_WAIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_attempts_then_doubling_waits() {
        assert_eq!(backoff(4, 5), Duration::ZERO);
        assert_eq!(backoff(5, 5), Duration::from_secs(1));
        assert_eq!(backoff(7, 5), Duration::from_secs(4));
        assert_eq!(backoff(40, 5), MAX_WAIT);
    }

    #[test]
    fn the_reservation_is_the_check() {
        let limiter = LoginLimiter::new(1000.0);
        let a = Attempt::new("demo", "a@x.test", Some("192.0.2.1"));
        // No failure is ever recorded: reserving alone uses up the free attempts, which is
        // what stops concurrent guesses that all start before any of them fails.
        for _ in 0..ACCOUNT_FREE_ATTEMPTS {
            assert!(limiter.reserve(&a).is_ok());
        }
        assert!(limiter.reserve(&a).is_err());
    }

    #[test]
    fn someone_elses_failures_do_not_lock_the_owner_out() {
        let limiter = LoginLimiter::new(1000.0);
        let attacker = Attempt::new("demo", "a@x.test", Some("198.51.100.7"));
        for _ in 0..ACCOUNT_FREE_ATTEMPTS {
            limiter.reserve(&attacker).unwrap();
        }
        assert!(limiter.reserve(&attacker).is_err());
        let owner = Attempt::new("demo", "a@x.test", Some("192.0.2.1"));
        assert!(limiter.reserve(&owner).is_ok());
    }

    #[test]
    fn a_source_is_limited_across_accounts() {
        let limiter = LoginLimiter::new(1000.0);
        for i in 0..SOURCE_FREE_ATTEMPTS {
            let a = Attempt::new("demo", &format!("{i}@x.test"), Some("192.0.2.1"));
            assert!(limiter.reserve(&a).is_ok());
        }
        let next = Attempt::new("demo", "new@x.test", Some("192.0.2.1"));
        assert!(limiter.reserve(&next).is_err());
        let elsewhere = Attempt::new("demo", "new@x.test", Some("192.0.2.2"));
        assert!(limiter.reserve(&elsewhere).is_ok());
    }

    #[test]
    fn success_forgives_the_account_and_refunds_the_source() {
        let limiter = LoginLimiter::new(1000.0);
        let a = Attempt::new("demo", "a@x.test", Some("192.0.2.1"));
        for _ in 0..ACCOUNT_FREE_ATTEMPTS - 1 {
            limiter.reserve(&a).unwrap();
        }
        limiter.reserve(&a).unwrap();
        limiter.succeeded(&a);
        assert!(limiter.reserve(&a).is_ok());
        let map = limiter.failures.lock().unwrap();
        assert_eq!(map[&a.source].0, ACCOUNT_FREE_ATTEMPTS);
    }

    #[test]
    fn the_instance_ceiling_holds_across_sources() {
        let limiter = LoginLimiter::new(5.0);
        let refused = (0..100)
            .filter(|i| {
                let a = Attempt::new("demo", &format!("{i}@x.test"), Some(&format!("10.0.0.{i}")));
                limiter.reserve(&a).is_err()
            })
            .count();
        // A burst of twice the rate gets through, the rest waits.
        assert_eq!(refused, 90);
    }
}
