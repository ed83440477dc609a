use clap::{Parser, Subcommand};
use serde_json::json;
use server::{database::Database, error::ApiError, tenancy};
use store::{api_keys::Scope, audit::Actor, tenants, Email, Role, Slug, TenantStatus};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// devpulse: analytics for AI coding assistants.
///
/// Configuration comes from the environment (see the README); with no DATABASE_URL the
/// server starts a private PostgreSQL cluster under DEVPULSE_DATA_DIR. The operator
/// commands work against the same database.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Print results as JSON, for scripts.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Apply database migrations, then exit.
    Migrate,
    /// Every API route and who may call it (no database needed).
    Routes,
    /// Tenants of this installation.
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// People of a tenant.
    #[command(subcommand)]
    User(UserCmd),
    /// API keys for collectors and OTLP exporters.
    #[command(subcommand)]
    Apikey(ApikeyCmd),
    /// Installation-wide administrators.
    #[command(subcommand)]
    Superadmin(SuperadminCmd),
}

#[derive(Subcommand)]
enum TenantCmd {
    /// Create a tenant and its first admin (prints a one-time password, or with --invite an
    /// invitation link).
    Create {
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        admin_email: String,
        /// Print an invitation link (valid 72 h) instead of a one-time password.
        #[arg(long)]
        invite: bool,
    },
    List,
    Rename {
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
    },
    Suspend {
        #[arg(long)]
        slug: String,
    },
    Reactivate {
        #[arg(long)]
        slug: String,
    },
    /// Drop the tenant's schema, role and data. Needs --confirm SLUG.
    Delete {
        #[arg(long)]
        slug: String,
        #[arg(long)]
        confirm: Option<String>,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        role: String,
        #[arg(long, default_value = "")]
        name: String,
        /// Without one, a one-time password is generated and printed.
        #[arg(long)]
        password: Option<String>,
    },
    /// Create a user without a password and print their invitation link (valid 72 h).
    Invite {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        role: String,
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Print a new single-use password link for a user (a reset, or a new invitation if they
    /// never set a password); earlier links stop working.
    ResetLink {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
    },
    SetRole {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        role: String,
    },
    Deactivate {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
enum ApikeyCmd {
    /// Create a key (printed once).
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "ingest,read")]
        scopes: String,
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

#[derive(Subcommand)]
enum SuperadminCmd {
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: Option<String>,
    },
}

fn main() -> std::process::ExitCode {
    if let Err(e) = server::no_huge_pages() {
        eprintln!("devpulse: transparent huge pages stay on: {e}");
    }
    let cli = Cli::parse();
    let config = match server::Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("devpulse: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    // Trace export batches on this runtime, so it starts inside it.
    let traces = {
        let _inside = runtime.enter();
        server::init_tracing_exported(&config)
    };
    let json = cli.json;
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => server::run(config).await.map_err(|e| e.to_string()),
            Command::Routes => {
                let table = server::api::route_table();
                if json {
                    println!("{}", serde_json::to_string_pretty(&table).expect("json"));
                } else {
                    for r in table {
                        println!("{:<7} {:<45} {}", r.method, r.path, r.access);
                    }
                }
                Ok(())
            }
            command => {
                let db = Database::open(&config).await.map_err(|e| e.to_string())?;
                let out = operate(&db, command).await.map_err(|e| e.to_string());
                db.close().await;
                let out = out?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&out).expect("json"));
                } else {
                    print_plain(&out);
                }
                Ok(())
            }
        }
    });
    // Outside the runtime's tasks (it waits for the last batch to go).
    if let Some(traces) = traces {
        traces.shutdown();
    }
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("devpulse: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn print_plain(value: &serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match v {
                    serde_json::Value::String(s) => println!("{k}: {s}"),
                    other => println!("{k}: {other}"),
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                println!("{item}");
            }
        }
        other => println!("{other}"),
    }
}

/// The base of printed links: DEVPULSE_PUBLIC_URL, else where `make run` listens.
fn public_url() -> String {
    let config = server::Config::from_env().ok();
    config
        .as_ref()
        .and_then(|c| c.public_url.clone())
        .unwrap_or_else(|| {
            let (host, port) =
                config.map_or(("127.0.0.1".into(), 3000), |c| (c.host.to_string(), c.port));
            format!("http://{host}:{port}")
        })
}

fn slug(s: &str) -> Result<Slug, ApiError> {
    Ok(Slug::parse(s)?)
}

/// A transaction in `tenant` and the user with `email` there.
async fn user_in_tenant(
    store: &store::Store,
    tenant: &str,
    email: &str,
) -> Result<(store::TenantTx, store::User), ApiError> {
    let t = tenants::find_by_slug(store.pool(), &slug(tenant)?).await?;
    let mut tx = store.tenant_tx(t.scope()).await?;
    let user = store::accounts::find_by_email(&mut tx, &Email::parse(email)?).await?;
    Ok((tx, user))
}

async fn operate(db: &Database, command: Command) -> Result<serde_json::Value, ApiError> {
    let store = &db.store;
    let actor = Actor::cli();
    Ok(match command {
        Command::Serve | Command::Routes => unreachable!("handled by main"),
        Command::Migrate => json!({ "migrations": "applied" }),
        Command::Tenant(TenantCmd::Create {
            slug: s,
            name,
            admin_email,
            invite,
        }) => {
            let email = Email::parse(&admin_email)?;
            if invite {
                let p = tenancy::provision_invited(store, &slug(&s)?, &name, &email, &actor, None)
                    .await?;
                json!({
                    "tenant": p.tenant.slug, "name": p.tenant.name, "admin_email": email,
                    "invitation_url": format!("{}{}", public_url(), p.link.path()),
                    "expires_at": p.link.expires_at,
                })
            } else {
                let p = tenancy::provision(store, &slug(&s)?, &name, &email, None, &actor).await?;
                json!({
                    "tenant": p.tenant.slug, "name": p.tenant.name, "admin_email": email,
                    "one_time_password": p.password,
                })
            }
        }
        Command::Tenant(TenantCmd::List) => json!(tenants::list(store.pool())
            .await?
            .into_iter()
            .map(|t| json!({ "slug": t.slug, "name": t.name, "status": t.status, "plan": t.plan }))
            .collect::<Vec<_>>()),
        Command::Tenant(TenantCmd::Rename { slug: s, name }) => {
            json!(
                tenants::rename(store.pool(), &actor, &slug(&s)?, &name)
                    .await?
                    .name
            )
        }
        Command::Tenant(TenantCmd::Suspend { slug: s }) => {
            json!({ "status": tenants::set_status(store.pool(), &actor, &slug(&s)?, TenantStatus::Suspended).await?.status })
        }
        Command::Tenant(TenantCmd::Reactivate { slug: s }) => {
            json!({ "status": tenants::set_status(store.pool(), &actor, &slug(&s)?, TenantStatus::Active).await?.status })
        }
        Command::Tenant(TenantCmd::Delete { slug: s, confirm }) => {
            if confirm.as_deref() != Some(s.as_str()) {
                return Err(ApiError::field(
                    "/confirm",
                    "repeat the slug with --confirm to delete",
                ));
            }
            tenants::delete(store.pool(), &actor, &slug(&s)?).await?;
            json!({ "deleted": s })
        }
        Command::User(UserCmd::Create {
            tenant,
            email,
            role,
            name,
            password,
        }) => {
            let t = tenants::find_by_slug(store.pool(), &slug(&tenant)?).await?;
            let role = Role::parse_tenant(&role)?;
            let email = Email::parse(&email)?;
            let generated = password.is_none();
            let pw = tenancy::create_user(store, &t, &email, &name, role, password, &actor).await?;
            let mut out = json!({ "email": email, "role": role, "tenant": tenant });
            if generated {
                out["one_time_password"] = json!(pw);
            }
            out
        }
        Command::User(UserCmd::Invite {
            tenant,
            email,
            role,
            name,
        }) => {
            let t = tenants::find_by_slug(store.pool(), &slug(&tenant)?).await?;
            let role = Role::parse_tenant(&role)?;
            let email = Email::parse(&email)?;
            let (_, link) =
                tenancy::invite_user(store, &t, &email, &name, role, &actor, None).await?;
            json!({
                "email": email, "role": role, "tenant": tenant,
                "invitation_url": format!("{}{}", public_url(), link.path()),
                "expires_at": link.expires_at,
            })
        }
        Command::User(UserCmd::ResetLink { tenant, email }) => {
            let t = tenants::find_by_slug(store.pool(), &slug(&tenant)?).await?;
            let user = {
                let (tx, user) = user_in_tenant(store, &tenant, &email).await?;
                tx.commit().await?;
                user
            };
            let (_, link) = tenancy::password_link(store, &t, user.id, &actor, None).await?;
            json!({
                "email": email, "kind": link.kind,
                "url": format!("{}{}", public_url(), link.path()),
                "expires_at": link.expires_at,
            })
        }
        Command::User(UserCmd::SetRole {
            tenant,
            email,
            role,
        }) => {
            let role = Role::parse_tenant(&role)?;
            let (mut tx, user) = user_in_tenant(store, &tenant, &email).await?;
            store::accounts::change_role(&mut tx, &actor, user.id, role).await?;
            tx.commit().await?;
            json!({ "email": email, "role": role })
        }
        Command::User(UserCmd::Deactivate { tenant, email }) => {
            let (mut tx, user) = user_in_tenant(store, &tenant, &email).await?;
            store::accounts::change_active(&mut tx, &actor, user.id, false).await?;
            tx.commit().await?;
            json!({ "email": email, "status": "deactivated" })
        }
        Command::Apikey(ApikeyCmd::Create {
            tenant,
            email,
            scopes,
            name,
        }) => {
            let t = tenants::find_by_slug(store.pool(), &slug(&tenant)?).await?;
            let scopes = scopes
                .split(',')
                .map(Scope::parse)
                .collect::<Result<Vec<_>, _>>()?;
            let key =
                tenancy::create_api_key(store, &t, &Email::parse(&email)?, &name, &scopes, &actor)
                    .await?;
            json!({ "key": key })
        }
        Command::Superadmin(SuperadminCmd::Create { email, password }) => {
            let generated = password.is_none();
            let email = Email::parse(&email)?;
            let pw = tenancy::create_super_admin(store, &email, password, &actor).await?;
            let mut out = json!({ "email": email, "role": Role::SuperAdmin });
            if generated {
                out["one_time_password"] = json!(pw);
            }
            out
        }
    })
}
