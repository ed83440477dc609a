//! Proof that a workspace controls an e-mail domain before "Continue with SSO" sends people
//! who type an address there to the workspace's provider: a TXT record with the workspace's
//! token at `_devpulse-challenge.<domain>`. Without it, a workspace could name someone else's
//! domain and collect their people's sign-ins at a provider of its choosing.

use std::net::SocketAddr;

use hickory_resolver::{
    config::{NameServerConfigGroup, ResolverConfig, ResolverOpts},
    name_server::TokioConnectionProvider,
    proto::rr::RecordType,
    ResolveErrorKind, TokioResolver,
};

/// The DNS name a domain's proof is published at.
pub fn record_name(domain: &str) -> String {
    format!("_devpulse-challenge.{domain}")
}

/// The TXT value that proves a workspace controls the domain: its token.
pub fn record_value(token: &str) -> String {
    format!("devpulse-domain-verification={token}")
}

/// Why a domain's proof was not found.
#[derive(Debug, Clone)]
pub enum Unproven {
    /// DNS answered, without the record: a proof held until now is withdrawn.
    Absent(String),
    /// DNS did not answer: nothing is known, and a proof held stays.
    Unknown(String),
}

impl Unproven {
    pub fn reason(&self) -> &str {
        match self {
            Unproven::Absent(why) | Unproven::Unknown(why) => why,
        }
    }
}

pub struct Proofs {
    /// Why there is none: a server without DNS configuration still starts, and says so when
    /// an admin asks for a proof.
    resolver: Result<TokioResolver, String>,
}

impl std::fmt::Debug for Proofs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("domains::Proofs")
    }
}

impl Proofs {
    /// Looks proofs up at `server`, or at the system's resolvers.
    pub fn new(server: Option<SocketAddr>) -> Proofs {
        Proofs {
            resolver: Self::resolver(server),
        }
    }

    fn resolver(server: Option<SocketAddr>) -> Result<TokioResolver, String> {
        let builder = match server {
            Some(at) => TokioResolver::builder_with_config(
                ResolverConfig::from_parts(
                    None,
                    vec![],
                    NameServerConfigGroup::from_ips_clear(&[at.ip()], at.port(), true),
                ),
                TokioConnectionProvider::default(),
            ),
            None => TokioResolver::builder_tokio()
                .map_err(|e| format!("cannot read the system's DNS configuration: {e}"))?,
        };
        let mut options = ResolverOpts::default();
        // A record just published is looked for again when the admin asks: nothing cached.
        options.cache_size = 0;
        options.attempts = 1;
        options.timeout = std::time::Duration::from_secs(5);
        Ok(builder.with_options(options).build())
    }

    /// Whether `domain` carries `token`'s record now; if not, why not, in words.
    pub async fn check(&self, domain: &str, token: &str) -> Result<(), Unproven> {
        let name = record_name(domain);
        let wanted = record_value(token);
        let resolver = self
            .resolver
            .as_ref()
            .map_err(|e| Unproven::Unknown(e.clone()))?;
        let found = match resolver.lookup(format!("{name}."), RecordType::TXT).await {
            Ok(lookup) => lookup
                .record_iter()
                .filter_map(|r| r.data().as_txt())
                .map(|txt| {
                    txt.txt_data()
                        .iter()
                        .map(|part| String::from_utf8_lossy(part).into_owned())
                        .collect::<String>()
                })
                .collect::<Vec<_>>(),
            Err(e) if matches!(e.kind(), ResolveErrorKind::Proto(p) if p.is_no_records_found()) => {
                Vec::new()
            }
            Err(e) => {
                return Err(Unproven::Unknown(format!(
                    "the DNS lookup of {name} failed: {e}"
                )))
            }
        };
        if found.iter().any(|v| v.trim() == wanted) {
            Ok(())
        } else if found.is_empty() {
            Err(Unproven::Absent(format!("no TXT record at {name} yet")))
        } else {
            Err(Unproven::Absent(format!(
                "the TXT records at {name} do not include {wanted} (DNS changes can take a while to show)"
            )))
        }
    }
}
