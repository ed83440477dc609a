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
pub mod reference;
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
    response::Response,
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

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
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
                    handler: e.name,
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
    /// The handler's name (`alerts::create`): the span the handler's work runs in.
    handler: &'static str,
}

/// Authenticates, authorises, and hands the caller to the handler as `Extension<Caller>`.
async fn gate(
    State(Gate {
        state,
        access,
        handler,
    }): State<Gate>,
    req: Request,
    next: Next,
) -> Response {
    use tracing::Instrument;
    let span = tracing::info_span!("handler", handler, access = %access.describe());
    admit(state, access, req, next).instrument(span).await
}

async fn admit(state: AppState, access: Access, mut req: Request, next: Next) -> Response {
    // No route takes a NUL character in its path or query, and PostgreSQL would fail on one.
    if let Err(e) = extract::uri_holds_nul(req.uri()) {
        return refuse(&req, e);
    }
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
    e.in_protocol(crate::error::is_grpc(req.headers()))
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
        .doc(|d| d.answers_with("200", "This document (OpenAPI 3.1)", &[openapi::JSON]))
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
        .doc(|d| d.json::<mfa::SecondStep>().answers::<account::SignIn>())
        .post("/api/v1/auth/mfa/enrol", Public, mfa::enrol)
        .doc(|d| {
            d.json::<mfa::ChallengeToken>()
                .answers::<types::mfa::Enrolment>()
        })
        .get("/auth/sso/start", Public, sso::start)
        .doc(|d| {
            d.query::<sso::StartQuery>()
                .answers_with("303", "To the identity provider", &[])
        })
        .get("/auth/sso/callback", Public, sso::callback)
        .doc(|d| {
            d.query::<sso::Callback>()
                .answers_with("303", "Signed in: to the page that asked", &[])
        })
        .post(sso::form_post::PATH, Public, sso::form_post::callback)
        .post(crate::auth::saml::ACS_PATH, Public, sso::saml::acs)
        .get(
            "/auth/saml/{workspace}/metadata",
            Public,
            sso::saml::metadata,
        )
        .doc(|d| {
            d.path::<String>("workspace").answers_with(
                "200",
                "The workspace's SAML service provider metadata",
                &["application/samlmetadata+xml"],
            )
        })
        .get("/api/v1/sso", Permission(UserManage), sso::get_config)
        .doc(|d| d.answers::<types::sso::Settings>().no_content())
        .put("/api/v1/sso", Permission(UserManage), sso::put_config)
        .doc(|d| {
            d.json::<types::sso::Form>()
                .answers::<types::sso::Settings>()
        })
        .delete("/api/v1/sso", Permission(UserManage), sso::delete_config)
        .post(
            "/api/v1/sso/domains/{domain}/verify",
            Permission(UserManage),
            sso::verify_domain,
        )
        .doc(|d| {
            d.path::<String>("domain")
                .answers::<types::sso::DomainProof>()
        })
        .get("/auth/sso/try", Permission(UserManage), sso::try_start)
        .get(
            "/api/v1/sso/trials/{id}",
            Permission(UserManage),
            sso::get_trial,
        )
        .doc(|d| d.answers::<types::sso::Trial>())
        .post("/api/v1/hooks/claude-code", Ingest, ingest::hook::hook)
        .doc(|d| d.body(openapi::JSON, openapi::object()).no_content())
        .post("/api/v1/ingest/batch", Ingest, ingest::batch::batch)
        .doc(|d| {
            d.body(openapi::JSON, openapi::array_of_objects())
                .gives::<serde_json::Value>(
                    "2XX",
                    "Each item's fate (200), or a replay under the same Idempotency-Key",
                )
        })
        .post("/v1/metrics", Ingest, ingest::otlp_http::otlp_metrics)
        .doc(|d| {
            d.body("application/x-protobuf", openapi::bytes())
                .answers_with(
                    "200",
                    "An OTLP ExportMetricsServiceResponse (protobuf, or JSON when sent JSON)",
                    &["application/x-protobuf", "application/json"],
                )
        })
        .post("/v1/logs", Ingest, ingest::otlp_http::otlp_logs)
        .doc(|d| {
            d.body("application/x-protobuf", openapi::bytes())
                .answers_with(
                    "200",
                    "An OTLP ExportLogsServiceResponse (protobuf, or JSON when sent JSON)",
                    &["application/x-protobuf", "application/json"],
                )
        })
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
        .doc(|d| {
            d.json::<imports::NewBatch>()
                .creates::<store::imports::ImportBatch>()
        })
        .post("/mcp", READ, crate::mcp::handler)
        .doc(|d| d.body(openapi::JSON, openapi::object()))
        .get("/mcp", READ, crate::mcp::handler)
        .delete("/mcp", READ, crate::mcp::handler)
        .get("/api/v1/imports", Ingest, imports::list)
        .doc(|d| d.answers::<Vec<store::imports::ImportBatch>>())
        .get("/api/v1/imports/{id}", Ingest, imports::get)
        .doc(|d| d.answers::<store::imports::ImportBatch>())
        .post("/api/v1/imports/{id}/finish", Ingest, imports::finish)
        .doc(|d| {
            d.body(openapi::JSON, openapi::object())
                .answers::<store::imports::ImportBatch>()
        })
        .delete("/api/v1/imports/{id}", Ingest, imports::rollback)
        .doc(|d| d.answers::<store::imports::RolledBack>())
        .get("/api/v1/import-batches", Authenticated, imports::batches)
        .doc(|d| d.answers::<Vec<store::imports::ImportBatch>>())
        .delete(
            "/api/v1/import-batches/{id}",
            Authenticated,
            imports::roll_back_batch,
        )
        .doc(|d| d.answers::<store::imports::RolledBack>())
        .get("/api/v1/prices", Authenticated, prices::list)
        .doc(|d| d.answers::<Vec<prices::PriceRow>>())
        .put(
            "/api/v1/prices/{model}",
            Permission(DashboardManage),
            prices::set,
        )
        .doc(|d| d.json::<prices::SetPrice>().answers::<serde_json::Value>())
        .delete(
            "/api/v1/prices/{model}",
            Permission(DashboardManage),
            prices::reset,
        )
        .doc(|d| d.answers::<serde_json::Value>())
        .post("/api/v1/metrics/sessions", Ingest, metrics::start_session)
        .doc(|d| {
            d.json::<metrics::SessionStart>()
                .gives::<serde_json::Value>("2XX", "Recorded (201), or already recorded (200)")
        })
        .get("/api/v1/metrics/sessions", READ, metrics::list_sessions)
        .doc(|d| d.query::<metrics::Range>().answers::<serde_json::Value>())
        .put(
            "/api/v1/metrics/sessions/{id}",
            Ingest,
            metrics::end_session,
        )
        .doc(|d| {
            d.json::<metrics::SessionEnd>()
                .answers::<serde_json::Value>()
        })
        .get("/api/v1/metrics/sessions/{id}", READ, metrics::get_session)
        .doc(|d| d.answers::<types::metrics::Session>())
        .post("/api/v1/metrics/tools", Ingest, metrics::record_tool)
        .doc(|d| {
            d.json::<metrics::ToolUse>()
                .gives::<serde_json::Value>("2XX", "Recorded (201), or already recorded (200)")
        })
        .get("/api/v1/metrics/tools", READ, metrics::list_tools)
        .doc(|d| d.query::<metrics::Range>().answers::<serde_json::Value>())
        .get("/api/v1/dashboard/summary", READ, dashboard::summary)
        .doc(|d| {
            d.query::<dashboard::SummaryQuery>()
                .answers::<types::metrics::Summary>()
        })
        .post("/api/v1/ws/ticket", crate::live::FEED, crate::live::ticket)
        .get("/api/v1/alerts", DASHBOARD, alerts::list)
        .doc(|d| d.answers::<Vec<types::alerts::Rule>>())
        .post("/api/v1/alerts", Authenticated, alerts::create)
        .doc(|d| {
            d.json::<types::alerts::NewRule>()
                .creates::<types::alerts::Rule>()
        })
        .get("/api/v1/alerts/history", DASHBOARD, alerts::history)
        .doc(|d| {
            d.query::<alerts::HistoryQuery>()
                .answers::<Vec<types::alerts::Event>>()
        })
        .get("/api/v1/anomalies", DASHBOARD, alerts::anomalies)
        .doc(|d| {
            d.query::<alerts::AnomalyQuery>()
                .answers::<Vec<types::anomalies::Anomaly>>()
        })
        .get("/api/v1/baselines", DASHBOARD, dashboard::baselines)
        .doc(|d| d.answers::<types::baselines::Comparison>())
        .get("/api/v1/exports/events", EXPORT, exports::events)
        .doc(|d| {
            d.filters()
                .param::<String>("format", false, "`ndjson` (default), `csv` or `json`")
                .answers_with(
                    "200",
                    "The raw events, streamed",
                    &["application/x-ndjson", "text/csv", "application/json"],
                )
        })
        // Reports: printing and scheduling are exports; what a report sent is read by its
        // owner, its recipients and tenant admins (`store::reports`).
        .get("/api/v1/reports/pdf", EXPORT, reports::pdf)
        .doc(|d| {
            d.filters()
                .param::<String>(
                    "board",
                    false,
                    "The dashboard to print (the caller's home when absent)",
                )
                .answers_with("200", "The dashboard as PDF", &["application/pdf"])
        })
        .get("/api/v1/reports/export", EXPORT, reports::export)
        .doc(|d| {
            d.filters()
                .param::<String>(
                    "board",
                    false,
                    "The dashboard to export (the caller's home when absent)",
                )
                .param::<String>("format", false, "`json` (default) or `csv`")
                .answers_with(
                    "200",
                    "Every widget's numbers, streamed",
                    &[openapi::JSON, "text/csv"],
                )
        })
        .get("/api/v1/reports", DASHBOARD, reports::list)
        .doc(|d| d.answers::<Vec<types::reports::Report>>())
        .post("/api/v1/reports", EXPORT, reports::create)
        .doc(|d| {
            d.json::<types::reports::NewReport>()
                .creates::<types::reports::Report>()
        })
        .put("/api/v1/reports/{id}", EXPORT, reports::update)
        .doc(|d| {
            d.json::<types::reports::NewReport>()
                .answers::<types::reports::Report>()
        })
        .delete("/api/v1/reports/{id}", EXPORT, reports::delete)
        .doc(|d| d.no_content())
        .post("/api/v1/reports/{id}/send", EXPORT, reports::send)
        .doc(|d| d.accepted())
        .get(
            "/api/v1/reports/{id}/runs/{run}/{file}",
            DASHBOARD,
            reports::file,
        )
        .doc(|d| {
            d.path::<String>("file").answers_with(
                "200",
                "A file the sending stored (report.pdf or report.csv)",
                &["application/pdf", "text/csv"],
            )
        })
        .put("/api/v1/alerts/{id}", Authenticated, alerts::update)
        .doc(|d| {
            d.json::<types::alerts::NewRule>()
                .answers::<types::alerts::Rule>()
        })
        .delete("/api/v1/alerts/{id}", Authenticated, alerts::delete)
        .doc(|d| d.no_content())
        .put(
            "/api/v1/alerts/{id}/subscription",
            Authenticated,
            alerts::subscribe,
        )
        .doc(|d| {
            d.json::<Option<types::alerts::Subscription>>()
                .answers::<types::alerts::Rule>()
        })
        .get("/api/v1/notifications", Authenticated, alerts::inbox)
        .doc(|d| d.answers::<types::alerts::Inbox>())
        .post("/api/v1/notifications/read", Authenticated, alerts::read)
        .doc(|d| {
            d.json::<alerts::ReadBody>()
                .answers::<types::alerts::Inbox>()
        })
        .get("/api/v1/webhooks", Permission(UserManage), webhooks::list)
        .doc(|d| d.answers::<Vec<types::webhooks::Webhook>>())
        .post("/api/v1/webhooks", Permission(UserManage), webhooks::create)
        .doc(|d| {
            d.json::<types::webhooks::NewWebhook>()
                .creates::<types::webhooks::Created>()
        })
        .put(
            "/api/v1/webhooks/{id}",
            Permission(UserManage),
            webhooks::change,
        )
        .doc(|d| {
            d.json::<webhooks::Change>()
                .answers::<types::webhooks::Webhook>()
        })
        .delete(
            "/api/v1/webhooks/{id}",
            Permission(UserManage),
            webhooks::delete,
        )
        .doc(|d| d.no_content())
        .post(
            "/api/v1/webhooks/{id}/test",
            Permission(UserManage),
            webhooks::test,
        )
        .doc(|d| d.accepted())
        .get(
            "/api/v1/webhooks/{id}/deliveries",
            Permission(UserManage),
            webhooks::deliveries,
        )
        .doc(|d| d.answers::<Vec<types::webhooks::Delivery>>())
        .get("/api/v1/budgets", DASHBOARD, budgets::status)
        .doc(|d| d.answers::<Vec<types::budgets::Status>>())
        .post("/api/v1/budgets", Permission(UserManage), budgets::set)
        .doc(|d| {
            d.json::<types::budgets::NewBudget>()
                .answers::<types::budgets::Budget>()
        })
        .delete(
            "/api/v1/budgets/{id}",
            Permission(UserManage),
            budgets::delete,
        )
        .doc(|d| d.no_content())
        .get("/api/v1/dashboard/overview", DASHBOARD, dashboard::overview)
        .doc(|d| d.filters().answers::<types::dashboard::Overview>())
        .get("/api/v1/dashboard/choices", DASHBOARD, dashboard::choices)
        .doc(|d| d.filters().answers::<types::dashboard::Choices>())
        .get("/api/v1/dashboard/charts", DASHBOARD, dashboard::charts)
        .get("/api/v1/dashboard/sessions", DASHBOARD, dashboard::sessions)
        .doc(|d| d.filters().answers::<types::dashboard::SessionPage>())
        .get(
            "/api/v1/dashboard/sessions/{id}",
            DASHBOARD,
            dashboard::session,
        )
        .doc(|d| {
            d.path::<String>("id")
                .answers::<types::dashboard::SessionDetail>()
        })
        .get("/api/v1/dashboard/config", DASHBOARD, boards::list)
        .doc(|d| d.answers::<types::boards::Boards>())
        .post("/api/v1/dashboard/config", Authenticated, boards::create)
        .doc(|d| {
            d.json::<boards::NewBoard>()
                .creates::<types::boards::Board>()
        })
        .get("/api/v1/dashboard/config/{id}", DASHBOARD, boards::get)
        .doc(|d| d.answers::<types::boards::Board>())
        .put("/api/v1/dashboard/config/{id}", Authenticated, boards::save)
        .doc(|d| d.json::<boards::Save>().answers::<types::boards::Board>())
        .delete(
            "/api/v1/dashboard/config/{id}",
            Authenticated,
            boards::delete,
        )
        .doc(|d| d.no_content())
        .put(
            "/api/v1/dashboard/config/{id}/audience",
            Permission(DashboardManage),
            boards::publish,
        )
        .doc(|d| {
            d.json::<types::boards::Audience>()
                .answers::<types::boards::Board>()
        })
        .put("/api/v1/dashboard/home", DASHBOARD, boards::set_home)
        .doc(|d| d.json::<boards::Home>().no_content())
        .get("/api/v1/gdpr/requests", Permission(UserManage), gdpr::list)
        .doc(|d| d.answers::<Vec<types::gdpr::Request>>())
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
        .doc(|d| d.json::<gdpr::EraseBody>())
        .get(
            "/api/v1/settings",
            Permission(UserManage),
            settings::workspace,
        )
        .doc(|d| d.answers::<types::settings::Workspace>())
        .put(
            "/api/v1/settings/name",
            Permission(UserManage),
            settings::rename,
        )
        .doc(|d| {
            d.json::<settings::NameBody>()
                .answers::<serde_json::Value>()
        })
        .put(
            "/api/v1/settings/time-zone",
            Permission(UserManage),
            settings::set_time_zone,
        )
        .doc(|d| {
            d.json::<settings::TimeZoneBody>()
                .answers::<serde_json::Value>()
        })
        .put(
            "/api/v1/settings/people",
            Permission(UserManage),
            settings::set_people,
        )
        .doc(|d| {
            d.json::<settings::PeopleBody>()
                .answers::<types::settings::PeoplePolicy>()
        })
        .get(
            "/api/v1/settings/retention",
            Permission(UserManage),
            settings::retention,
        )
        .doc(|d| d.answers::<types::retention::Retention>())
        .put(
            "/api/v1/settings/retention",
            Permission(UserManage),
            settings::set_retention,
        )
        .doc(|d| {
            d.json::<settings::PolicyBody>()
                .answers::<types::retention::Retention>()
        })
        .post(
            "/api/v1/settings/retention/preview",
            Permission(UserManage),
            settings::preview_retention,
        )
        .doc(|d| {
            d.json::<settings::PolicyBody>()
                .answers::<types::retention::Preview>()
        })
        .post("/auth/logout", Public, account::refresh::logout_moved)
        .post("/auth/welcome", Public, links::redeem_link_form)
        .post("/api/v1/auth/links/inspect", Public, links::inspect_link)
        .doc(|d| {
            d.json::<links::LinkRequest>()
                .answers::<types::people::LinkInfo>()
        })
        .post("/api/v1/auth/links/redeem", Public, links::redeem_link)
        .doc(|d| {
            d.json::<links::LinkRequest>()
                .answers::<types::people::LinkInfo>()
        })
        .post("/api/v1/auth/login", Public, account::login)
        .doc(|d| {
            d.json::<account::LoginRequest>()
                .answers::<account::SignIn>()
        })
        .post("/auth/forgot", Public, account::forgot::forgot_form)
        .post(
            "/api/v1/auth/password/forgot",
            Public,
            account::forgot::forgot,
        )
        .doc(|d| {
            d.json::<account::forgot::ForgotRequest>()
                .gives::<account::forgot::Accepted>(
                    "202",
                    "Accepted: a link is on its way if the person exists",
                )
        })
        .post("/api/v1/auth/refresh", Public, account::refresh::refresh)
        .doc(|d| {
            d.json::<account::refresh::RefreshRequest>()
                .answers::<account::SignIn>()
        })
        .post("/api/v1/auth/logout", Public, account::refresh::logout)
        .get(
            "/api/v1/auth/workspaces",
            Authenticated,
            account::workspaces::list,
        )
        .doc(|d| d.answers::<Vec<types::viewer::Membership>>())
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
        .doc(|d| d.answers::<account::profile::Profile>())
        // The TRD's paths for the same things.
        .get(
            "/api/v1/auth/profile",
            Authenticated,
            account::profile::profile,
        )
        .doc(|d| d.answers::<account::profile::Profile>())
        .put(
            "/api/v1/auth/profile",
            Permission(ProfileEdit),
            account::profile::update_profile,
        )
        .doc(|d| {
            d.json::<account::profile::ProfileUpdate>()
                .answers::<account::profile::Profile>()
        })
        .get("/api/v1/admin/users", Permission(UserManage), users::list)
        .doc(|d| d.answers::<Vec<types::people::User>>())
        .put(
            "/api/v1/admin/users/{id}",
            Permission(UserManage),
            users::update,
        )
        .doc(|d| {
            d.json::<users::UserChange>()
                .answers::<types::people::User>()
        })
        .put(
            "/api/v1/profile",
            Permission(ProfileEdit),
            account::profile::update_profile,
        )
        .doc(|d| {
            d.json::<account::profile::ProfileUpdate>()
                .answers::<account::profile::Profile>()
        })
        .post(
            "/api/v1/profile/password",
            Authenticated,
            account::profile::change_password,
        )
        .doc(|d| d.json::<account::profile::PasswordChange>())
        .put(
            "/api/v1/profile/theme",
            Authenticated,
            account::profile::set_theme,
        )
        .doc(|d| d.json::<account::profile::ThemeChoice>())
        .get("/api/v1/profile/mfa", Authenticated, mfa::status)
        .doc(|d| d.answers::<types::mfa::Status>())
        .delete("/api/v1/profile/mfa", Authenticated, mfa::turn_off)
        .doc(|d| d.json::<mfa::Code>())
        .post("/api/v1/profile/mfa/totp", Authenticated, mfa::begin)
        .doc(|d| d.answers::<types::mfa::Enrolment>())
        .post(
            "/api/v1/profile/mfa/totp/confirm",
            Authenticated,
            mfa::confirm,
        )
        .doc(|d| d.json::<mfa::Code>().answers::<mfa::RecoveryCodes>())
        .post(
            "/api/v1/profile/mfa/recovery-codes",
            Authenticated,
            mfa::renew_recovery_codes,
        )
        .doc(|d| d.json::<mfa::Code>().answers::<mfa::RecoveryCodes>())
        .get(
            "/api/v1/settings/mfa",
            Permission(UserManage),
            mfa::get_rule,
        )
        .doc(|d| d.answers::<mfa::Rule>())
        .put(
            "/api/v1/settings/mfa",
            Permission(UserManage),
            mfa::set_rule,
        )
        .doc(|d| d.json::<mfa::Rule>().answers::<mfa::Rule>())
        .delete("/api/v1/users/{id}/mfa", Permission(UserManage), mfa::reset)
        .get("/api/v1/api-keys", Authenticated, api_keys::list)
        .doc(|d| {
            d.query::<api_keys::ListQuery>()
                .answers::<Vec<types::api_keys::ApiKey>>()
        })
        .post("/api/v1/api-keys", Authenticated, api_keys::create)
        .doc(|d| {
            d.json::<api_keys::CreateKey>()
                .creates::<types::api_keys::CreatedKey>()
        })
        .delete("/api/v1/api-keys/{id}", Authenticated, api_keys::revoke)
        .doc(|d| d.answers::<types::api_keys::ApiKey>())
        .get("/api/v1/users", Permission(UserManage), users::list)
        .doc(|d| d.answers::<Vec<types::people::User>>())
        .post("/api/v1/users", Permission(UserManage), users::create)
        .doc(|d| {
            d.json::<users::CreateUser>()
                .creates::<users::CreatedUser>()
        })
        .post(
            "/api/v1/users/bulk-invite",
            Permission(UserManage),
            users::invite_many,
        )
        .doc(|d| {
            d.json::<users::InviteList>()
                .answers::<store::invitations::BulkInvite>()
        })
        .post("/api/v1/users/bulk", Permission(UserManage), users::bulk)
        .doc(|d| {
            d.json::<users::BulkRequest>()
                .answers::<Vec<types::people::User>>()
        })
        .post(
            "/api/v1/users/{id}/password-link",
            Permission(UserManage),
            users::password_link,
        )
        .doc(|d| d.creates::<types::people::PasswordLink>())
        .put(
            "/api/v1/users/{id}/role",
            Permission(UserManage),
            users::set_role,
        )
        .doc(|d| {
            d.json::<users::RoleChange>()
                .answers::<types::people::User>()
        })
        .post(
            "/api/v1/users/{id}/deactivate",
            Permission(UserManage),
            users::deactivate,
        )
        .doc(|d| d.answers::<types::people::User>())
        .post(
            "/api/v1/users/{id}/reactivate",
            Permission(UserManage),
            users::reactivate,
        )
        .doc(|d| d.answers::<types::people::User>())
        .get("/api/v1/teams", Authenticated, teams::list)
        .doc(|d| d.answers::<Vec<types::people::Team>>())
        .post("/api/v1/teams", Permission(UserManage), teams::create)
        .doc(|d| d.json::<teams::TeamBody>().creates::<types::people::Team>())
        .get("/api/v1/teams/{id}", Authenticated, teams::get)
        .doc(|d| d.answers::<types::people::Team>())
        .put("/api/v1/teams/{id}", Permission(UserManage), teams::rename)
        .doc(|d| d.json::<teams::TeamBody>().answers::<types::people::Team>())
        .delete("/api/v1/teams/{id}", Permission(UserManage), teams::delete)
        .doc(|d| d.no_content())
        .put(
            "/api/v1/teams/{id}/members/{user_id}",
            Permission(UserManage),
            teams::put_member,
        )
        .doc(|d| {
            d.json::<teams::Membership>()
                .answers::<types::people::Team>()
        })
        .delete(
            "/api/v1/teams/{id}/members/{user_id}",
            Permission(UserManage),
            teams::remove_member,
        )
        .doc(|d| d.answers::<types::people::Team>())
        .get("/api/v1/audit", Permission(UserManage), audit::audit)
        .doc(|d| d.query::<audit::AuditQuery>())
        .get("/api/v1/usage", Permission(UserManage), usage::usage)
        .doc(|d| d.answers::<types::usage::Usage>())
        .get("/api/v1/emails", Permission(UserManage), users::emails)
        .doc(|d| {
            d.query::<users::EmailsQuery>()
                .answers::<Vec<store::mail::Sent>>()
        })
        .get("/api/v1/admin/jobs", Permission(TenantsManage), admin::jobs)
        .doc(|d| d.query::<admin::JobsQuery>().answers::<types::jobs::Jobs>())
        .post(
            "/api/v1/admin/jobs/{id}/retry",
            Permission(TenantsManage),
            admin::retry_job,
        )
        .doc(|d| d.path::<i64>("id").accepted())
        .get(
            "/api/v1/admin/tenants",
            Permission(TenantsManage),
            admin::list,
        )
        .doc(|d| d.answers::<Vec<types::system::TenantSummary>>())
        .post(
            "/api/v1/admin/tenants",
            Permission(TenantsManage),
            admin::create,
        )
        .doc(|d| {
            d.json::<admin::CreateTenant>()
                .creates::<admin::CreatedTenant>()
        })
        .post(
            "/api/v1/admin/tenants/{slug}/suspend",
            Permission(TenantsManage),
            admin::suspend,
        )
        .doc(|d| d.answers::<store::tenants::Tenant>())
        .post(
            "/api/v1/admin/tenants/{slug}/reactivate",
            Permission(TenantsManage),
            admin::reactivate,
        )
        .doc(|d| d.answers::<store::tenants::Tenant>())
        .put(
            "/api/v1/admin/tenants/{slug}",
            Permission(TenantsManage),
            admin::rename,
        )
        .doc(|d| {
            d.json::<admin::RenameTenant>()
                .answers::<store::tenants::Tenant>()
        })
        .delete(
            "/api/v1/admin/tenants/{slug}",
            Permission(TenantsManage),
            admin::delete,
        )
        .doc(|d| d.query::<admin::DeleteQuery>().no_content())
        .get(
            "/api/v1/admin/health",
            Permission(TenantsManage),
            admin::health,
        )
        .doc(|d| d.answers::<types::system::Health>())
        .post(
            "/api/v1/admin/tenants/{slug}/support",
            Permission(TenantsManage),
            support::begin,
        )
        .doc(|d| d.json::<support::Begin>())
        .get(
            "/api/v1/admin/support",
            Permission(TenantsManage),
            support::list,
        )
        .doc(|d| d.answers::<Vec<types::system::SupportGrant>>())
        .post("/api/v1/auth/support/end", Public, support::end)
}
