//! The JSON API under `/api/v1`. Every route is registered through [`ApiRouter::route`],
//! which demands an [`Access`]: there is no way to add a route without saying who may call it,
//! and the table of routes is kept so tests can try every one of them as every role.

pub mod account;
pub mod admin;
pub mod alerts;
pub mod api_keys;
pub mod audit;
pub mod boards;
pub mod budgets;
pub mod csv;
pub mod dashboard;
pub mod exports;
pub mod extract;
pub mod gdpr;
pub mod imports;
pub mod ingest;
pub mod links;
pub mod metrics;
pub mod mfa;
pub mod openapi;
pub mod prices;
pub mod reports;
pub mod settings;
pub mod sso;
pub mod support;
pub mod teams;
pub mod usage;
pub mod users;
pub mod webhooks;

use axum::{
    extract::{Request, State},
    handler::Handler,
    http::Method,
    middleware::Next,
    response::{IntoResponse, Response},
    routing::{self, MethodRouter},
    Router,
};
use serde::Serialize;

use crate::{
    auth::{authenticate, authorize, Access, ClientIp},
    error::ApiError,
    state::AppState,
};

/// The largest body a public route takes. Sign-in, refresh, sign-out and password links carry
/// a few short fields; anyone may call these without signing in, so none of them should make
/// the server buffer the general limit's megabytes.
pub const PUBLIC_BODY_LIMIT: usize = 16 * 1024;

#[derive(Clone, Debug, Serialize)]
pub struct RouteInfo {
    pub method: String,
    pub path: &'static str,
    pub access: String,
}

struct Entry {
    method: Method,
    path: &'static str,
    access: Access,
    handler: MethodRouter<AppState>,
    /// The handler's name (`alerts::create`), the operation's summary in the OpenAPI document.
    name: &'static str,
    doc: openapi::Doc,
}

pub struct ApiRouter {
    routes: Vec<Entry>,
}

impl ApiRouter {
    pub fn new() -> Self {
        ApiRouter { routes: Vec::new() }
    }

    fn route<H>(
        mut self,
        method: Method,
        path: &'static str,
        access: Access,
        handler: MethodRouter<AppState>,
    ) -> Self {
        self.routes.push(Entry {
            method,
            path,
            access,
            handler,
            name: openapi::handler_name::<H>(),
            doc: openapi::Doc::default(),
        });
        self
    }

    pub fn get<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        access: Access,
        handler: H,
    ) -> Self {
        self.route::<H>(Method::GET, path, access, routing::get(handler))
    }

    pub fn post<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        access: Access,
        handler: H,
    ) -> Self {
        self.route::<H>(Method::POST, path, access, routing::post(handler))
    }

    pub fn put<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        access: Access,
        handler: H,
    ) -> Self {
        self.route::<H>(Method::PUT, path, access, routing::put(handler))
    }

    pub fn delete<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        access: Access,
        handler: H,
    ) -> Self {
        self.route::<H>(Method::DELETE, path, access, routing::delete(handler))
    }

    /// Documents the route just added (its body, query and answer) for the OpenAPI document.
    pub fn doc(mut self, doc: impl FnOnce(openapi::Doc) -> openapi::Doc) -> Self {
        let last = self.routes.last_mut().expect("doc() follows a route");
        last.doc = doc(std::mem::take(&mut last.doc));
        self
    }

    pub fn table(&self) -> Vec<RouteInfo> {
        self.routes
            .iter()
            .map(|e| RouteInfo {
                method: e.method.to_string(),
                path: e.path,
                access: e.access.describe(),
            })
            .collect()
    }

    /// Every handler wrapped in the gate that enforces its declared access; public routes
    /// also in the small body limit.
    pub fn into_router(self, state: &AppState) -> Router<AppState> {
        self.routes.into_iter().fold(Router::new(), |router, e| {
            let gate = axum::middleware::from_fn_with_state(
                Gate {
                    state: state.clone(),
                    access: e.access,
                },
                gate,
            );
            let handler = e.handler.layer(gate);
            let handler = if e.access == Access::Public {
                handler.layer(tower_http::limit::RequestBodyLimitLayer::new(
                    PUBLIC_BODY_LIMIT,
                ))
            } else {
                handler
            };
            router.route(e.path, handler)
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
    let ip = req
        .extensions()
        .get::<ClientIp>()
        .copied()
        .unwrap_or(ClientIp(None));
    // Browsers cannot set headers on a WebSocket request: there, a single-use ticket in the
    // query (`?token=`) stands in for the session that asked for it.
    let ticket = req
        .headers()
        .get(axum::http::header::UPGRADE)
        .is_some_and(|u| u.as_bytes().eq_ignore_ascii_case(b"websocket"))
        .then(|| {
            form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
                .find(|(k, _)| k == "token")
                .map(|(_, v)| v.into_owned())
        })
        .flatten();
    let caller = if let Some(ticket) = ticket {
        let agent = req
            .headers()
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        match crate::auth::redeem_ticket(&state.store, &ticket, ip, agent).await {
            Ok(c) => Some(c),
            Err(e) => return refuse(&req, e),
        }
    } else if access == Access::Public {
        // Public routes still learn who calls when they can (logout, for one).
        authenticate(&state.store, &state.keys, state.cookies, req.headers(), ip)
            .await
            .ok()
            .flatten()
    } else {
        match authenticate(&state.store, &state.keys, state.cookies, req.headers(), ip).await {
            Ok(c) => c,
            Err(e) => return refuse(&req, e),
        }
    };
    if let Err(e) = authorize(caller.as_ref(), access) {
        return refuse(&req, e);
    }
    // A support access changes nothing: beyond its read rule, it may use GET alone (a few
    // routes under a read rule write something small, such as one's home board).
    let reads = matches!(*req.method(), Method::GET | Method::HEAD);
    if caller.as_ref().is_some_and(|c| c.is_support()) && !reads && access != Access::Public {
        return refuse(
            &req,
            ApiError::Forbidden("support access is read-only".into()),
        );
    }
    // Ingestion refused as a whole counts for the workspace's usage page.
    let ingesting = caller
        .as_ref()
        .and_then(|c| c.tenant.as_ref())
        .filter(|_| access == Access::Ingest)
        .map(|t| t.scope().clone());
    if let Some(caller) = caller {
        req.extensions_mut().insert(caller);
    }
    let response = next.run(req).await;
    if let Some(scope) = ingesting {
        if let Some(reason) = crate::ingest::rejections::reason_for(response.status().as_u16()) {
            state.rejections.record(&scope, reason, 1);
        }
    }
    response
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
    // Reading metrics: whoever holds one of the metrics.view_* permissions, each seeing what
    // that permission covers.
    const READ: Access = Read(crate::auth::permissions::READ_METRICS);
    // The dashboard: every role that has one, each seeing what `store::dashboard::Reader`
    // lets it (a viewer: totals with no names).
    const DASHBOARD: Access = Read(types::dashboard::DASHBOARD_READ);
    // Raw events: whoever sees people by name (each the people they see), and the TRD's
    // exporters.
    const EXPORT: Access = Read(types::reports::EXPORTS);
    ApiRouter::new()
        .get("/api/v1/openapi.json", Public, openapi::spec)
        .doc(|d| d.answers_with("200", "This document (OpenAPI 3.1)", Some(openapi::JSON)))
        // The live feeds: the installation's database activity for the public status page, and
        // the caller's tenant's metrics_updates for those who may read metrics.
        .get("/ws", Public, crate::live::status_ws)
        .get("/ws/metrics", crate::live::FEED, crate::live::metrics_ws)
        // The sign-in forms post under the refresh cookie's path, so that a sign-in to another
        // workspace can keep the session it replaces waiting (`auth::workspaces`); the older
        // paths stay for pages rendered before.
        .post("/api/v1/auth/form/login", Public, account::login_form)
        .post("/api/v1/auth/form/mfa", Public, mfa::second_step_form)
        .post("/api/v1/auth/form/welcome", Public, links::redeem_link_form)
        .post("/auth/login", Public, account::login_form)
        .post("/auth/mfa", Public, mfa::second_step_form)
        .post("/api/v1/auth/mfa", Public, mfa::second_step)
        .post("/api/v1/auth/mfa/enrol", Public, mfa::enrol)
        .get("/auth/sso/start", Public, sso::start)
        .get("/auth/sso/callback", Public, sso::callback)
        .post(sso::form_post::PATH, Public, sso::form_post::callback)
        .get("/api/v1/sso", Permission(UserManage), sso::get_config)
        .put("/api/v1/sso", Permission(UserManage), sso::put_config)
        .delete("/api/v1/sso", Permission(UserManage), sso::delete_config)
        .get("/auth/sso/try", Permission(UserManage), sso::try_start)
        .get(
            "/api/v1/sso/trials/{id}",
            Permission(UserManage),
            sso::get_trial,
        )
        .post("/api/v1/hooks/claude-code", Ingest, ingest::hook::hook)
        .post("/api/v1/ingest/batch", Ingest, ingest::batch::batch)
        .post("/v1/metrics", Ingest, ingest::otlp_http::otlp_metrics)
        .post("/v1/logs", Ingest, ingest::otlp_http::otlp_logs)
        .post(
            "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
            Ingest,
            ingest::otlp_grpc::otlp_grpc_logs,
        )
        .post(
            "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
            Ingest,
            ingest::otlp_grpc::otlp_grpc_metrics,
        )
        .post("/api/v1/imports", Ingest, imports::create)
        .post("/mcp", READ, crate::mcp::handler)
        .get("/mcp", READ, crate::mcp::handler)
        .delete("/mcp", READ, crate::mcp::handler)
        .get("/api/v1/imports", Ingest, imports::list)
        .get("/api/v1/imports/{id}", Ingest, imports::get)
        .post("/api/v1/imports/{id}/finish", Ingest, imports::finish)
        .delete("/api/v1/imports/{id}", Ingest, imports::rollback)
        .get("/api/v1/import-batches", Authenticated, imports::batches)
        .delete(
            "/api/v1/import-batches/{id}",
            Authenticated,
            imports::roll_back_batch,
        )
        .get("/api/v1/prices", Authenticated, prices::list)
        .put(
            "/api/v1/prices/{model}",
            Permission(DashboardManage),
            prices::set,
        )
        .delete(
            "/api/v1/prices/{model}",
            Permission(DashboardManage),
            prices::reset,
        )
        .post("/api/v1/metrics/sessions", Ingest, metrics::start_session)
        .get("/api/v1/metrics/sessions", READ, metrics::list_sessions)
        .put(
            "/api/v1/metrics/sessions/{id}",
            Ingest,
            metrics::end_session,
        )
        .doc(|d| d.path::<String>("id"))
        .get("/api/v1/metrics/sessions/{id}", READ, metrics::get_session)
        .doc(|d| d.path::<String>("id"))
        .post("/api/v1/metrics/tools", Ingest, metrics::record_tool)
        .get("/api/v1/metrics/tools", READ, metrics::list_tools)
        .get("/api/v1/dashboard/summary", READ, dashboard::summary)
        .post("/api/v1/ws/ticket", crate::live::FEED, crate::live::ticket)
        .get("/api/v1/alerts", DASHBOARD, alerts::list)
        .post("/api/v1/alerts", Authenticated, alerts::create)
        .get("/api/v1/alerts/history", DASHBOARD, alerts::history)
        .get("/api/v1/anomalies", DASHBOARD, alerts::anomalies)
        .get("/api/v1/baselines", DASHBOARD, dashboard::baselines)
        .get("/api/v1/exports/events", EXPORT, exports::events)
        // Reports: printing and scheduling are exports; what a report sent is read by its
        // owner, its recipients and tenant admins (`store::reports`).
        .get("/api/v1/reports/pdf", EXPORT, reports::pdf)
        .get("/api/v1/reports/export", EXPORT, reports::export)
        .get("/api/v1/reports", DASHBOARD, reports::list)
        .post("/api/v1/reports", EXPORT, reports::create)
        .put("/api/v1/reports/{id}", EXPORT, reports::update)
        .delete("/api/v1/reports/{id}", EXPORT, reports::delete)
        .post("/api/v1/reports/{id}/send", EXPORT, reports::send)
        .get(
            "/api/v1/reports/{id}/runs/{run}/{file}",
            DASHBOARD,
            reports::file,
        )
        .put("/api/v1/alerts/{id}", Authenticated, alerts::update)
        .delete("/api/v1/alerts/{id}", Authenticated, alerts::delete)
        .put(
            "/api/v1/alerts/{id}/subscription",
            Authenticated,
            alerts::subscribe,
        )
        .get("/api/v1/notifications", Authenticated, alerts::inbox)
        .post("/api/v1/notifications/read", Authenticated, alerts::read)
        .get("/api/v1/webhooks", Permission(UserManage), webhooks::list)
        .post("/api/v1/webhooks", Permission(UserManage), webhooks::create)
        .put(
            "/api/v1/webhooks/{id}",
            Permission(UserManage),
            webhooks::change,
        )
        .delete(
            "/api/v1/webhooks/{id}",
            Permission(UserManage),
            webhooks::delete,
        )
        .post(
            "/api/v1/webhooks/{id}/test",
            Permission(UserManage),
            webhooks::test,
        )
        .get(
            "/api/v1/webhooks/{id}/deliveries",
            Permission(UserManage),
            webhooks::deliveries,
        )
        .get("/api/v1/budgets", DASHBOARD, budgets::status)
        .post("/api/v1/budgets", Permission(UserManage), budgets::set)
        .delete(
            "/api/v1/budgets/{id}",
            Permission(UserManage),
            budgets::delete,
        )
        .get("/api/v1/dashboard/overview", DASHBOARD, dashboard::overview)
        .get("/api/v1/dashboard/choices", DASHBOARD, dashboard::choices)
        .get("/api/v1/dashboard/charts", DASHBOARD, dashboard::charts)
        .get("/api/v1/dashboard/sessions", DASHBOARD, dashboard::sessions)
        .get(
            "/api/v1/dashboard/sessions/{id}",
            DASHBOARD,
            dashboard::session,
        )
        .doc(|d| d.path::<String>("id"))
        .get("/api/v1/dashboard/config", DASHBOARD, boards::list)
        .post("/api/v1/dashboard/config", Authenticated, boards::create)
        .get("/api/v1/dashboard/config/{id}", DASHBOARD, boards::get)
        .put("/api/v1/dashboard/config/{id}", Authenticated, boards::save)
        .delete(
            "/api/v1/dashboard/config/{id}",
            Authenticated,
            boards::delete,
        )
        .put(
            "/api/v1/dashboard/config/{id}/audience",
            Permission(DashboardManage),
            boards::publish,
        )
        .put("/api/v1/dashboard/home", DASHBOARD, boards::set_home)
        .get("/api/v1/gdpr/requests", Permission(UserManage), gdpr::list)
        .get(
            "/api/v1/gdpr/requests/{id}/archive",
            Permission(UserManage),
            gdpr::archive,
        )
        .post(
            "/api/v1/users/{id}/export",
            Permission(UserManage),
            gdpr::export,
        )
        .post(
            "/api/v1/users/{id}/erase",
            Permission(UserManage),
            gdpr::erase,
        )
        .get(
            "/api/v1/settings",
            Permission(UserManage),
            settings::workspace,
        )
        .put(
            "/api/v1/settings/name",
            Permission(UserManage),
            settings::rename,
        )
        .put(
            "/api/v1/settings/time-zone",
            Permission(UserManage),
            settings::set_time_zone,
        )
        .put(
            "/api/v1/settings/people",
            Permission(UserManage),
            settings::set_people,
        )
        .get(
            "/api/v1/settings/retention",
            Permission(UserManage),
            settings::retention,
        )
        .put(
            "/api/v1/settings/retention",
            Permission(UserManage),
            settings::set_retention,
        )
        .post(
            "/api/v1/settings/retention/preview",
            Permission(UserManage),
            settings::preview_retention,
        )
        .post("/auth/logout", Public, account::refresh::logout_moved)
        .post("/auth/welcome", Public, links::redeem_link_form)
        .post("/api/v1/auth/links/inspect", Public, links::inspect_link)
        .post("/api/v1/auth/links/redeem", Public, links::redeem_link)
        .post("/api/v1/auth/login", Public, account::login)
        .post("/auth/forgot", Public, account::forgot::forgot_form)
        .post(
            "/api/v1/auth/password/forgot",
            Public,
            account::forgot::forgot,
        )
        .post("/api/v1/auth/refresh", Public, account::refresh::refresh)
        .post("/api/v1/auth/logout", Public, account::refresh::logout)
        .get(
            "/api/v1/auth/workspaces",
            Authenticated,
            account::workspaces::list,
        )
        .post(
            "/api/v1/auth/switch",
            Authenticated,
            account::workspaces::switch,
        )
        .post(
            "/api/v1/auth/logout-all",
            Authenticated,
            account::refresh::logout_all,
        )
        .get("/api/v1/profile", Authenticated, account::profile::profile)
        // The TRD's paths for the same things.
        .get(
            "/api/v1/auth/profile",
            Authenticated,
            account::profile::profile,
        )
        .put(
            "/api/v1/auth/profile",
            Permission(ProfileEdit),
            account::profile::update_profile,
        )
        .get("/api/v1/admin/users", Permission(UserManage), users::list)
        .put(
            "/api/v1/admin/users/{id}",
            Permission(UserManage),
            users::update,
        )
        .put(
            "/api/v1/profile",
            Permission(ProfileEdit),
            account::profile::update_profile,
        )
        .post(
            "/api/v1/profile/password",
            Authenticated,
            account::profile::change_password,
        )
        .put(
            "/api/v1/profile/theme",
            Authenticated,
            account::profile::set_theme,
        )
        .get("/api/v1/profile/mfa", Authenticated, mfa::status)
        .delete("/api/v1/profile/mfa", Authenticated, mfa::turn_off)
        .post("/api/v1/profile/mfa/totp", Authenticated, mfa::begin)
        .post(
            "/api/v1/profile/mfa/totp/confirm",
            Authenticated,
            mfa::confirm,
        )
        .post(
            "/api/v1/profile/mfa/recovery-codes",
            Authenticated,
            mfa::renew_recovery_codes,
        )
        .get(
            "/api/v1/settings/mfa",
            Permission(UserManage),
            mfa::get_rule,
        )
        .put(
            "/api/v1/settings/mfa",
            Permission(UserManage),
            mfa::set_rule,
        )
        .delete("/api/v1/users/{id}/mfa", Permission(UserManage), mfa::reset)
        .get("/api/v1/api-keys", Authenticated, api_keys::list)
        .post("/api/v1/api-keys", Authenticated, api_keys::create)
        .delete("/api/v1/api-keys/{id}", Authenticated, api_keys::revoke)
        .get("/api/v1/users", Permission(UserManage), users::list)
        .post("/api/v1/users", Permission(UserManage), users::create)
        .post(
            "/api/v1/users/bulk-invite",
            Permission(UserManage),
            users::invite_many,
        )
        .post("/api/v1/users/bulk", Permission(UserManage), users::bulk)
        .post(
            "/api/v1/users/{id}/password-link",
            Permission(UserManage),
            users::password_link,
        )
        .put(
            "/api/v1/users/{id}/role",
            Permission(UserManage),
            users::set_role,
        )
        .post(
            "/api/v1/users/{id}/deactivate",
            Permission(UserManage),
            users::deactivate,
        )
        .post(
            "/api/v1/users/{id}/reactivate",
            Permission(UserManage),
            users::reactivate,
        )
        .get("/api/v1/teams", Authenticated, teams::list)
        .post("/api/v1/teams", Permission(UserManage), teams::create)
        .get("/api/v1/teams/{id}", Authenticated, teams::get)
        .put("/api/v1/teams/{id}", Permission(UserManage), teams::rename)
        .delete("/api/v1/teams/{id}", Permission(UserManage), teams::delete)
        .put(
            "/api/v1/teams/{id}/members/{user_id}",
            Permission(UserManage),
            teams::put_member,
        )
        .delete(
            "/api/v1/teams/{id}/members/{user_id}",
            Permission(UserManage),
            teams::remove_member,
        )
        .get("/api/v1/audit", Permission(UserManage), audit::audit)
        .get("/api/v1/usage", Permission(UserManage), usage::usage)
        .get("/api/v1/emails", Permission(UserManage), users::emails)
        .get("/api/v1/admin/jobs", Permission(TenantsManage), admin::jobs)
        .post(
            "/api/v1/admin/jobs/{id}/retry",
            Permission(TenantsManage),
            admin::retry_job,
        )
        .doc(|d| d.path::<i64>("id"))
        .get(
            "/api/v1/admin/tenants",
            Permission(TenantsManage),
            admin::list,
        )
        .post(
            "/api/v1/admin/tenants",
            Permission(TenantsManage),
            admin::create,
        )
        .post(
            "/api/v1/admin/tenants/{slug}/suspend",
            Permission(TenantsManage),
            admin::suspend,
        )
        .post(
            "/api/v1/admin/tenants/{slug}/reactivate",
            Permission(TenantsManage),
            admin::reactivate,
        )
        .put(
            "/api/v1/admin/tenants/{slug}",
            Permission(TenantsManage),
            admin::rename,
        )
        .delete(
            "/api/v1/admin/tenants/{slug}",
            Permission(TenantsManage),
            admin::delete,
        )
        .get(
            "/api/v1/admin/health",
            Permission(TenantsManage),
            admin::health,
        )
        .post(
            "/api/v1/admin/tenants/{slug}/support",
            Permission(TenantsManage),
            support::begin,
        )
        .get(
            "/api/v1/admin/support",
            Permission(TenantsManage),
            support::list,
        )
        .post("/api/v1/auth/support/end", Public, support::end)
}
