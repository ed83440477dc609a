//! Login throttling, per client IP and per account: a few free attempts, then an
//! exponentially growing wait. In-process for now; shared through Redis with `REDIS_URL`
//! in the ingestion issue.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

const FREE_ATTEMPTS: u32 = 5;
const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// Entries untouched for this long are forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);

#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginLimiter {
    /// `Err(wait)` while any of `keys` is locked out.
    pub fn check(&self, keys: &[String]) -> Result<(), Duration> {
        let map = self.failures.lock().expect("limiter lock");
        let now = Instant::now();
        let wait = keys
            .iter()
            .filter_map(|k| map.get(k))
            .filter_map(|(count, last)| {
                let until = *last + backoff(*count);
                (until > now).then(|| until - now)
            })
            .max();
        match wait {
            Some(w) => Err(w),
            None => Ok(()),
        }
    }

    pub fn failed(&self, keys: &[String]) {
        let mut map = self.failures.lock().expect("limiter lock");
        let now = Instant::now();
        if map.len() > 100_000 {
            map.retain(|_, (_, last)| now.duration_since(*last) < FORGET_AFTER);
        }
        for k in keys {
            let entry = map.entry(k.clone()).or_insert((0, now));
            entry.0 += 1;
            entry.1 = now;
        }
    }

    pub fn succeeded(&self, account_key: &str) {
        self.failures
            .lock()
            .expect("limiter lock")
            .remove(account_key);
    }
}

fn backoff(failures: u32) -> Duration {
    if failures < FREE_ATTEMPTS {
        return Duration::ZERO;
    }
    let exp = (failures - FREE_ATTEMPTS).min(10);
    (Duration::from_secs(1) * 2u32.pow(exp)).min(MAX_WAIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_free_attempts_then_doubling_waits() {
        assert_eq!(backoff(4), Duration::ZERO);
        assert_eq!(backoff(5), Duration::from_secs(1));
        assert_eq!(backoff(7), Duration::from_secs(4));
        assert_eq!(backoff(40), MAX_WAIT);
        let limiter = LoginLimiter::default();
        let keys = vec!["ip:1".to_string(), "acct:a".to_string()];
        for _ in 0..5 {
            assert!(limiter.check(&keys).is_ok());
            limiter.failed(&keys);
        }
        assert!(limiter.check(&keys).is_err());
        assert!(limiter.check(&["ip:2".to_string()]).is_ok());
    }
}
