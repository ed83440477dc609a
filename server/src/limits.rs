//! Token buckets: how often something may happen per key (an API key's requests, a tenant's
//! events, a client address's single sign-on starts). In-process by default; with `REDIS_URL`
//! a [`SharedBuckets`] lives in Redis (one atomic script per check), so every instance draws on
//! the same bucket. If Redis cannot be reached, the in-process bucket stands in rather than
//! refusing everything.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
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

/// Refill, take or measure the wait, in one step on the Redis server's clock. The wait comes
/// back as a string: Lua numbers become integers on the way out.
const BUCKET_SCRIPT: &str = r#"
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1]) or burst
local ts = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local needed = math.min(cost, burst)
local wait = 0
if tokens >= needed then tokens = tokens - cost else wait = (needed - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
return tostring(wait)
"#;

/// A Redis connection made on first use and shared by every bucket that uses it.
#[derive(Clone)]
pub struct Redis(
    Arc<(
        redis::Client,
        tokio::sync::OnceCell<redis::aio::ConnectionManager>,
    )>,
);

impl Redis {
    pub fn new(client: redis::Client) -> Redis {
        Redis(Arc::new((client, tokio::sync::OnceCell::new())))
    }
}

/// Buckets every instance shares through Redis when there is one (named `kind` there), and
/// this instance's own otherwise.
pub struct SharedBuckets {
    local: Buckets,
    kind: &'static str,
    redis: Option<Redis>,
}

impl SharedBuckets {
    pub fn new(kind: &'static str, local: Buckets, redis: Option<Redis>) -> SharedBuckets {
        SharedBuckets { local, kind, redis }
    }

    /// Takes `cost` tokens from `key`'s bucket, or says how long until they would be there.
    pub async fn take(&self, key: &str, cost: f64) -> Result<(), Duration> {
        let Some(Redis(redis)) = &self.redis else {
            return self.local.take(key, cost);
        };
        let (client, conn) = &**redis;
        let shared = async {
            let conn = conn
                .get_or_try_init(|| redis::aio::ConnectionManager::new(client.clone()))
                .await?;
            redis::Script::new(BUCKET_SCRIPT)
                .key(format!("devpulse:bucket:{}:{key}", self.kind))
                .arg(self.local.per_sec)
                .arg(self.local.burst)
                .arg(cost)
                .invoke_async::<String>(&mut conn.clone())
                .await
        };
        match tokio::time::timeout(Duration::from_millis(500), shared).await {
            Ok(Ok(wait)) => match wait.parse::<f64>() {
                Ok(w) if w > 0.0 => Err(Duration::from_secs_f64(w)),
                _ => Ok(()),
            },
            _ => {
                tracing::warn!(
                    kind = self.kind,
                    "Redis rate limit unavailable; using this instance's buckets"
                );
                self.local.take(key, cost)
            }
        }
    }
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
