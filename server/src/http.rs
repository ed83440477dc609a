//! The router and the middleware every response passes through.

use std::net::SocketAddr;

use app::{shell, ssr::ServerContext, App};
use axum::{
    extract::DefaultBodyLimit,
    http::{header, HeaderName, HeaderValue, StatusCode},
    response::IntoResponse,
    routing::get,
    Router,
};
use leptos::config::LeptosOptions;
use leptos_axum::{file_and_error_handler_with_context, generate_route_list, LeptosRoutes};
use tower_http::{
    compression::CompressionLayer,
    limit::RequestBodyLimitLayer,
    set_header::SetResponseHeaderLayer,
    trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer},
};
use tracing::Level;

use crate::{
    api,
    auth::{ClientIp, TrustedProxies},
    config::Config,
    error, health,
    state::AppState,
};

pub fn leptos_options(config: &Config, addr: SocketAddr) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("devpulse")
        .site_root(config.site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .build()
}

/// Responses that are not pages (JSON, files, errors) may load nothing at all; pages set
/// their own policy with a per-response script nonce (see `app::shell`).
const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

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
            }),
        };
        move || leptos::prelude::provide_context(cx.clone())
    };
    let routes = generate_route_list(App);
    let leptos_options = state.leptos_options.clone();

    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(api::routes().into_router(&state))
        .leptos_routes_with_context(&state, routes, context.clone(), move || {
            shell(leptos_options.clone())
        })
        .fallback(file_and_error_handler_with_context::<AppState, _>(
            context, shell,
        ))
        // Router::layer wraps everything above it, fallback included; the last one added
        // is the outermost.
        .layer(RequestBodyLimitLayer::new(config.body_limit))
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(axum::middleware::map_response(problem_for_oversized_bodies))
        .layer(CompressionLayer::new())
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
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
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(API_CSP),
        ))
        .layer(axum::middleware::from_fn_with_state(
            std::sync::Arc::new(config.trusted_proxies.clone()),
            resolve_client_ip,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .with_state(state)
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

/// tower-http answers an oversized body with a bare 413; give it the same problem+json
/// shape as every other error.
async fn problem_for_oversized_bodies(
    response: axum::response::Response,
) -> axum::response::Response {
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_problem {
        return error::ApiError::PayloadTooLarge.into_response();
    }
    response
}
