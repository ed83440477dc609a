//! The router and the middleware every response passes through.

use std::net::SocketAddr;

use app::{shell, ssr::ServerContext, App};
use axum::{
    extract::{DefaultBodyLimit, Request, State},
    http::{header, HeaderName, HeaderValue, StatusCode, Uri},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use leptos::config::LeptosOptions;
use leptos_axum::{file_and_error_handler_with_context, generate_route_list, LeptosRoutes};
use tower_http::{
    compression::CompressionLayer,
    limit::RequestBodyLimitLayer,
    set_header::SetResponseHeaderLayer,
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;

use crate::{
    api,
    auth::{csrf, ClientIp, TrustedProxies},
    config::Config,
    error, health,
    state::AppState,
};

/// Pages name the browser bundle under `pkg/{version}/`, where the version is a digest of the
/// bundle's files, so a browser may keep them for a year: a new build is a new address.
pub fn leptos_options(config: &Config, addr: SocketAddr) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("devpulse")
        .site_root(config.site_root.to_string_lossy().to_string())
        .site_pkg_dir(format!("pkg/{}", bundle_version(&config.site_root)))
        .site_addr(addr)
        .build()
}

/// The files a page loads from `pkg/`, the ones its version digests.
const BUNDLE: [&str; 4] = [
    "devpulse.js",
    "devpulse.wasm",
    "devpulse_bg.wasm",
    "devpulse.css",
];

/// A digest of the bundle in `site_root/pkg` (16 hex digits; files not there count as empty).
pub fn bundle_version(site_root: &std::path::Path) -> String {
    use sha2::Digest;
    let mut digest = sha2::Sha256::new();
    for name in BUNDLE {
        digest.update(name.as_bytes());
        if let Ok(bytes) = std::fs::read(site_root.join("pkg").join(name)) {
            digest.update((bytes.len() as u64).to_le_bytes());
            digest.update(&bytes);
        }
    }
    hex::encode(&digest.finalize()[..8])
}

/// Responses that are not pages (JSON, files, errors) may load nothing at all; pages set
/// their own policy with a per-response script nonce (see `app::shell`).
const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/// Every request gets a script nonce (`app::PageNonce`, which the page's shell renders into
/// its hydration scripts), and every HTML response without a policy of its own (the single
/// sign-on relay sets a stricter one) the page policy with that nonce, whoever made the
/// response. A page must never go out under the API policy, which would block its own
/// styles, scripts and WASM.
async fn page_policy(mut req: Request, next: axum::middleware::Next) -> Response {
    let nonce = leptos::nonce::Nonce::new().to_string();
    req.extensions_mut().insert(app::PageNonce(nonce.clone()));
    let mut res = next.run(req).await;
    let html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    if html && !res.headers().contains_key(header::CONTENT_SECURITY_POLICY) {
        let policy = app::page_csp(&nonce);
        res.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(&policy).expect("the policy is ASCII"),
        );
    }
    res
}

pub fn router(state: AppState, config: &Config) -> Router {
    let context = {
        let cx = ServerContext {
            store: state.store.clone(),
            started_at: state.started_at,
            database_mode: state.database_mode,
            public_url: state.public_url.clone(),
            auth: std::sync::Arc::new(crate::auth::PageAuthenticator {
                store: state.store.clone(),
                keys: state.keys.clone(),
                cookies: state.cookies,
            }),
            boards: std::sync::Arc::new(state.bus.clone()),
            sealer: state.sealer.clone(),
            mfa_cookie: state.cookies.mfa(),
            workspaces_cookie: state.cookies.other_workspaces(),
            sso: std::sync::Arc::new(crate::api::sso::Admin(state.clone())),
            system: std::sync::Arc::new(crate::api::support::Console(state.clone())),
            outbound: std::sync::Arc::new(state.outbound),
        };
        move || {
            leptos::prelude::provide_context(cx.clone());
            // Fresh for every request: a page render's dashboard reads share a connection.
            leptos::prelude::provide_context(app::api::dashboard::ssr::PageReads::default());
            leptos::prelude::provide_context(app::session::ssr::RequestSession::default());
        }
    };
    let routes = generate_route_list(App);
    let leptos_options = state.leptos_options.clone();
    let version: std::sync::Arc<str> = leptos_options
        .site_pkg_dir
        .trim_start_matches("pkg/")
        .into();

    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(crate::monitoring::scrape))
        .merge(api::routes().into_router(&state))
        .route("/api/docs", get(api::reference::page))
        .route("/api/docs/", get(api::reference::page))
        .leptos_routes_with_context(&state, routes, context.clone(), move || {
            shell(leptos_options.clone())
        })
        .fallback(file_and_error_handler_with_context::<AppState, _>(
            context, shell,
        ))
        // Router::layer wraps everything above it, fallback included; the last one added
        // is the outermost.
        .layer(axum::middleware::from_fn(say_where_reads_were_served))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            see_own_changes,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::workspaces::keep_other_sessions,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            refuse_cross_site,
        ))
        .layer(axum::middleware::from_fn(small_bodies_for_server_functions))
        .layer(RequestBodyLimitLayer::new(config.body_limit))
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(axum::middleware::from_fn(problem_for_bare_errors))
        .layer(CompressionLayer::new())
        .layer(axum::middleware::from_fn_with_state(version, cache_policy))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        // A page may ask for less (the single sign-on pages send no referrer at all).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        // Inside the API's default, so a page has its policy before that layer looks.
        .layer(axum::middleware::from_fn(page_policy))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(API_CSP),
        ))
        .layer(axum::middleware::from_fn_with_state(
            std::sync::Arc::new(config.trusted_proxies.clone()),
            resolve_client_ip,
        ))
        .layer(axum::middleware::from_fn(
            crate::monitoring::record_requests,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    // DefaultMakeSpan's fields, with the URI's secrets taken out.
                    // The id the outer layer gave it (or the client sent), so every line
                    // of the request names it, as its answer's `x-request-id` does.
                    let id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!(
                        "request",
                        id = %id,
                        method = %req.method(),
                        uri = %redacted(req.uri()),
                        version = ?req.version(),
                    )
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(tower_http::request_id::PropagateRequestIdLayer::x_request_id())
        .layer(tower_http::request_id::SetRequestIdLayer::x_request_id(
            tower_http::request_id::MakeRequestUuid,
        ))
        .with_state(state)
}

const FOREVER: &str = "public, max-age=31536000, immutable";

/// How long browsers keep static files. The bundle is asked for under its version
/// (`/pkg/{version}/…`, see [`leptos_options`]) and ECharts under its own (`?v=`), so both
/// are kept a year. A page from an earlier build may still ask this instance for its old
/// version (a deploy in progress): it gets today's files, revalidated on every load, as is
/// anything asked for under its bare name.
fn cache_control(path: &str, query: Option<&str>, version: &str) -> Option<&'static str> {
    if let Some(rest) = path.strip_prefix("/pkg/") {
        match rest.split_once('/') {
            Some((v, _)) if v == version => Some(FOREVER),
            _ => Some("no-cache"),
        }
    } else if path == "/echarts.min.js" && query.is_some_and(|q| q.starts_with("v=")) {
        Some(FOREVER)
    } else if path == "/favicon.svg" || path == "/echarts.min.js" {
        Some("public, max-age=86400")
    } else {
        None
    }
}

/// `/pkg/{version}/x` is the file `pkg/x`: the version is only in the address.
fn unversioned(uri: &http::Uri) -> Option<http::Uri> {
    let rest = uri.path().strip_prefix("/pkg/")?;
    let (version, file) = rest.split_once('/')?;
    if version.len() != 16 || !version.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    format!("/pkg/{file}").parse().ok()
}

async fn cache_policy(
    axum::extract::State(version): axum::extract::State<std::sync::Arc<str>>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let policy = cache_control(request.uri().path(), request.uri().query(), &version);
    if let Some(uri) = unversioned(request.uri()) {
        *request.uri_mut() = uri;
    }
    let mut response = next.run(request).await;
    if let Some(policy) = policy.filter(|_| response.status().is_success()) {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    response
}

/// What a Leptos server function may be sent: form fields (names, e-mail addresses,
/// passwords, a board document of at most 64 KiB of JSON, which form encoding can triple),
/// never uploads. Anyone may post to one before it checks the session.
pub const SERVER_FN_BODY_LIMIT: usize = 256 * 1024;

/// Server functions live under `/api/{name}` (the REST API under `/api/v1/`); their bodies
/// are read by Leptos, not by an axum extractor, so the limit is put on the body itself.
async fn small_bodies_for_server_functions(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let path = request.uri().path();
    if !path.starts_with("/api/") || path.starts_with("/api/v1/") {
        return next.run(request).await;
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > SERVER_FN_BODY_LIMIT) {
        return error::ApiError::PayloadTooLarge.into_response();
    }
    let request = request.map(|body| {
        axum::body::Body::new(http_body_util::Limited::new(body, SERVER_FN_BODY_LIMIT))
    });
    next.run(request).await
}

/// Decides once per request which address it comes from (see `auth::proxies`); throttling,
/// audit entries and pages read the answer from the request's extensions.
async fn resolve_client_ip(
    axum::extract::State(proxies): axum::extract::State<std::sync::Arc<TrustedProxies>>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let ip = ClientIp(proxies.client_ip(request.headers(), peer));
    request.extensions_mut().insert(ip);
    next.run(request).await
}

/// With a read replica, a response whose dashboard reads it served says how old their data
/// may be (`x-devpulse-read: replica; staleness-ms=412`) or that the primary served them.
async fn say_where_reads_were_served(req: Request, next: Next) -> Response {
    let (mut res, served) = store::replica::noting(next.run(req)).await;
    // A page says it itself: its reads run in render tasks this scope does not reach.
    let Some(served) = served else { return res };
    if let Ok(v) = HeaderValue::from_str(&served.header_value()) {
        res.headers_mut()
            .insert(HeaderName::from_static("x-devpulse-read"), v);
    }
    res
}

/// A request's own changes to what dashboards show are forgotten from this instance's kept
/// answers before it answers (see [`store::Store::seeing_own_changes`]), so a client that
/// changed a setting, a team or a price and reads again sees the change. Server functions
/// run in the request's task, so this covers the pages' forms too.
async fn see_own_changes(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    state.store.seeing_own_changes(next.run(req)).await
}

/// Errors the API's own code did not write (axum's extractor rejections and 405s, tower's
/// 413, the MCP transport's refusals) come as plain text or nothing; API clients get every
/// error as problem+json, with the text as its detail. Pages and server functions (whose
/// client reads its own error encoding) keep theirs; a 413 is problem+json everywhere.
async fn problem_for_bare_errors(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let api = ["/api/v1/", "/v1/", "/mcp", "/auth/", "/ws"]
        .iter()
        .any(|p| path.starts_with(p));
    let grpc = error::is_grpc(req.headers()).then(|| path.to_string());
    let response = next.run(req).await;
    let status = response.status();
    if !status.is_client_error() && !status.is_server_error() {
        return response;
    }
    // A gRPC answer is always HTTP 200 with its status in the headers: an HTTP error here
    // came from a layer in front (the body limit), and a gRPC client reads it as a broken
    // call. It gets the status gRPC servers give for the same refusal.
    if let Some(method) = grpc {
        return match status {
            StatusCode::PAYLOAD_TOO_LARGE => error::ApiError::PayloadTooLarge.into_grpc_response(),
            s => {
                // gRPC's mapping of HTTP statuses (doc/http-grpc-status-mapping.md).
                let code = match s {
                    StatusCode::UNAUTHORIZED => tonic::Code::Unauthenticated,
                    StatusCode::FORBIDDEN => tonic::Code::PermissionDenied,
                    StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => {
                        tonic::Code::Unimplemented
                    }
                    StatusCode::TOO_MANY_REQUESTS
                    | StatusCode::BAD_GATEWAY
                    | StatusCode::SERVICE_UNAVAILABLE
                    | StatusCode::GATEWAY_TIMEOUT => tonic::Code::Unavailable,
                    StatusCode::BAD_REQUEST => tonic::Code::Internal,
                    _ => tonic::Code::Unknown,
                };
                // A wait the layer in front asked for (the rate limits) is kept.
                let wait = response
                    .headers()
                    .get(header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok());
                error::grpc_with_retry(
                    tonic::Status::new(code, format!("{method}: HTTP {s}")),
                    wait,
                )
            }
        };
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.as_bytes().to_vec());
    let bare = content_type
        .as_deref()
        .is_none_or(|t| t.starts_with(b"text/plain"));
    if status == StatusCode::PAYLOAD_TOO_LARGE && bare {
        return error::ApiError::PayloadTooLarge.into_response();
    }
    if !api || !bare {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let title = status.canonical_reason().unwrap_or("Error");
    let detail = if text.is_empty() {
        title.to_lowercase()
    } else {
        text
    };
    let kind = title.to_lowercase().replace(' ', "-");
    let mut answer = error::problem(status, &kind, title, detail);
    // Every header but the body's own stays (Allow on a 405, Retry-After, cookies).
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            answer.headers_mut().append(name.clone(), value.clone());
        }
    }
    answer
}

/// See `auth::csrf`: a state-changing request another site's page makes a browser send is
/// refused before any handler or server function sees it.
async fn refuse_cross_site(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // The identity provider's form post comes from its site by design; it is bound to the
    // browser by `state` (SAML: `RelayState`) and a cookie only a post from this site carries
    // (api::sso::form_post, api::sso::saml).
    if [
        crate::api::sso::form_post::PATH,
        crate::auth::saml::ACS_PATH,
    ]
    .contains(&req.uri().path())
    {
        return next.run(req).await;
    }
    match csrf::check(
        req.method(),
        req.headers(),
        state.cookies,
        &state.public_url,
    ) {
        Ok(()) => next.run(req).await,
        Err(why) => {
            tracing::warn!(method = %req.method(), uri = %redacted(req.uri()), why, "refused a cross-site request");
            error::ApiError::Forbidden(format!("cross-site request refused: {why}")).into_response()
        }
    }
}

/// Query parameters whose names contain one of these have their values replaced in logs:
/// invitation and reset links carry `token`, and no secret should outlive the request in a log.
const SECRET_PARAMS: &[&str] = &[
    "token",
    "ticket",
    "code",
    "password",
    "passwd",
    "secret",
    "key",
    "auth",
    "session",
    "signature",
    "sig",
    "jwt",
];

/// The path and query of `uri` with the values of secret-looking parameters `[redacted]`.
pub fn redacted(uri: &Uri) -> String {
    let Some(query) = uri.query() else {
        return uri.path().to_string();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| {
            let name = pair.split_once('=').map_or(pair, |(n, _)| n);
            let lower = name.to_ascii_lowercase();
            if pair.contains('=') && SECRET_PARAMS.iter().any(|s| lower.contains(s)) {
                format!("{name}=[redacted]")
            } else {
                pair.to_string()
            }
        })
        .collect();
    format!("{}?{}", uri.path(), pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_leave_logged_uris() {
        let r = |s: &str| redacted(&s.parse::<Uri>().unwrap());
        assert_eq!(r("/welcome?token=demo.abc"), "/welcome?token=[redacted]");
        assert_eq!(
            r("/x?a=1&Refresh_Token=s&api_key=k&b=2&code"),
            "/x?a=1&Refresh_Token=[redacted]&api_key=[redacted]&b=2&code"
        );
        assert_eq!(
            r("/login?error=credentials&email=a%40b"),
            "/login?error=credentials&email=a%40b"
        );
        assert_eq!(r("/status"), "/status");
    }

    #[test]
    fn the_bundle_is_kept_a_year_under_this_builds_version_only() {
        let v = "0123456789abcdef";
        let policy = |p: &str| cache_control(p, None, v);
        assert_eq!(policy("/pkg/0123456789abcdef/devpulse.wasm"), Some(FOREVER));
        assert_eq!(
            policy("/pkg/fedcba9876543210/devpulse.wasm"),
            Some("no-cache")
        );
        assert_eq!(policy("/pkg/devpulse.wasm"), Some("no-cache"));
        let file = |p: &str| unversioned(&p.parse::<Uri>().unwrap()).map(|u| u.to_string());
        assert_eq!(
            file("/pkg/fedcba9876543210/snippets/x/inline0.js").as_deref(),
            Some("/pkg/snippets/x/inline0.js")
        );
        assert_eq!(file("/pkg/devpulse.wasm"), None);
        assert_eq!(file("/pkg/not-a-version/devpulse.wasm"), None);
    }

    #[test]
    fn a_new_bundle_is_a_new_version() {
        let dir = std::env::temp_dir().join(format!("bundle-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("pkg")).unwrap();
        std::fs::write(dir.join("pkg/devpulse.wasm"), b"one").unwrap();
        let one = bundle_version(&dir);
        assert_eq!(one.len(), 16);
        assert_eq!(bundle_version(&dir), one);
        std::fs::write(dir.join("pkg/devpulse.wasm"), b"two").unwrap();
        assert_ne!(bundle_version(&dir), one);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
