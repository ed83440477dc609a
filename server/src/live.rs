//! The live feed behind `/ws`: one sampler per instance reads database activity every second;
//! every WebSocket connection gets the latest point at once and each new one after that.

use std::time::{Duration, Instant};

use app::live::LivePoint;
use axum::{
    extract::{
        ws::{Message, WebSocket},
        State, WebSocketUpgrade,
    },
    response::Response,
};
use store::Store;
use tokio::sync::watch;

use crate::AppState;

/// Samples `pg_stat_database` once a second until `shutdown` fires. A failed sample (the
/// database is down) publishes nothing and restarts the rate calculation.
pub async fn sample(
    store: Store,
    tx: watch::Sender<Option<LivePoint>>,
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
            let point = LivePoint {
                ts_ms: chrono::Utc::now().timestamp_millis(),
                tps: (activity.transactions - count).max(0) as f64 / secs,
                backends: activity.backends,
            };
            tx.send_replace(Some(point));
        }
        previous = Some((now, activity.transactions));
    }
}

pub async fn ws_handler(ws: WebSocketUpgrade, State(state): State<AppState>) -> Response {
    let points = state.live.subscribe();
    let shutdown = state.shutdown.clone();
    ws.on_upgrade(move |socket| serve(socket, points, shutdown))
}

async fn serve(
    mut socket: WebSocket,
    mut points: watch::Receiver<Option<LivePoint>>,
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

async fn send(socket: &mut WebSocket, point: &LivePoint) -> Result<(), axum::Error> {
    let text = serde_json::to_string(point).expect("point serialises");
    socket.send(Message::Text(text.into())).await
}
