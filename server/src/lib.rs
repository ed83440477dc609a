#![doc = include_str!("../README.md")]

pub mod alerts;
pub mod api;
pub mod auth;
pub mod bus;
pub mod config;
pub mod connections;
pub mod database;
pub mod demo;
pub mod error;
pub mod gdpr;
pub mod health;
pub mod http;
pub mod ingest;
pub mod jobs;
pub mod limits;
pub mod live;
pub mod mail;
pub mod mcp;
pub mod metrics_scope;
pub mod monitoring;
pub mod outbound;
pub mod reports;
pub mod startup;
pub mod state;
pub mod system;
pub mod telemetry;
pub mod tenancy;
pub mod webhooks;

use std::{net::SocketAddr, sync::Arc, time::Instant};

use tokio::{net::TcpListener, sync::watch};

pub use config::Config;
pub use startup::Error;
pub use state::AppState;

pub fn init_tracing(format: &config::LogFormat) {
    init_subscriber(format, None);
}

/// Logging, and trace export when the configuration names a collector: the exporter to shut
/// down (which flushes) once the server stops. Call it inside the Tokio runtime.
pub fn init_tracing_exported(config: &Config) -> Option<telemetry::Exporter> {
    init_subscriber(
        &config.log_format,
        config
            .otel_endpoint
            .as_deref()
            .map(|e| (e, config.otel_service.clone())),
    )
}

fn init_subscriber(
    format: &config::LogFormat,
    export: Option<(&str, String)>,
) -> Option<telemetry::Exporter> {
    use tracing_subscriber::{fmt, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter};
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let (exporter, spans) = match export.map(|(e, s)| telemetry::Exporter::start(e, s)) {
        Some(Ok((exporter, layer))) => (Some(exporter), Some(layer)),
        Some(Err(e)) => {
            eprintln!("devpulse: {e}; traces are not exported");
            (None, None)
        }
        None => (None, None),
    };
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(system::KeepErrors)
        .with(spans);
    let _ = match format {
        config::LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        config::LogFormat::Text => registry
            .with(fmt::layer().compact().with_writer(std::io::stderr))
            .try_init(),
    };
    exporter
}

/// Runs the server until SIGTERM or SIGINT, then drains connections and stops the embedded
/// database if this process started it.
pub async fn run(config: Config) -> Result<(), Error> {
    let db = database::Database::open(&config).await?;
    let addr = SocketAddr::new(config.host, config.port);
    let result = match TcpListener::bind(addr).await {
        Ok(listener) => serve(listener, &config, &db, shutdown_signal()).await,
        Err(source) => Err(Error::Bind { addr, source }),
    };
    db.close().await;
    result
}

/// Keeps the kernel from backing this process's heap with transparent huge pages; call it
/// first thing, before the heap grows. The allocator hands freed memory back a few KiB at a
/// time, and where the kernel's khugepaged folds a mostly free 2 MiB range into one huge page,
/// all of it is resident again. In a 15-minute soak with huge pages on, the live heap stayed at
/// about 30 MiB while resident memory climbed from 143 to 230 MiB; with them off it stayed at
/// 122-128 MiB, at the same request rate (README, "Under load"). Inherited by children.
pub fn no_huge_pages() -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory of ours.
        if unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Serves on an already-open database until `stop` resolves.
pub async fn serve(
    listener: TcpListener,
    config: &Config,
    db: &database::Database,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let local = listener.local_addr()?;

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (live_tx, _) = watch::channel(None);
    let live_tx = Arc::new(live_tx);
    let keys = match &config.jwt_keys {
        Some(spec) => auth::jwt::Keys::from_spec(spec)?,
        None if config.production => {
            return Err(Error::Setup(
                "DEVPULSE_JWT_KEYS must be set when DEVPULSE_ENV=production".into(),
            ))
        }
        None => auth::jwt::Keys::dev_key(&config.data_dir)?,
    };
    let redis = match &config.redis_url {
        Some(url) => Some(
            redis::Client::open(url.as_str())
                .map_err(|e| Error::Setup(format!("REDIS_URL: {e}")))?,
        ),
        None => None,
    };
    let bus = bus::Bus::start(redis.clone(), db.store.answers().clone());
    // One connection for every shared rate limit.
    let limits_redis = redis.clone().map(limits::Redis::new);
    let (writer, writer_task) = ingest::Writer::start(db.store.clone(), bus.clone());
    let demo = demo::start(config, db, &writer, shutdown_rx.clone()).await;
    let failed_logins = Arc::new(auth::failed_logins::FailedLogins::default());
    let auditing = tokio::spawn(
        failed_logins
            .clone()
            .run(db.store.clone(), shutdown_rx.clone()),
    );
    let rejections = Arc::new(ingest::rejections::Rejections::default());
    let counting = tokio::spawn(
        rejections
            .clone()
            .run(db.store.clone(), shutdown_rx.clone()),
    );
    let (access_tx, _) = tokio::sync::broadcast::channel(256);
    let access_listener = tokio::spawn(live::listen_access(
        db.store.clone(),
        access_tx.clone(),
        shutdown_rx.clone(),
    ));
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{local}"));
    let sealer = Arc::new(
        store::sealing::Sealer::new(
            config.secret_key.as_deref(),
            (!config.production).then_some(config.data_dir.as_path()),
        )
        .map_err(Error::Setup)?,
    );
    let mailer = mail::Mailer::new(
        config.smtp_url.as_deref(),
        &config.mail_from,
        &config.data_dir,
        config.production,
    )
    .map_err(Error::Setup)?;
    if let Some(outbox) = mailer.outbox() {
        tracing::info!(outbox = %outbox.display(), "no DEVPULSE_SMTP_URL: e-mail is written to the outbox");
    }
    if mailer.is_off() {
        tracing::warn!("no DEVPULSE_SMTP_URL: e-mail cannot be sent (invitations and password links are shown to admins only)");
    }
    let outbound = outbound::Policy {
        allow_private: config.webhooks_allow_private.unwrap_or(!config.production),
    };
    let evaluator =
        alerts::Evaluator::new(db.store.clone(), sealer.clone(), bus.clone(), &public_url);
    let evaluating = tokio::spawn(alerts::watch(evaluator.clone(), shutdown_rx.clone()));
    let reporter = reports::Reporter::new(
        db.store.clone(),
        sealer.clone(),
        reports::pdf::Printer::new(config.chromium.as_deref(), &config.site_root),
        &public_url,
    );
    if reporter.printer.browser().is_none() {
        tracing::warn!("no Chromium found (DEVPULSE_CHROMIUM): PDFs cannot be made; reports go out with CSV only");
    }
    let runner = jobs::Runner::start(
        jobs::Context {
            store: db.store.clone(),
            mailer,
            sealer: sealer.clone(),
            alerts: evaluator,
            outbound,
            http: outbound.client().map_err(Error::Setup)?,
            reports: reporter.clone(),
        },
        jobs::Options {
            schedules: config.schedules.clone(),
            ..jobs::Options::default()
        },
        shutdown_rx.clone(),
    );
    let sso = auth::sso::Sso::new(
        sealer.clone(),
        config.sso_allow_private.unwrap_or(!config.production),
        &public_url,
    )
    .map_err(Error::Setup)?;
    let domain_proofs = Arc::new(auth::domains::Proofs::new(config.dns_server));
    let system = Arc::new(system::System {
        store: db.store.clone(),
        writer: writer.clone(),
        redis: redis.clone(),
        sockets: Default::default(),
        database_mode: db.mode,
        started_at: Instant::now(),
        schedules: config.schedules.clone(),
    });
    // Installed before any request, so the first one is counted.
    monitoring::handle();
    let state = AppState::new(state::Parts {
        rejections,
        reports: reporter,
        metrics_token: config.metrics_token.as_deref().map(Into::into),
        outbound,
        system,
        sso: Arc::new(sso),
        domain_proofs,
        sealer,
        access: access_tx,
        writer,
        bus,
        batch_max_items: config.batch_max_items,
        body_limit: config.body_limit,
        decoding: ingest::wire::Budget::default(),
        // A person signs in a few times a day; 30 at once and one a second after that leaves
        // room for an office behind one address.
        sso_starts: Arc::new(limits::SharedBuckets::new(
            "sso_start",
            limits::Buckets::new(1.0, 30.0),
            limits_redis.clone(),
        )),
        // Five at once, then one every five seconds: enough for a typo or two.
        password_requests: Arc::new(limits::SharedBuckets::new(
            "password_request",
            limits::Buckets::new(0.2, 5.0),
            limits_redis.clone(),
        )),
        ingest_limits: Arc::new(ingest::limits::IngestLimits::new(
            limits::Buckets::new(config.ingest_key_rps, 2.0 * config.ingest_key_rps),
            limits::Buckets::new(config.ingest_tenant_eps, 2.0 * config.ingest_tenant_eps),
            limits_redis,
        )),
        keys: Arc::new(keys),
        login_limits: Arc::new(auth::limits::LoginLimiter::new(
            config.login_attempts_per_sec,
        )),
        failed_logins: failed_logins.clone(),
        session_lifetimes: store::refresh_tokens::Lifetimes {
            reuse_grace: chrono::Duration::seconds(config.refresh_reuse_grace_secs),
            ..Default::default()
        },
        cookies: auth::SessionCookies {
            secure: config.secure_cookies,
        },
        public_url,
        leptos_options: http::leptos_options(config, local),
        store: db.store.clone(),
        started_at: Instant::now(),
        database_mode: db.mode,
        live: live_tx.clone(),
        shutdown: shutdown_rx.clone(),
        mcp: mcp::service(),
    });
    let sampler = tokio::spawn(live::sample(
        db.store.clone(),
        (*live_tx).clone(),
        shutdown_rx.clone(),
    ));
    let router = http::router(state, config);

    // Scripts (and `make run`) read this line for the address.
    println!("devpulse listening on http://{local}");
    tracing::info!(%local, mode = db.mode, "listening");
    let limits = connections::Limits {
        max_connections: config.max_connections,
        header_read_timeout: std::time::Duration::from_secs(config.header_read_timeout_secs),
    };
    // OTLP/gRPC exporters default to port 4317; the same routes answer there.
    let grpc = match config.otlp_grpc_port {
        Some(port) => {
            let addr = SocketAddr::new(config.host, port);
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|source| Error::Bind { addr, source })?;
            let addr = listener.local_addr()?;
            println!("devpulse OTLP/gRPC listening on http://{addr}");
            let mut stop = shutdown_rx.clone();
            let router = router.clone();
            Some(tokio::spawn(connections::serve(
                listener,
                router,
                limits,
                async move {
                    let _ = stop.wait_for(|stopping| *stopping).await;
                },
            )))
        }
        None => None,
    };
    connections::serve(listener, router, limits, async move {
        stop.await;
        tracing::info!("shutting down: draining connections");
        let _ = shutdown_tx.send(true);
    })
    .await;
    if let Some(grpc) = grpc {
        let _ = grpc.await;
    }
    let _ = sampler.await;
    let _ = access_listener.await;
    runner.stopped().await;
    let _ = evaluating.await;
    let _ = auditing.await;
    let _ = counting.await;
    for task in demo {
        let _ = task.await;
    }
    // Every request has been answered; the writer ends once its queue is empty.
    if tokio::time::timeout(std::time::Duration::from_secs(15), writer_task)
        .await
        .is_err()
    {
        tracing::warn!("the writer did not finish within 15 s of shutdown");
    }
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
