//! The live feed: a WebSocket client that survives server restarts, and the chart it drives.

use leptos::prelude::*;

use crate::charts::EChart;

/// One sample of database activity, pushed by the server every second on `/ws`.
pub use types::DbSample as LivePoint;

/// How many points the chart keeps (two minutes at one a second).
pub const WINDOW: usize = 120;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    Connecting,
    Connected,
    Reconnecting { attempt: u32 },
}

impl LinkState {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkState::Connecting => "connecting",
            LinkState::Connected => "connected",
            LinkState::Reconnecting { .. } => "reconnecting",
        }
    }

    pub fn label(self) -> String {
        match self {
            LinkState::Connecting => "Connecting…".into(),
            LinkState::Connected => "Live".into(),
            LinkState::Reconnecting { attempt } => format!("Reconnecting (attempt {attempt})…"),
        }
    }
}

/// Exponential back-off for reconnects: 250 ms doubling to 5 s, before jitter.
pub fn backoff_ms(attempt: u32) -> u32 {
    (250u32 << (attempt.clamp(1, 6) - 1)).min(5_000)
}

/// The shortest time between two refetches a live page makes.
pub const REFETCH_EVERY_MS: u64 = 1_000;

/// A board saved (or deleted: `version` none) elsewhere, as the feed reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BoardSaved {
    pub board: types::BoardId,
    pub version: Option<i32>,
}

/// The page's subscription to `/ws/metrics`, one per page load whatever shows it (the bell
/// in the top bar, the dashboard). `tick` moves on every update the viewer may see and on
/// every reconnect, so whatever reads it refetches in place; `events` counts the events the
/// updates announced; `alerts` moves on every alert the viewer is told of.
#[derive(Clone, Copy)]
pub struct MetricsFeed {
    pub link: RwSignal<LinkState>,
    pub tick: RwSignal<u64>,
    pub events: RwSignal<u64>,
    /// The last board saved elsewhere by the reader (another tab) or for the workspace.
    pub board_saved: RwSignal<Option<BoardSaved>>,
    pub alerts: RwSignal<u64>,
    /// The last alert told, for a page that shows it as it comes.
    pub last_alert: RwSignal<Option<types::SystemAlert>>,
    connected: StoredValue<bool>,
}

impl MetricsFeed {
    fn new() -> MetricsFeed {
        MetricsFeed {
            link: RwSignal::new(LinkState::Connecting),
            tick: RwSignal::new(0),
            events: RwSignal::new(0),
            board_saved: RwSignal::new(None),
            alerts: RwSignal::new(0),
            last_alert: RwSignal::new(None),
            connected: StoredValue::new(false),
        }
    }

    /// Makes the page's feed (the app does, once, so it outlives every page that uses it);
    /// nothing connects until something [`open`](MetricsFeed::open)s it.
    pub fn provide() {
        provide_context(MetricsFeed::new());
    }

    /// The page's feed without connecting it: for what reacts to it where the feed may never
    /// be needed (a signed-out page).
    pub fn unopened() -> MetricsFeed {
        use_context::<MetricsFeed>().unwrap_or_else(MetricsFeed::new)
    }

    /// The page's feed, connected from the first call on for the rest of the page's life
    /// (in the browser; on the server it stays `Connecting` and never ticks).
    pub fn open() -> MetricsFeed {
        let feed = use_context::<MetricsFeed>().unwrap_or_else(MetricsFeed::new);
        if !feed.connected.get_value() {
            feed.connected.set_value(true);
            #[cfg(feature = "hydrate")]
            feed.connect();
        }
        feed
    }

    #[cfg(feature = "hydrate")]
    fn connect(self) {
        use std::sync::{
            atomic::{AtomicBool, Ordering},
            Arc,
        };
        let feed = self;
        // Lives as long as the page: the app made the feed.
        let alive = Arc::new(AtomicBool::new(true));
        // Busy workspaces commit many times a second: a page refetches at most once per
        // REFETCH_EVERY_MS, the updates in between folded into one trailing refetch.
        let pending = Arc::new(AtomicBool::new(false));
        let last = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let bump = move || {
            let now = js_sys::Date::now() as u64;
            let since = now.saturating_sub(last.load(Ordering::Relaxed));
            if since >= REFETCH_EVERY_MS {
                last.store(now, Ordering::Relaxed);
                feed.tick.update(|n| *n += 1);
            } else if !pending.swap(true, Ordering::Relaxed) {
                let (pending, last) = (pending.clone(), last.clone());
                leptos::task::spawn_local(async move {
                    gloo_timers::future::TimeoutFuture::new((REFETCH_EVERY_MS - since) as u32)
                        .await;
                    pending.store(false, Ordering::Relaxed);
                    last.store(js_sys::Date::now() as u64, Ordering::Relaxed);
                    feed.tick.update(|n| *n += 1);
                });
            }
        };
        leptos::task::spawn_local(client::run(
            "/ws/metrics",
            feed.link,
            alive,
            move |message| {
                match message {
                    types::LiveMessage::MetricsUpdate(u) => {
                        feed.events.update(|n| *n += u.events);
                        bump();
                    }
                    types::LiveMessage::DashboardRefresh {
                        board: Some(board),
                        version,
                        ..
                    } => feed.board_saved.set(Some(BoardSaved { board, version })),
                    // The greeting: after a reconnect, refetch what may have been missed
                    // (the first one needs nothing: the page has just been rendered).
                    types::LiveMessage::DashboardRefresh { .. }
                        if feed.link.get_untracked() != LinkState::Connecting =>
                    {
                        bump();
                        feed.alerts.update(|n| *n += 1);
                    }
                    types::LiveMessage::SystemAlert(a) => {
                        feed.last_alert.set(Some(a));
                        feed.alerts.update(|n| *n += 1);
                    }
                    _ => {}
                }
                true
            },
        ));
    }
}

/// The connection indicator: live, connecting or reconnecting.
#[component]
pub fn LinkIndicator(link: RwSignal<LinkState>) -> impl IntoView {
    view! {
        <span
            class="link-state"
            id="link-state"
            data-state=move || link.get().as_str()
            role="status"
            aria-live="polite"
        >
            {move || link.get().label()}
        </span>
    }
}

#[component]
pub fn LiveChart() -> impl IntoView {
    let points = RwSignal::new(Vec::<LivePoint>::new());
    let received = RwSignal::new(0u64);
    let link = RwSignal::new(LinkState::Connecting);

    #[cfg(feature = "hydrate")]
    client::start(points, received, link);

    let latest = move || {
        points.with(|p| {
            p.last()
                .map(|p| format!("{:.1} tx/s, {} connections", p.tps, p.backends))
                .unwrap_or_else(|| "no data yet".into())
        })
    };

    view! {
        <section class="card live">
            <div class="live-head">
                <h2>"Database activity"</h2>
                <span
                    class="link-state"
                    id="link-state"
                    data-state=move || link.get().as_str()
                    aria-live="polite"
                >
                    {move || link.get().label()}
                </span>
            </div>
            <EChart
                id="live-chart".to_string()
                option=Signal::derive(move || points.with(|p| crate::charts::to_json(&tx_chart(p))))
                label="Transactions per second in devpulse's database, last two minutes".to_string()
            />
            <p class="muted">
                <span id="points-received" data-count=move || received.get()>
                    {move || received.get()}
                </span>
                " points received · latest: "
                <span id="latest-point">{latest}</span>
            </p>
        </section>
    }
}

/// Transactions per second over the last two minutes.
pub fn tx_chart(points: &[LivePoint]) -> charming::Chart {
    use charming::{
        component::Axis,
        element::{AxisType, Tooltip, Trigger},
        series::Line,
        Chart,
    };
    let data: Vec<Vec<f64>> = points.iter().map(|p| vec![p.ts_ms as f64, p.tps]).collect();
    Chart::new()
        .background_color("transparent")
        .animation(false)
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        .x_axis(Axis::new().type_(AxisType::Time))
        .y_axis(Axis::new().type_(AxisType::Value).name("tx/s"))
        .series(
            Line::new()
                .name("transactions/s")
                .show_symbol(false)
                .data(data),
        )
}

#[cfg(feature = "hydrate")]
pub(crate) mod client {
    use std::sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    };

    use futures::StreamExt;
    use gloo_net::websocket::{futures::WebSocket, Message};
    use gloo_timers::future::TimeoutFuture;
    use leptos::prelude::*;

    use super::{backoff_ms, LinkState, LivePoint, WINDOW};

    pub fn start(
        points: RwSignal<Vec<LivePoint>>,
        received: RwSignal<u64>,
        link: RwSignal<LinkState>,
    ) {
        let alive = Arc::new(AtomicBool::new(true));
        {
            let alive = alive.clone();
            on_cleanup(move || alive.store(false, Ordering::Relaxed));
        }
        leptos::task::spawn_local(feed(points, received, link, alive));
    }

    fn ws_url(path: &str) -> Option<String> {
        let location = window().location();
        let scheme = if location.protocol().ok()? == "https:" {
            "wss"
        } else {
            "ws"
        };
        Some(format!("{scheme}://{}{path}", location.host().ok()?))
    }

    async fn feed(
        points: RwSignal<Vec<LivePoint>>,
        received: RwSignal<u64>,
        link: RwSignal<LinkState>,
        alive: Arc<AtomicBool>,
    ) {
        run("/ws", link, alive, move |message| {
            let types::LiveMessage::DbSample(point) = message else {
                return false;
            };
            received.update(|n| *n += 1);
            points.update(|p| {
                p.push(point);
                if p.len() > WINDOW {
                    p.drain(..p.len() - WINDOW);
                }
            });
            true
        })
        .await
    }

    /// Keeps a WebSocket to `path` open until `alive` is cleared, reconnecting with
    /// back-off and jitter. `on_message` gets every message; it returns whether the message
    /// proves the link is up (the server greets every connection, so the first one does).
    /// After a reconnect the link reports `Connected` again, which is a subscriber's cue to
    /// refetch what it may have missed.
    pub async fn run(
        path: &'static str,
        link: RwSignal<LinkState>,
        alive: Arc<AtomicBool>,
        mut on_message: impl FnMut(types::LiveMessage) -> bool + 'static,
    ) {
        let mut attempt = 0u32;
        while alive.load(Ordering::Relaxed) {
            if let Some(mut ws) = ws_url(path).and_then(|url| WebSocket::open(&url).ok()) {
                while let Some(message) = ws.next().await {
                    if !alive.load(Ordering::Relaxed) {
                        return;
                    }
                    let Ok(Message::Text(text)) = message else {
                        break;
                    };
                    let Ok(message) = serde_json::from_str::<types::LiveMessage>(&text) else {
                        continue;
                    };
                    if on_message(message) && link.get_untracked() != LinkState::Connected {
                        attempt = 0;
                        link.set(LinkState::Connected);
                    }
                }
            }
            if !alive.load(Ordering::Relaxed) {
                return;
            }
            attempt += 1;
            link.set(LinkState::Reconnecting { attempt });
            let base = backoff_ms(attempt);
            let jitter = (js_sys::Math::random() * f64::from(base) * 0.25) as u32;
            TimeoutFuture::new(base + jitter).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_then_caps() {
        let delays: Vec<u32> = (1..=8).map(backoff_ms).collect();
        assert_eq!(delays, [250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
    }
}
