//! Ingestion's rate limits: requests per API key and events per tenant, so one runaway
//! collector cannot starve the others (shared through Redis when there is one).

use std::time::Duration;

use crate::limits::{Buckets, Redis, SharedBuckets};

pub struct IngestLimits {
    per_key: SharedBuckets,
    per_tenant: SharedBuckets,
}

impl IngestLimits {
    pub fn new(per_key: Buckets, per_tenant: Buckets, redis: Option<Redis>) -> Self {
        IngestLimits {
            per_key: SharedBuckets::new("key", per_key, redis.clone()),
            per_tenant: SharedBuckets::new("tenant", per_tenant, redis),
        }
    }

    pub async fn take_key(&self, key: &str) -> Result<(), Duration> {
        self.per_key.take(key, 1.0).await
    }

    pub async fn take_tenant(&self, tenant: &str, events: f64) -> Result<(), Duration> {
        self.per_tenant.take(tenant, events).await
    }
}
