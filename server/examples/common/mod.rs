//! What the benchmark programs share: a fresh tenant with an ingest key to measure through,
//! and (`fill`) one full of activity.

#[allow(dead_code)]
pub mod fill;

/// The whole number after `name` on the command line, or `default`.
#[allow(dead_code)]
pub fn flag(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        None => default,
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.replace('_', "").parse().ok())
            .unwrap_or_else(|| panic!("{name} takes a whole number")),
    }
}

/// A tenant named `<prefix><now in ms>` (so runs against one database do not collide) whose
/// admin holds an ingest key; returns the tenant, its slug and the key.
pub async fn tenant_with_key(
    db: &server::database::Database,
    prefix: &str,
) -> (store::Tenant, String, String) {
    let slug = format!("{prefix}{}", chrono::Utc::now().timestamp_millis());
    let actor = store::audit::Actor::cli();
    let email = store::Email::parse("bench@bench.test").unwrap();
    let p = server::tenancy::provision(
        &db.store,
        &store::Slug::parse(&slug).unwrap(),
        "Bench",
        &email,
        Some("bench-password-123".into()),
        &actor,
    )
    .await
    .expect("tenant");
    let key = server::tenancy::create_api_key(
        &db.store,
        &p.tenant,
        &email,
        "bench",
        &[store::api_keys::Scope::Ingest],
        &actor,
    )
    .await
    .expect("key");
    (p.tenant, slug, key)
}

/// The nearest-rank `p` quantile (0.5, 0.99) of sorted durations; zero for none.
#[allow(dead_code)]
pub fn percentile(sorted: &[std::time::Duration], p: f64) -> std::time::Duration {
    if sorted.is_empty() {
        return std::time::Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// A process's resident memory in KiB (Linux), 0 when it cannot be read.
#[allow(dead_code)]
pub fn rss_kib(pid: u32) -> i64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
