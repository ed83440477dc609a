//! Token buckets for ingestion: requests per API key and events per tenant, so one runaway
//! collector cannot starve the others. In-process; each instance enforces its own share.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Buckets untouched this long are dropped when the map grows large.
const FORGET_AFTER: Duration = Duration::from_secs(600);

pub struct Buckets {
    per_sec: f64,
    burst: f64,
    state: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Buckets {
    pub fn new(per_sec: f64, burst: f64) -> Buckets {
        Buckets {
            per_sec: per_sec.max(0.001),
            burst: burst.max(1.0),
            state: Mutex::new(HashMap::new()),
        }
    }

    /// Takes `cost` tokens from `key`'s bucket, or says how long until they would be there.
    /// A cost above the burst is let through when the bucket is full, so no request is
    /// refused forever; it then owes the difference.
    pub fn take(&self, key: &str, cost: f64) -> Result<(), Duration> {
        let mut map = self.state.lock().expect("bucket lock");
        let now = Instant::now();
        if map.len() > 100_000 {
            map.retain(|_, (_, last)| now.duration_since(*last) < FORGET_AFTER);
        }
        let (tokens, last) = map.entry(key.to_string()).or_insert((self.burst, now));
        *tokens =
            (*tokens + now.duration_since(*last).as_secs_f64() * self.per_sec).min(self.burst);
        *last = now;
        let needed = cost.min(self.burst);
        if *tokens >= needed {
            *tokens -= cost;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((needed - *tokens) / self.per_sec))
        }
    }
}

pub struct IngestLimits {
    pub per_key: Buckets,
    pub per_tenant: Buckets,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let b = Buckets::new(10.0, 5.0);
        for _ in 0..5 {
            assert!(b.take("k", 1.0).is_ok());
        }
        let wait = b.take("k", 1.0).unwrap_err();
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
        assert!(b.take("other", 1.0).is_ok(), "keys are independent");
        // A batch bigger than the burst passes on a full bucket and leaves a debt.
        let big = Buckets::new(10.0, 5.0);
        assert!(big.take("k", 50.0).is_ok());
        assert!(big.take("k", 1.0).is_err());
    }
}
