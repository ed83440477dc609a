//! Configuration comes from the environment only (twelve-factor); every variable is listed
//! in the README and `.env.example`.

use std::{net::IpAddr, path::PathBuf, str::FromStr};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug)]
pub struct Config {
    /// The recurring jobs and their cron patterns (`DEVPULSE_SCHEDULE_<NAME>`).
    pub schedules: Vec<crate::jobs::Schedule>,
    pub host: IpAddr,
    pub port: u16,
    /// External PostgreSQL; `None` means the embedded cluster under `data_dir`.
    pub database_url: Option<String>,
    pub database_max_connections: u32,
    /// The database itself, when `database_url` is a pooler in transaction mode such as
    /// PgBouncer (`DATABASE_DIRECT_URL`): LISTEN and session locks connect here.
    pub database_direct_url: Option<String>,
    /// A streaming replica of `database_url` for dashboard reads (`DATABASE_REPLICA_URL`).
    pub database_replica_url: Option<String>,
    /// Reads go to the replica only while its data is at most this old
    /// (`DATABASE_REPLICA_MAX_LAG_SECS`, default 5).
    pub database_replica_max_lag: std::time::Duration,
    pub data_dir: PathBuf,
    pub site_root: PathBuf,
    pub log_format: LogFormat,
    pub body_limit: usize,
    /// `kid:secret,...` for signing access tokens; a development key is generated when unset.
    pub jwt_keys: Option<String>,
    /// 64 hex digits sealing secrets kept in the database (single sign-on client secrets);
    /// a development key under `data_dir` when unset, none in production.
    pub secret_key: Option<String>,
    /// Whether a workspace's identity provider may be at a private or loopback address
    /// (`DEVPULSE_SSO_ALLOW_PRIVATE`); by default everywhere but production.
    pub sso_allow_private: Option<bool>,
    /// The DNS server (`ip:port`) that proofs of e-mail domains are looked up at
    /// (`DEVPULSE_DNS_SERVER`); unset, the system's resolvers (`/etc/resolv.conf`).
    pub dns_server: Option<std::net::SocketAddr>,
    /// Whether a webhook may post to a private or loopback address
    /// (`DEVPULSE_WEBHOOKS_ALLOW_PRIVATE`); by default everywhere but production.
    pub webhooks_allow_private: Option<bool>,
    /// The browser that prints reports to PDF (`DEVPULSE_CHROMIUM`); by default the first
    /// `chromium`, `chromium-browser`, `google-chrome` or `chrome` on `PATH`.
    pub chromium: Option<String>,
    /// The bearer token `/metrics` asks of Prometheus (`DEVPULSE_METRICS_TOKEN`); unset, the
    /// route answers 404.
    pub metrics_token: Option<String>,
    /// An OTLP/gRPC collector for traces (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, else
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`); unset, spans stay in the process (see `telemetry`).
    pub otel_endpoint: Option<String>,
    /// The traces' `service.name` (`OTEL_SERVICE_NAME`, default `devpulse`).
    pub otel_service: String,
    /// Mark cookies `Secure` and give them the `__Host-`/`__Secure-` names (served over https).
    /// On by default in production; `DEVPULSE_SECURE_COOKIES=false` turns it off there.
    pub secure_cookies: bool,
    /// `DEVPULSE_ENV=production`: no demo data, no development JWT key.
    pub production: bool,
    /// Two refreshes with the same token within this many seconds both succeed (two tabs);
    /// a reuse after it revokes the session family.
    pub refresh_reuse_grace_secs: i64,
    /// The address people reach the server at, for links in invitations and resets;
    /// `http://HOST:PORT` when unset.
    pub public_url: Option<String>,
    /// Items one `POST /api/v1/ingest/batch` may carry.
    pub batch_max_items: usize,
    /// Requests per second one API key may make to the ingestion endpoints (burst: twice).
    pub ingest_key_rps: f64,
    /// Events per second one tenant may send (burst: twice).
    pub ingest_tenant_eps: f64,
    /// Redis for the bus and rate limits shared by every instance; in-process when unset.
    pub redis_url: Option<String>,
    /// A second port for OTLP/gRPC (4317 is the exporters' default), serving the same routes
    /// as `port`. Unset: gRPC is still served on `port` (HTTP/2 without TLS).
    pub otlp_grpc_port: Option<u16>,
    /// Proxies whose `X-Forwarded-For` is believed (`DEVPULSE_TRUSTED_PROXIES`); nobody's
    /// by default, so the client is the connection's peer.
    pub trusted_proxies: crate::auth::TrustedProxies,
    /// Sign-in attempts per second for the whole instance (burst: twice), whatever their
    /// source: each costs an argon2 hash.
    pub login_attempts_per_sec: f64,
    /// The demo workspace and its known passwords on an empty embedded database
    /// (`DEVPULSE_DEMO`); by default only when listening on a loopback address.
    pub demo: Option<bool>,
    /// Open connections (HTTP and WebSocket) per listener; more are answered 503 and closed.
    pub max_connections: usize,
    /// A request's headers must arrive within this many seconds of the connection being
    /// ready for them (idle keep-alive connections close after it too).
    pub header_read_timeout_secs: u64,
    /// The demo super admin's password; generated and printed once when unset.
    pub demo_superadmin_password: Option<String>,
    /// A few demo developers at work right now (`DEVPULSE_DEMO_LIVE`); by default wherever
    /// the demo workspace would be created.
    pub demo_live: Option<bool>,
    /// Where e-mail goes (`DEVPULSE_SMTP_URL`, e.g. `smtps://user:pass@smtp.example.com` or
    /// `smtp://host:2525?tls=required`); unset, each message is written to `data_dir/outbox`.
    pub smtp_url: Option<String>,
    /// The sender of every e-mail (`DEVPULSE_MAIL_FROM`).
    pub mail_from: String,
}

impl Config {
    /// Whether to create the demo workspace on an empty database. Its passwords are
    /// published in the README, so never where strangers can reach the server unless asked
    /// for explicitly, and never in production.
    pub fn seeds_demo(&self, embedded: bool) -> bool {
        !self.production && self.demo.unwrap_or(embedded && self.host.is_loopback())
    }

    /// Whether the demo workspace's developers keep working while the server runs: by
    /// default where the demo is created, and never in production.
    pub fn demo_live(&self, embedded: bool) -> bool {
        !self.production && self.demo_live.unwrap_or_else(|| self.seeds_demo(embedded))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {var}={value:?}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub value: String,
    pub reason: String,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads settings through `get`, so tests need not touch the process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        fn parse<T: FromStr>(
            get: &impl Fn(&str) -> Option<String>,
            var: &'static str,
            default: T,
        ) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            match get(var).filter(|v| !v.is_empty()) {
                None => Ok(default),
                Some(v) => v.parse().map_err(|e: T::Err| ConfigError {
                    var,
                    value: v.clone(),
                    reason: e.to_string(),
                }),
            }
        }
        /// `1`/`true` or `0`/`false`; unset, the default decides.
        fn switch(
            get: &impl Fn(&str) -> Option<String>,
            var: &'static str,
        ) -> Result<Option<bool>, ConfigError> {
            match get(var).as_deref() {
                None | Some("") => Ok(None),
                Some("1") | Some("true") => Ok(Some(true)),
                Some("0") | Some("false") => Ok(Some(false)),
                Some(other) => Err(ConfigError {
                    var,
                    value: other.into(),
                    reason: "expected 1 or 0".into(),
                }),
            }
        }
        let log_format = match get("LOG_FORMAT").as_deref() {
            None | Some("") | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError {
                    var: "LOG_FORMAT",
                    value: other.into(),
                    reason: "expected `text` or `json`".into(),
                })
            }
        };
        let site_root = get("DEVPULSE_SITE_ROOT")
            .or_else(|| get("LEPTOS_SITE_ROOT"))
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "target/site".into());
        let body_limit = parse(&get, "DEVPULSE_BODY_LIMIT", 10 * 1024 * 1024usize)?;
        if body_limit < 1024 {
            return Err(ConfigError {
                var: "DEVPULSE_BODY_LIMIT",
                value: body_limit.to_string(),
                reason: "must be at least 1024 bytes".into(),
            });
        }
        let production = match get("DEVPULSE_ENV").as_deref() {
            None | Some("") | Some("development") => false,
            Some("production") => true,
            Some(other) => {
                return Err(ConfigError {
                    var: "DEVPULSE_ENV",
                    value: other.into(),
                    reason: "expected `development` or `production`".into(),
                })
            }
        };
        let schedules = crate::jobs::schedules(|var| get(var))
            .map_err(|(var, value, reason)| ConfigError { var, value, reason })?;
        Ok(Config {
            schedules,
            host: parse(&get, "HOST", IpAddr::from([127, 0, 0, 1]))?,
            port: parse(&get, "PORT", 3000)?,
            otlp_grpc_port: match get("OTLP_GRPC_PORT").filter(|v| !v.is_empty()) {
                None => None,
                Some(v) => Some(v.parse().map_err(|_| ConfigError {
                    var: "OTLP_GRPC_PORT",
                    value: v.clone(),
                    reason: "expected a port number".into(),
                })?),
            },
            trusted_proxies: crate::auth::TrustedProxies::parse(
                &get("DEVPULSE_TRUSTED_PROXIES").unwrap_or_default(),
            )
            .map_err(|reason| ConfigError {
                var: "DEVPULSE_TRUSTED_PROXIES",
                value: get("DEVPULSE_TRUSTED_PROXIES").unwrap_or_default(),
                reason,
            })?,
            login_attempts_per_sec: parse(&get, "DEVPULSE_LOGIN_ATTEMPTS_PER_SEC", 10.0)?,
            max_connections: match parse(&get, "DEVPULSE_MAX_CONNECTIONS", 10_000usize)? {
                0 => {
                    return Err(ConfigError {
                        var: "DEVPULSE_MAX_CONNECTIONS",
                        value: "0".into(),
                        reason: "must be at least 1".into(),
                    })
                }
                n => n,
            },
            header_read_timeout_secs: match parse(&get, "DEVPULSE_HEADER_READ_TIMEOUT_SECS", 10u64)?
            {
                0 => {
                    return Err(ConfigError {
                        var: "DEVPULSE_HEADER_READ_TIMEOUT_SECS",
                        value: "0".into(),
                        reason: "must be at least 1".into(),
                    })
                }
                n => n,
            },
            demo: switch(&get, "DEVPULSE_DEMO")?,
            demo_live: switch(&get, "DEVPULSE_DEMO_LIVE")?,
            demo_superadmin_password: get("DEVPULSE_DEMO_SUPERADMIN_PASSWORD")
                .filter(|v| !v.is_empty()),
            database_url: get("DATABASE_URL").filter(|v| !v.is_empty()),
            database_max_connections: parse(&get, "DATABASE_MAX_CONNECTIONS", 20)?,
            database_direct_url: match get("DATABASE_DIRECT_URL").filter(|v| !v.is_empty()) {
                Some(v) if get("DATABASE_URL").is_none_or(|u| u.is_empty()) => {
                    return Err(ConfigError {
                        var: "DATABASE_DIRECT_URL",
                        value: crate::database::redact(&v),
                        reason: "is only for when DATABASE_URL is a pooler in transaction mode; \
                                 set DATABASE_URL too"
                            .into(),
                    })
                }
                v => v,
            },
            database_replica_url: get("DATABASE_REPLICA_URL").filter(|v| !v.is_empty()),
            database_replica_max_lag: match parse(&get, "DATABASE_REPLICA_MAX_LAG_SECS", 5.0f64)? {
                s if s.is_finite() && s > 0.0 && s <= 3600.0 => {
                    std::time::Duration::from_secs_f64(s)
                }
                s => {
                    return Err(ConfigError {
                        var: "DATABASE_REPLICA_MAX_LAG_SECS",
                        value: s.to_string(),
                        reason: "must be more than 0 and at most 3600 seconds".into(),
                    })
                }
            },
            data_dir: parse(&get, "DEVPULSE_DATA_DIR", PathBuf::from(".data"))?,
            site_root: PathBuf::from(site_root),
            log_format,
            body_limit,
            jwt_keys: get("DEVPULSE_JWT_KEYS").filter(|v| !v.is_empty()),
            secret_key: match get("DEVPULSE_SECRET_KEY").filter(|v| !v.is_empty()) {
                // The deployment examples' placeholder: anyone could open what it seals.
                Some(k) if k.chars().all(|c| c == '0') => {
                    return Err(ConfigError {
                        var: "DEVPULSE_SECRET_KEY",
                        value: k,
                        reason:
                            "is the example's placeholder: make a random one (openssl rand -hex 32)"
                                .into(),
                    })
                }
                k => k,
            },
            sso_allow_private: switch(&get, "DEVPULSE_SSO_ALLOW_PRIVATE")?,
            dns_server: match get("DEVPULSE_DNS_SERVER").filter(|v| !v.is_empty()) {
                None => None,
                Some(v) => Some(v.parse().map_err(|_| ConfigError {
                    var: "DEVPULSE_DNS_SERVER",
                    value: v.clone(),
                    reason: "expected ip:port, such as 127.0.0.1:53".into(),
                })?),
            },
            webhooks_allow_private: switch(&get, "DEVPULSE_WEBHOOKS_ALLOW_PRIVATE")?,
            chromium: get("DEVPULSE_CHROMIUM").filter(|v| !v.is_empty()),
            metrics_token: get("DEVPULSE_METRICS_TOKEN").filter(|v| !v.is_empty()),
            otel_endpoint: crate::telemetry::endpoint(&get),
            otel_service: get("OTEL_SERVICE_NAME")
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| "devpulse".into()),
            secure_cookies: parse(&get, "DEVPULSE_SECURE_COOKIES", production)?,
            refresh_reuse_grace_secs: parse(&get, "DEVPULSE_REFRESH_REUSE_GRACE_SECS", 20)?,
            batch_max_items: parse(&get, "DEVPULSE_BATCH_MAX_ITEMS", 10_000usize)?,
            ingest_key_rps: parse(&get, "DEVPULSE_INGEST_KEY_RPS", 200.0)?,
            ingest_tenant_eps: parse(&get, "DEVPULSE_INGEST_TENANT_EPS", 100_000.0)?,
            redis_url: match get("REDIS_URL").filter(|v| !v.is_empty()) {
                None => None,
                Some(u)
                    if u.starts_with("redis://")
                        || u.starts_with("rediss://")
                        || u.starts_with("unix://") =>
                {
                    Some(u)
                }
                Some(other) => {
                    return Err(ConfigError {
                        var: "REDIS_URL",
                        value: other,
                        reason: "expected a redis:// URL".into(),
                    })
                }
            },
            public_url: match get("DEVPULSE_PUBLIC_URL").filter(|v| !v.is_empty()) {
                None => None,
                Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
                    Some(u.trim_end_matches('/').to_string())
                }
                Some(other) => {
                    return Err(ConfigError {
                        var: "DEVPULSE_PUBLIC_URL",
                        value: other,
                        reason: "expected an http:// or https:// URL".into(),
                    })
                }
            },
            smtp_url: match get("DEVPULSE_SMTP_URL").filter(|v| !v.is_empty()) {
                None => None,
                Some(u) if u.starts_with("smtp://") || u.starts_with("smtps://") => Some(u),
                Some(other) => {
                    return Err(ConfigError {
                        var: "DEVPULSE_SMTP_URL",
                        value: other,
                        reason: "expected an smtp:// or smtps:// URL".into(),
                    })
                }
            },
            mail_from: match get("DEVPULSE_MAIL_FROM").filter(|v| !v.is_empty()) {
                None => "devpulse <devpulse@localhost>".into(),
                Some(v) if v.parse::<lettre::message::Mailbox>().is_ok() => v,
                Some(other) => {
                    return Err(ConfigError {
                        var: "DEVPULSE_MAIL_FROM",
                        value: other,
                        reason: "expected an address such as `devpulse <noreply@example.com>`"
                            .into(),
                    })
                }
            },
            production,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_local_and_embedded() {
        let c = config(&[]).unwrap();
        assert_eq!(c.port, 3000);
        assert_eq!(c.host.to_string(), "127.0.0.1");
        assert!(c.database_url.is_none());
        assert_eq!(c.log_format, LogFormat::Text);
    }

    /// The deployment examples' placeholders are public: a server that took them would let
    /// anyone open what it seals (deploy/kubernetes/base/secret.example.yaml).
    #[test]
    fn the_examples_placeholder_secrets_are_refused() {
        let zeros = "0".repeat(64);
        let err = config(&[("DEVPULSE_SECRET_KEY", &zeros)]).unwrap_err();
        assert_eq!(err.var, "DEVPULSE_SECRET_KEY");
        let example = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../deploy/kubernetes/base/secret.example.yaml"
        ))
        .unwrap();
        let jwt = example
            .lines()
            .find_map(|l| l.trim().strip_prefix("DEVPULSE_JWT_KEYS: "))
            .expect("the example names DEVPULSE_JWT_KEYS");
        assert!(crate::auth::jwt::Keys::from_spec(jwt).is_err());
        assert!(example.contains(&zeros));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = config(&[("PORT", "eighty")]).unwrap_err();
        assert_eq!(err.var, "PORT");
        let err = config(&[("LOG_FORMAT", "yaml")]).unwrap_err();
        assert_eq!(err.var, "LOG_FORMAT");
        let err = config(&[("DEVPULSE_BODY_LIMIT", "10")]).unwrap_err();
        assert_eq!(err.var, "DEVPULSE_BODY_LIMIT");
        let err = config(&[("DEVPULSE_MAX_CONNECTIONS", "0")]).unwrap_err();
        assert_eq!(err.var, "DEVPULSE_MAX_CONNECTIONS");
        let err = config(&[("DEVPULSE_HEADER_READ_TIMEOUT_SECS", "soon")]).unwrap_err();
        assert_eq!(err.var, "DEVPULSE_HEADER_READ_TIMEOUT_SECS");
        let err = config(&[("DEVPULSE_SCHEDULE_RETENTION", "nightly")]).unwrap_err();
        assert_eq!(
            (err.var, err.value.as_str()),
            ("DEVPULSE_SCHEDULE_RETENTION", "nightly")
        );
        assert!(err.reason.contains("cron"), "{}", err.reason);
    }

    #[test]
    fn recurring_jobs_follow_their_cron_variables() {
        let c = config(&[("DEVPULSE_SCHEDULE_RETENTION", "0 3 * * SAT")]).unwrap();
        let pattern = |name: &str| {
            c.schedules
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.pattern.clone())
        };
        assert_eq!(pattern("retention").as_deref(), Some("0 3 * * SAT"));
        assert_eq!(pattern("upkeep").as_deref(), Some("0 * * * *"));
    }

    #[test]
    fn demo_data_only_on_loopback_unless_asked_and_never_in_production() {
        assert!(config(&[]).unwrap().seeds_demo(true));
        assert!(!config(&[]).unwrap().seeds_demo(false));
        assert!(!config(&[("HOST", "0.0.0.0")]).unwrap().seeds_demo(true));
        assert!(!config(&[("HOST", "::")]).unwrap().seeds_demo(true));
        assert!(config(&[("HOST", "0.0.0.0"), ("DEVPULSE_DEMO", "1")])
            .unwrap()
            .seeds_demo(true));
        assert!(!config(&[("DEVPULSE_DEMO", "0")]).unwrap().seeds_demo(true));
        assert!(
            !config(&[("DEVPULSE_ENV", "production"), ("DEVPULSE_DEMO", "1")])
                .unwrap()
                .seeds_demo(true)
        );
        assert_eq!(
            config(&[("DEVPULSE_DEMO", "yes")]).unwrap_err().var,
            "DEVPULSE_DEMO"
        );
    }

    #[test]
    fn live_demo_activity_follows_the_demo_unless_asked_and_never_in_production() {
        assert!(config(&[]).unwrap().demo_live(true));
        assert!(!config(&[]).unwrap().demo_live(false));
        assert!(!config(&[("DEVPULSE_DEMO", "0")]).unwrap().demo_live(true));
        assert!(!config(&[("DEVPULSE_DEMO_LIVE", "0")])
            .unwrap()
            .demo_live(true));
        assert!(config(&[("DEVPULSE_DEMO_LIVE", "1")])
            .unwrap()
            .demo_live(false));
        assert!(config(&[("HOST", "0.0.0.0"), ("DEVPULSE_DEMO", "1")])
            .unwrap()
            .demo_live(true));
        assert!(!config(&[
            ("DEVPULSE_ENV", "production"),
            ("DEVPULSE_DEMO", "1"),
            ("DEVPULSE_DEMO_LIVE", "1")
        ])
        .unwrap()
        .demo_live(true));
        assert_eq!(
            config(&[("DEVPULSE_DEMO_LIVE", "on")]).unwrap_err().var,
            "DEVPULSE_DEMO_LIVE"
        );
    }

    #[test]
    fn cookies_are_secure_in_production_unless_turned_off() {
        assert!(!config(&[]).unwrap().secure_cookies);
        assert!(
            config(&[("DEVPULSE_ENV", "production")])
                .unwrap()
                .secure_cookies
        );
        assert!(
            !config(&[
                ("DEVPULSE_ENV", "production"),
                ("DEVPULSE_SECURE_COOKIES", "false")
            ])
            .unwrap()
            .secure_cookies
        );
        assert!(
            config(&[("DEVPULSE_SECURE_COOKIES", "true")])
                .unwrap()
                .secure_cookies
        );
    }

    #[test]
    fn trusted_proxies_are_parsed_and_bad_ones_named() {
        let c = config(&[("DEVPULSE_TRUSTED_PROXIES", "10.0.0.0/8")]).unwrap();
        assert_ne!(c.trusted_proxies, crate::auth::TrustedProxies::default());
        let err = config(&[("DEVPULSE_TRUSTED_PROXIES", "lb.internal")]).unwrap_err();
        assert_eq!(err.var, "DEVPULSE_TRUSTED_PROXIES");
    }

    #[test]
    fn values_are_read() {
        let c = config(&[
            ("PORT", "0"),
            ("LOG_FORMAT", "json"),
            ("DATABASE_URL", "postgres://x/y"),
        ])
        .unwrap();
        assert_eq!(c.port, 0);
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.database_url.as_deref(), Some("postgres://x/y"));
    }
}
