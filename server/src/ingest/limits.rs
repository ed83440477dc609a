//! Token buckets for ingestion: requests per API key and events per tenant, so one runaway
//! collector cannot starve the others. In-process by default; with `REDIS_URL` the buckets
//! live in Redis (one atomic script per check), so every instance draws on the same ones. If
//! Redis cannot be reached, the in-process buckets stand in rather than refusing everything.

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

pub struct IngestLimits {
    pub per_key: Buckets,
    pub per_tenant: Buckets,
    redis: Option<(
        redis::Client,
        tokio::sync::OnceCell<redis::aio::ConnectionManager>,
    )>,
}

impl IngestLimits {
    pub fn new(per_key: Buckets, per_tenant: Buckets, redis: Option<redis::Client>) -> Self {
        IngestLimits {
            per_key,
            per_tenant,
            redis: redis.map(|c| (c, tokio::sync::OnceCell::new())),
        }
    }

    pub async fn take_key(&self, key: &str) -> Result<(), Duration> {
        self.take(&self.per_key, "key", key, 1.0).await
    }

    pub async fn take_tenant(&self, tenant: &str, events: f64) -> Result<(), Duration> {
        self.take(&self.per_tenant, "tenant", tenant, events).await
    }

    async fn take(
        &self,
        local: &Buckets,
        kind: &str,
        key: &str,
        cost: f64,
    ) -> Result<(), Duration> {
        let Some((client, conn)) = &self.redis else {
            return local.take(key, cost);
        };
        let shared = async {
            let conn = conn
                .get_or_try_init(|| redis::aio::ConnectionManager::new(client.clone()))
                .await?;
            redis::Script::new(BUCKET_SCRIPT)
                .key(format!("devpulse:bucket:{kind}:{key}"))
                .arg(local.per_sec)
                .arg(local.burst)
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
                tracing::warn!("Redis rate limit unavailable; using this instance's buckets");
                local.take(key, cost)
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
