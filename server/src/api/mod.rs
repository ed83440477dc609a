//! The JSON API under `/api/v1`. Every route is registered through [`ApiRouter::route`],
//! which demands an [`Access`]: there is no way to add a route without saying who may call it,
//! and the table of routes is kept so tests can try every one of them as every role.

pub mod admin;
pub mod api_keys;
pub mod auth;
pub mod dashboard;
pub mod extract;
pub mod imports;
pub mod ingest;
pub mod metrics;
pub mod prices;
pub mod teams;
pub mod users;

use axum::{
    extract::{ConnectInfo, Request, State},
    http::Method,
    middleware::Next,
    response::{IntoResponse, Response},
    routing::{delete, get, post, put, MethodRouter},
    Router,
};
use serde::Serialize;

use crate::{
    auth::{authenticate, authorize, Access},
    error::ApiError,
    state::AppState,
};

#[derive(Clone, Debug, Serialize)]
pub struct RouteInfo {
    pub method: String,
    pub path: &'static str,
    pub access: String,
}

pub struct ApiRouter {
    routes: Vec<(Method, &'static str, Access, MethodRouter<AppState>)>,
}

impl ApiRouter {
    pub fn new() -> Self {
        ApiRouter { routes: Vec::new() }
    }

    pub fn route(
        mut self,
        method: Method,
        path: &'static str,
        access: Access,
        handler: MethodRouter<AppState>,
    ) -> Self {
        self.routes.push((method, path, access, handler));
        self
    }

    pub fn table(&self) -> Vec<RouteInfo> {
        self.routes
            .iter()
            .map(|(m, p, a, _)| RouteInfo {
                method: m.to_string(),
                path: p,
                access: a.describe(),
            })
            .collect()
    }

    /// Every handler wrapped in the gate that enforces its declared access.
    pub fn into_router(self, state: &AppState) -> Router<AppState> {
        self.routes
            .into_iter()
            .fold(Router::new(), |router, (_, path, access, handler)| {
                let gate = axum::middleware::from_fn_with_state(
                    Gate {
                        state: state.clone(),
                        access,
                    },
                    gate,
                );
                router.route(path, handler.layer(gate))
            })
    }
}

impl Default for ApiRouter {
    fn default() -> Self {
        Self::new()
    }
}

/// The API's routes and who may call each: for tests and `server routes`.
pub fn route_table() -> Vec<RouteInfo> {
    routes().table()
}

#[derive(Clone)]
struct Gate {
    state: AppState,
    access: Access,
}

/// Authenticates, authorises, and hands the caller to the handler as `Extension<Caller>`.
async fn gate(
    State(Gate { state, access }): State<Gate>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0);
    let caller = if access == Access::Public {
        // Public routes still learn who calls when they can (logout, for one).
        authenticate(&state.store, &state.keys, req.headers(), peer)
            .await
            .ok()
            .flatten()
    } else {
        match authenticate(&state.store, &state.keys, req.headers(), peer).await {
            Ok(c) => c,
            Err(e) => return refuse(&req, e),
        }
    };
    if let Err(e) = authorize(caller.as_ref(), access) {
        return refuse(&req, e);
    }
    if let Some(caller) = caller {
        req.extensions_mut().insert(caller);
    }
    next.run(req).await
}

/// A refusal in the caller's protocol: a gRPC client (OTLP/gRPC) reads a gRPC status, not
/// problem+json.
fn refuse(req: &Request, e: ApiError) -> Response {
    let grpc = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/grpc"));
    if grpc {
        e.into_grpc_response()
    } else {
        e.into_response()
    }
}

/// Every API route of the application, with its access rule.
pub fn routes() -> ApiRouter {
    use crate::auth::Permission::*;
    use Access::*;
    ApiRouter::new()
        // The live feed. Today it carries only the installation's database activity for the
        // public status page; metric subscriptions will declare their own permission.
        .route(Method::GET, "/ws", Public, get(crate::live::ws_handler))
        .route(Method::POST, "/auth/login", Public, post(auth::login_form))
        .route(
            Method::POST,
            "/api/v1/hooks/claude-code",
            Ingest,
            post(ingest::hook::hook),
        )
        .route(
            Method::POST,
            "/api/v1/ingest/batch",
            Ingest,
            post(ingest::batch::batch),
        )
        .route(
            Method::POST,
            "/v1/metrics",
            Ingest,
            post(ingest::otlp_http::otlp_metrics),
        )
        .route(
            Method::POST,
            "/v1/logs",
            Ingest,
            post(ingest::otlp_http::otlp_logs),
        )
        .route(
            Method::POST,
            "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
            Ingest,
            post(ingest::otlp_grpc::otlp_grpc_logs),
        )
        .route(
            Method::POST,
            "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
            Ingest,
            post(ingest::otlp_grpc::otlp_grpc_metrics),
        )
        .route(
            Method::POST,
            "/api/v1/imports",
            Ingest,
            post(imports::create),
        )
        .route(
            Method::POST,
            "/mcp",
            Read(crate::auth::permissions::READ_METRICS),
            post(crate::mcp::handler),
        )
        .route(
            Method::GET,
            "/mcp",
            Read(crate::auth::permissions::READ_METRICS),
            get(crate::mcp::handler),
        )
        .route(
            Method::DELETE,
            "/mcp",
            Read(crate::auth::permissions::READ_METRICS),
            delete(crate::mcp::handler),
        )
        .route(Method::GET, "/api/v1/imports", Ingest, get(imports::list))
        .route(
            Method::GET,
            "/api/v1/imports/{id}",
            Ingest,
            get(imports::get),
        )
        .route(
            Method::POST,
            "/api/v1/imports/{id}/finish",
            Ingest,
            post(imports::finish),
        )
        .route(
            Method::DELETE,
            "/api/v1/imports/{id}",
            Ingest,
            delete(imports::rollback),
        )
        .route(
            Method::GET,
            "/api/v1/prices",
            Authenticated,
            get(prices::list),
        )
        .route(
            Method::PUT,
            "/api/v1/prices/{model}",
            Permission(DashboardManage),
            put(prices::set),
        )
        .route(
            Method::DELETE,
            "/api/v1/prices/{model}",
            Permission(DashboardManage),
            delete(prices::reset),
        )
        .route(
            Method::POST,
            "/api/v1/metrics/sessions",
            Ingest,
            post(metrics::start_session),
        )
        .route(
            Method::GET,
            "/api/v1/metrics/sessions",
            Read(crate::auth::permissions::READ_METRICS),
            get(metrics::list_sessions),
        )
        .route(
            Method::PUT,
            "/api/v1/metrics/sessions/{id}",
            Ingest,
            put(metrics::end_session),
        )
        .route(
            Method::GET,
            "/api/v1/metrics/sessions/{id}",
            Read(crate::auth::permissions::READ_METRICS),
            get(metrics::get_session),
        )
        .route(
            Method::POST,
            "/api/v1/metrics/tools",
            Ingest,
            post(metrics::record_tool),
        )
        .route(
            Method::GET,
            "/api/v1/metrics/tools",
            Read(crate::auth::permissions::READ_METRICS),
            get(metrics::list_tools),
        )
        .route(
            Method::GET,
            "/api/v1/dashboard/summary",
            Read(crate::auth::permissions::READ_METRICS),
            get(dashboard::summary),
        )
        .route(
            Method::POST,
            "/auth/logout",
            Public,
            post(auth::logout_form),
        )
        .route(
            Method::POST,
            "/auth/welcome",
            Public,
            post(auth::redeem_link_form),
        )
        .route(
            Method::POST,
            "/api/v1/auth/links/inspect",
            Public,
            post(auth::inspect_link),
        )
        .route(
            Method::POST,
            "/api/v1/auth/links/redeem",
            Public,
            post(auth::redeem_link),
        )
        .route(
            Method::POST,
            "/api/v1/auth/login",
            Public,
            post(auth::login),
        )
        .route(
            Method::POST,
            "/api/v1/auth/refresh",
            Public,
            post(auth::refresh),
        )
        .route(
            Method::POST,
            "/api/v1/auth/logout",
            Public,
            post(auth::logout),
        )
        .route(
            Method::POST,
            "/api/v1/auth/logout-all",
            Authenticated,
            post(auth::logout_all),
        )
        .route(
            Method::GET,
            "/api/v1/profile",
            Authenticated,
            get(auth::profile),
        )
        .route(
            Method::PUT,
            "/api/v1/profile",
            Permission(ProfileEdit),
            put(auth::update_profile),
        )
        .route(
            Method::POST,
            "/api/v1/profile/password",
            Authenticated,
            post(auth::change_password),
        )
        .route(
            Method::GET,
            "/api/v1/api-keys",
            Authenticated,
            get(api_keys::list),
        )
        .route(
            Method::POST,
            "/api/v1/api-keys",
            Authenticated,
            post(api_keys::create),
        )
        .route(
            Method::DELETE,
            "/api/v1/api-keys/{id}",
            Authenticated,
            delete(api_keys::revoke),
        )
        .route(
            Method::GET,
            "/api/v1/users",
            Permission(UserManage),
            get(users::list),
        )
        .route(
            Method::POST,
            "/api/v1/users",
            Permission(UserManage),
            post(users::create),
        )
        .route(
            Method::POST,
            "/api/v1/users/{id}/password-link",
            Permission(UserManage),
            post(users::password_link),
        )
        .route(
            Method::PUT,
            "/api/v1/users/{id}/role",
            Permission(UserManage),
            put(users::set_role),
        )
        .route(
            Method::POST,
            "/api/v1/users/{id}/deactivate",
            Permission(UserManage),
            post(users::deactivate),
        )
        .route(
            Method::POST,
            "/api/v1/users/{id}/reactivate",
            Permission(UserManage),
            post(users::reactivate),
        )
        .route(
            Method::GET,
            "/api/v1/teams",
            Authenticated,
            get(teams::list),
        )
        .route(
            Method::POST,
            "/api/v1/teams",
            Permission(UserManage),
            post(teams::create),
        )
        .route(
            Method::GET,
            "/api/v1/teams/{id}",
            Authenticated,
            get(teams::get),
        )
        .route(
            Method::PUT,
            "/api/v1/teams/{id}",
            Permission(UserManage),
            put(teams::rename),
        )
        .route(
            Method::DELETE,
            "/api/v1/teams/{id}",
            Permission(UserManage),
            delete(teams::delete),
        )
        .route(
            Method::PUT,
            "/api/v1/teams/{id}/members/{user_id}",
            Permission(UserManage),
            put(teams::put_member),
        )
        .route(
            Method::DELETE,
            "/api/v1/teams/{id}/members/{user_id}",
            Permission(UserManage),
            delete(teams::remove_member),
        )
        .route(
            Method::GET,
            "/api/v1/audit",
            Permission(UserManage),
            get(users::audit),
        )
        .route(
            Method::GET,
            "/api/v1/admin/tenants",
            Permission(TenantsManage),
            get(admin::list),
        )
        .route(
            Method::POST,
            "/api/v1/admin/tenants",
            Permission(TenantsManage),
            post(admin::create),
        )
        .route(
            Method::POST,
            "/api/v1/admin/tenants/{slug}/suspend",
            Permission(TenantsManage),
            post(admin::suspend),
        )
        .route(
            Method::POST,
            "/api/v1/admin/tenants/{slug}/reactivate",
            Permission(TenantsManage),
            post(admin::reactivate),
        )
        .route(
            Method::DELETE,
            "/api/v1/admin/tenants/{slug}",
            Permission(TenantsManage),
            delete(admin::delete),
        )
}
