//! The live feeds. `/ws`: one sampler per instance reads database activity every second, and
//! every connection gets the latest point at once and each new one after that. `/ws/metrics`:
//! the caller's tenant's `metrics_update`s from the bus, cut down to the people the caller
//! sees. Both refuse upgrades from other sites' pages and messages over a few KiB; the metrics
//! feed checks its caller again every few seconds and closes when their access ends.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use crate::bus::Notice;
use axum::{
    extract::{
        ws::{Message, WebSocket},
        State, WebSocketUpgrade,
    },
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
    Extension,
};
use store::Store;
use tokio::sync::{broadcast, watch};
use types::{DbSample, LiveMessage, TenantId, UserId};

use crate::{
    auth::{
        authenticate, authorize, jwt::Keys, permissions::Access, scope::scoped, ticket_holder,
        Caller, ClientIp, SessionCookies, Via,
    },
    error::ApiError,
    state::AppState,
};

/// The most a client may send in one message or frame. The feeds act on nothing a client
/// says, so anything bigger is a mistake or an attack, and closes the socket.
const MAX_INBOUND: usize = 4 * 1024;

/// How often an open `/ws/metrics` checks its caller again regardless: an expired session
/// ends within this. Changes people make (a deactivation, a role or password change, a
/// revoked key, a team change, a suspended tenant) are told to every instance through the
/// database when they commit ([`listen_access`]), and the feeds of that tenant check at once.
const RECHECK: Duration = Duration::from_secs(30);

/// What `/ws/metrics` demands, as its route declares: to read a dashboard.
pub const FEED: Access = Access::Read(types::dashboard::DASHBOARD_READ);

/// Forwards the database's access-change notices (`store::audit::ACCESS_CHANNEL`, one per
/// committed change, from whichever instance or door made it) to the open feeds, until
/// `shutdown`. A notice names the schema the change was made in; after a lost connection,
/// when notices may have been missed, `*` tells every feed to check. The same listener hears
/// `store::audit::ANSWERS_CHANNEL` and makes the store forget that workspace's kept
/// dashboard answers (everything, after a lost connection).
pub async fn listen_access(
    store: Store,
    notices: broadcast::Sender<String>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let listening = async {
            let mut l = sqlx::postgres::PgListener::connect_with(store.session_pool()).await?;
            l.listen_all([store::audit::ACCESS_CHANNEL, store::audit::ANSWERS_CHANNEL])
                .await?;
            Ok::<_, sqlx::Error>(l)
        };
        let mut listener = tokio::select! {
            l = listening => match l {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for access changes; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(2)) => continue,
                        _ = shutdown.changed() => return,
                    }
                }
            },
            _ = shutdown.changed() => return,
        };
        let _ = notices.send("*".into());
        store.answers().forget_all();
        loop {
            tokio::select! {
                n = listener.try_recv() => match n {
                    Ok(Some(n)) if n.channel() == store::audit::ANSWERS_CHANNEL => {
                        store.answers().forget_schema(n.payload());
                    }
                    Ok(Some(n)) => {
                        let _ = notices.send(n.payload().to_string());
                    }
                    // The connection dropped (it reconnects on the next call): what was sent
                    // meanwhile is lost, so everyone checks.
                    Ok(None) => {
                        let _ = notices.send("*".into());
                        store.answers().forget_all();
                    }
                    Err(_) => break,
                },
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// Samples `pg_stat_database` once a second until `shutdown` fires. A failed sample (the
/// database is down) publishes nothing and restarts the rate calculation.
pub async fn sample(
    store: Store,
    tx: watch::Sender<Option<DbSample>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut previous: Option<(Instant, i64)> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let sample = tokio::time::timeout(Duration::from_secs(2), store.db_activity()).await;
        let Ok(Ok(activity)) = sample else {
            previous = None;
            continue;
        };
        let now = Instant::now();
        if let Some((then, count)) = previous {
            let secs = now.duration_since(then).as_secs_f64().max(1e-3);
            let point = DbSample {
                ts_ms: chrono::Utc::now().timestamp_millis(),
                tps: (activity.transactions - count).max(0) as f64 / secs,
                backends: activity.backends,
            };
            tx.send_replace(Some(point));
        }
        previous = Some((now, activity.transactions));
    }
}

/// Small buffers: a feed's messages are a few hundred bytes, and tungstenite's defaults
/// (128 KiB to read, 128 KiB before a write is flushed) cost that much per open socket, which
/// thousands of idle dashboards would pay for nothing.
fn limited(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.max_message_size(MAX_INBOUND)
        .max_frame_size(MAX_INBOUND)
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
}

/// Browsers name the page that opens a WebSocket in `Origin`, and send its cookies whatever
/// that page is (the same-origin policy does not cover WebSockets): a page on another site
/// must not open our feeds in its visitor's name. `Ok(true)`: a page of ours; `Ok(false)`: no
/// `Origin`, so not a browser.
fn check_origin(headers: &HeaderMap, public_url: &str) -> Result<bool, ApiError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(false);
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    match origin.to_str() {
        Ok(origin) if same_origin(origin, host, public_url) => Ok(true),
        _ => Err(ApiError::Forbidden(
            "this feed opens only from devpulse's own pages".into(),
        )),
    }
}

/// Whether `origin` is where people reach this server: the request's own `Host`, or
/// `DEVPULSE_PUBLIC_URL` (which a proxy in front may not pass on as `Host`).
fn same_origin(origin: &str, host: Option<&str>, public_url: &str) -> bool {
    let origin = origin.trim().to_ascii_lowercase();
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    if !matches!(scheme, "http" | "https") || authority.is_empty() || authority.contains('/') {
        return false;
    }
    let public = public_url.trim().to_ascii_lowercase();
    let public = public
        .split_once("://")
        .map(|(s, rest)| format!("{s}://{}", rest.split('/').next().unwrap_or("")));
    public.as_deref() == Some(origin.as_str())
        || host.is_some_and(|h| h.eq_ignore_ascii_case(authority))
}

/// `/ws`: the installation's database activity, once a second, for the public status page.
pub async fn status_ws(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = check_origin(&headers, &state.public_url) {
        return e.into_response();
    }
    let shutdown = state.shutdown.clone();
    let points = state.live.subscribe();
    let open = state.system.sockets.clone();
    limited(ws).on_upgrade(move |socket| async move {
        let _counted = open.open();
        serve(socket, points, shutdown).await
    })
}

/// `/ws/metrics`: the caller's tenant's `metrics_update`s, each cut down to the people whose
/// numbers the caller sees. The route's gate has already checked that the caller may read
/// metrics (its access is in the route table like any other route's); the feed checks again
/// every [`RECHECK`] while it is open.
pub async fn metrics_ws(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
) -> Response {
    let browser = match check_origin(&headers, &state.public_url) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    // Without Origin nothing shows that a page of ours asked, and a cookie alone may be riding
    // along with someone else's request: such a client names its credential itself.
    let own_credential = headers.contains_key(header::AUTHORIZATION)
        || headers.contains_key("x-api-key")
        || matches!(caller.via, Via::Ticket);
    if !browser && !own_credential {
        return ApiError::Forbidden(
            "without an Origin header, send the credential in Authorization or X-API-Key".into(),
        )
        .into_response();
    }
    let Some(tenant) = caller.tenant.as_ref().map(|t| t.id) else {
        return ApiError::NotFound("tenant").into_response();
    };
    let (only, named) = match visible(&state.store, &caller).await {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    // Only what authenticates, kept to check the caller again: the headers, or for a ticket
    // (spent on opening) the person it was for.
    let credential = if matches!(caller.via, Via::Ticket) {
        Credential::Ticket(caller.user_id)
    } else {
        // Copies, not clones: a header value received is a slice of the connection's whole
        // read buffer (16 KiB), which a clone would keep alive as long as the feed.
        let copy = |v: &HeaderValue| HeaderValue::from_bytes(v.as_bytes()).ok();
        let mut kept = HeaderMap::new();
        for name in [header::AUTHORIZATION, header::COOKIE] {
            for v in headers.get_all(&name).iter().filter_map(copy) {
                kept.append(name.clone(), v);
            }
        }
        if let Some(v) = headers.get("x-api-key").and_then(copy) {
            kept.insert("x-api-key", v);
        }
        Credential::Headers(kept)
    };
    let Some(schema) = caller
        .tenant
        .as_ref()
        .map(|t| t.scope().schema().to_string())
    else {
        return ApiError::NotFound("tenant").into_response();
    };
    let open = state.system.sockets.clone();
    // Only what the feed uses, not the whole state: thousands of feeds stay open.
    let feed = Feed {
        updates: state.bus.subscribe(),
        access: state.access.subscribe(),
        schema,
        store: state.store.clone(),
        keys: state.keys.clone(),
        cookies: state.cookies,
        shutdown: state.shutdown.clone(),
        credential,
        tenant,
        me: caller.user_id,
        only,
        named,
    };
    limited(ws).on_upgrade(move |socket| async move {
        let _counted = open.open();
        feed.serve(socket).await
    })
}

/// Whose numbers `caller` sees (`None`: everyone's in the tenant), and whether by name: the
/// dashboard's own rule (`store::dashboard::Reader`).
async fn visible(store: &Store, caller: &Caller) -> Result<(Option<Vec<UserId>>, bool), ApiError> {
    let mut tx = scoped(store, caller).await?;
    let reader = crate::metrics_scope::reader(&mut tx, caller).await?;
    tx.commit().await?;
    Ok((reader.people.clone(), reader.names_people()))
}

/// How an open feed proves its caller again.
enum Credential {
    Headers(HeaderMap),
    Ticket(UserId),
}

/// `POST /api/v1/ws/ticket`: a single-use ticket that opens `/ws/metrics?token=…` within 30
/// seconds, for clients that cannot send a header with a WebSocket request. A ticket never
/// buys another ticket.
pub async fn ticket(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    if matches!(caller.via, Via::Ticket) {
        return Err(ApiError::Forbidden(
            "a ticket cannot ask for a ticket".into(),
        ));
    }
    let tenant = caller.tenant()?;
    let mut tx = state.store.tenant_tx(tenant.scope()).await?;
    let secret = store::ws_tickets::issue(&mut tx, caller.user_id).await?;
    tx.commit().await?;
    Ok(axum::Json(serde_json::json!({
        "ticket": format!("{}.{secret}", tenant.slug),
        "expires_in": store::ws_tickets::TTL_SECS,
    })))
}

/// One open `/ws/metrics`.
struct Feed {
    store: Store,
    keys: Arc<Keys>,
    cookies: SessionCookies,
    shutdown: watch::Receiver<bool>,
    updates: broadcast::Receiver<crate::bus::Notice>,
    /// Access-change notices ([`listen_access`]), and the tenant schema they name.
    access: broadcast::Receiver<String>,
    schema: String,
    credential: Credential,
    tenant: TenantId,
    /// Whose feed it is: told of changes to their own boards.
    me: UserId,
    only: Option<Vec<UserId>>,
    /// Whether the caller may learn whose events they were.
    named: bool,
}

/// Why a feed stops.
enum Stop {
    /// The client left or the socket broke: nothing to say.
    Gone,
    /// Closing with this code and reason.
    Close(u16, &'static str),
}

impl Feed {
    async fn serve(mut self, mut socket: WebSocket) {
        if let Stop::Close(code, reason) = self.run(&mut socket).await {
            let _ = socket
                .send(Message::Close(Some(axum::extract::ws::CloseFrame {
                    code,
                    reason: reason.into(),
                })))
                .await;
        }
    }

    async fn run(&mut self, socket: &mut WebSocket) -> Stop {
        let mut shutdown = self.shutdown.clone();
        let mut access_open = true;
        let mut recheck = tokio::time::interval(RECHECK);
        recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is at once, and the upgrade has just checked.
        recheck.tick().await;
        // The greeting: the link is up, and a page that reconnected refetches what it missed.
        let hello = LiveMessage::DashboardRefresh {
            at_ms: chrono::Utc::now().timestamp_millis(),
            board: None,
            version: None,
        };
        if socket
            .send(Message::Text(hello.to_json().into()))
            .await
            .is_err()
        {
            return Stop::Gone;
        }
        loop {
            tokio::select! {
                update = self.updates.recv() => match update {
                    Ok(Notice::MetricsUpdate(u)) if u.tenant == self.tenant => {
                        let Some(u) = u.seen_by(self.only.as_deref(), self.named) else { continue };
                        let text = LiveMessage::MetricsUpdate(u).to_json();
                        if socket.send(Message::Text(text.into())).await.is_err() {
                            return Stop::Gone;
                        }
                        sent("metrics_update");
                    }
                    // A workspace board's change reaches everyone in the workspace, even
                    // those it is not shared with: they learn an id and a version number,
                    // and cannot open it.
                    Ok(Notice::BoardChange(c)) if c.concerns(self.tenant, self.me) => {
                        let text = c.message(chrono::Utc::now().timestamp_millis()).to_json();
                        if socket.send(Message::Text(text.into())).await.is_err() {
                            return Stop::Gone;
                        }
                        sent("board_change");
                    }
                    Ok(Notice::Alert(a)) => {
                        let Some(message) = a.for_reader(self.tenant, self.me) else { continue };
                        if socket.send(Message::Text(message.to_json().into())).await.is_err() {
                            return Stop::Gone;
                        }
                        sent("system_alert");
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    // 1012: service restart; the client reconnects with back-off.
                    Err(broadcast::error::RecvError::Closed) => {
                        return Stop::Close(1012, "server shutting down")
                    }
                },
                incoming = socket.recv() => match incoming {
                    // Clients send nothing we act on; axum answers pings itself. A message
                    // over MAX_INBOUND arrives as an error and ends the feed.
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Stop::Gone,
                    Some(Ok(_)) => {}
                },
                notice = self.access.recv(), if access_open => {
                    let concerns_us = match &notice {
                        Ok(schema) => {
                            schema == "*" || schema == "public" || *schema == self.schema
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => true,
                        Err(broadcast::error::RecvError::Closed) => {
                            access_open = false;
                            false
                        }
                    };
                    if concerns_us {
                        if let Err(stop) = Box::pin(self.recheck()).await {
                            return stop;
                        }
                    }
                }
                _ = recheck.tick() => {
                    // Boxed: its state is large and needed only now and then, not in
                    // every idle feed's future.
                    if let Err(stop) = Box::pin(self.recheck()).await {
                        return stop;
                    }
                }
                _ = shutdown.changed() => return Stop::Close(1012, "server shutting down"),
            }
        }
    }

    /// Authenticates and authorises the caller again, as on upgrade, and refreshes whose
    /// numbers they see.
    async fn recheck(&mut self) -> Result<(), Stop> {
        // 1008: policy violation; the credential no longer opens this feed.
        let refused = Stop::Close(1008, "your access to this feed has ended");
        // 1011: the database did not answer; the client reconnects and is checked afresh.
        let unchecked = || Stop::Close(1011, "could not check your access");
        let checked = match &self.credential {
            Credential::Headers(headers) => {
                authenticate(
                    &self.store,
                    &self.keys,
                    self.cookies,
                    headers,
                    ClientIp(None),
                )
                .await
            }
            Credential::Ticket(user) => ticket_holder(
                &self.store,
                store::TenantId(self.tenant.0),
                *user,
                None,
                None,
            )
            .await
            .map(Some),
        };
        let caller = match checked {
            Ok(Some(caller)) => caller,
            Ok(None) | Err(ApiError::Unauthenticated) => return Err(refused),
            Err(_) => return Err(unchecked()),
        };
        if authorize(Some(&caller), FEED).is_err()
            || caller.tenant.as_ref().map(|t| t.id) != Some(self.tenant)
        {
            return Err(refused);
        }
        (self.only, self.named) = visible(&self.store, &caller)
            .await
            .map_err(|_| unchecked())?;
        Ok(())
    }
}

async fn serve(
    mut socket: WebSocket,
    mut points: watch::Receiver<Option<DbSample>>,
    mut shutdown: watch::Receiver<bool>,
) {
    // Greet with the latest point so the client knows at once that the link is up.
    let latest = *points.borrow_and_update();
    if let Some(point) = latest {
        if send(&mut socket, &point).await.is_err() {
            return;
        }
    }
    loop {
        tokio::select! {
            changed = points.changed() => {
                if changed.is_err() {
                    break;
                }
                let point = *points.borrow_and_update();
                if let Some(point) = point {
                    if send(&mut socket, &point).await.is_err() {
                        return;
                    }
                }
            }
            incoming = socket.recv() => match incoming {
                // Clients send nothing we act on yet; axum answers pings itself. A message
                // over MAX_INBOUND arrives as an error and ends the feed.
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            _ = shutdown.changed() => break,
        }
    }
    // 1012: service restart; the client reconnects with back-off.
    let _ = socket
        .send(Message::Close(Some(axum::extract::ws::CloseFrame {
            code: 1012,
            reason: "server shutting down".into(),
        })))
        .await;
}

async fn send(socket: &mut WebSocket, point: &DbSample) -> Result<(), axum::Error> {
    let text = LiveMessage::DbSample(*point).to_json();
    socket.send(Message::Text(text.into())).await?;
    sent("db_sample");
    Ok(())
}

/// Counts a message a client was sent (`/metrics`).
fn sent(kind: &'static str) {
    metrics::counter!("devpulse_websocket_messages_total", "kind" => kind).increment(1);
}

#[cfg(test)]
mod tests {
    use super::same_origin;

    #[test]
    fn only_our_own_pages_are_same_origin() {
        let public = "https://devpulse.example.com/";
        let host = Some("127.0.0.1:3000");
        for ok in [
            "http://127.0.0.1:3000",
            "https://127.0.0.1:3000",
            "https://devpulse.example.com",
            "HTTPS://DevPulse.Example.com",
        ] {
            assert!(same_origin(ok, host, public), "{ok}");
        }
        for bad in [
            "null",
            "",
            "https://evil.example",
            "https://devpulse.example.com.evil.example",
            "http://devpulse.example.com:8080",
            "http://127.0.0.1:3001",
            "file://127.0.0.1:3000",
            "http://127.0.0.1:3000/path",
        ] {
            assert!(!same_origin(bad, host, public), "{bad}");
        }
        assert!(!same_origin("http://127.0.0.1:3000", None, public));
    }
}
