//! The live feeds. `/ws`: one sampler per instance reads database activity every second, and
//! every connection gets the latest point at once and each new one after that. `/ws/metrics`:
//! the caller's tenant's `metrics_update`s from the bus.

use std::time::{Duration, Instant};

use axum::{
    extract::{
        ws::{Message, WebSocket},
        State, WebSocketUpgrade,
    },
    response::{IntoResponse, Response},
    Extension,
};
use store::Store;
use tokio::sync::{broadcast, watch};
use types::{DbSample, LiveMessage, MetricsUpdate, TenantId};

use crate::{auth::Caller, error::ApiError, state::AppState};

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

/// `/ws`: the installation's database activity, once a second, for the public status page.
pub async fn status_ws(ws: WebSocketUpgrade, State(state): State<AppState>) -> Response {
    let shutdown = state.shutdown.clone();
    let points = state.live.subscribe();
    ws.on_upgrade(move |socket| serve(socket, points, shutdown))
}

/// `/ws/metrics`: the caller's tenant's `metrics_update`s. The route's gate has already checked
/// that the caller may read metrics (its access is in the route table like any other route's).
pub async fn metrics_ws(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    let Some(tenant) = caller.tenant.map(|t| t.id) else {
        return ApiError::NotFound("tenant").into_response();
    };
    let shutdown = state.shutdown.clone();
    let updates = state.bus.subscribe();
    ws.on_upgrade(move |socket| serve_metrics(socket, updates, tenant, shutdown))
}

async fn serve_metrics(
    mut socket: WebSocket,
    mut updates: broadcast::Receiver<MetricsUpdate>,
    tenant: TenantId,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            update = updates.recv() => match update {
                Ok(u) if u.tenant == tenant => {
                    let text = LiveMessage::MetricsUpdate(u).to_json();
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => break,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            _ = shutdown.changed() => break,
        }
    }
    let _ = socket
        .send(Message::Close(Some(axum::extract::ws::CloseFrame {
            code: 1012,
            reason: "server shutting down".into(),
        })))
        .await;
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
                // Clients send nothing we act on yet; axum answers pings itself.
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
    socket.send(Message::Text(text.into())).await
}
