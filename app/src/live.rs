//! The live feed: a WebSocket client that survives server restarts, and the chart it drives.

use leptos::prelude::*;

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
            <div id="live-chart" class="chart" role="img" aria-label="Transactions per second"></div>
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

#[cfg(feature = "hydrate")]
mod client {
    use std::sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    };

    use charming::{
        component::Axis,
        element::{AxisType, Tooltip, Trigger},
        series::Line,
        theme::Theme,
        Chart, Echarts, WasmRenderer,
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

        // The effect keeps the ECharts handle as its state: created on the first run, updated
        // after that.
        Effect::new(move |handle: Option<Option<Echarts>>| {
            let chart = points.with(|p| build_chart(p));
            match handle.flatten() {
                Some(echarts) => {
                    WasmRenderer::update(&echarts, &chart);
                    Some(echarts)
                }
                None => match WasmRenderer::new_opt(None, Some(260))
                    .theme(Theme::Dark)
                    .render("live-chart", &chart)
                {
                    Ok(echarts) => Some(echarts),
                    Err(e) => {
                        leptos::logging::error!("chart: {e:?}");
                        None
                    }
                },
            }
        });
    }

    fn build_chart(points: &[LivePoint]) -> Chart {
        let data: Vec<Vec<f64>> = points.iter().map(|p| vec![p.ts_ms as f64, p.tps]).collect();
        Chart::new()
            .background_color("transparent")
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

    fn ws_url() -> Option<String> {
        let location = window().location();
        let scheme = if location.protocol().ok()? == "https:" {
            "wss"
        } else {
            "ws"
        };
        Some(format!("{scheme}://{}/ws", location.host().ok()?))
    }

    async fn feed(
        points: RwSignal<Vec<LivePoint>>,
        received: RwSignal<u64>,
        link: RwSignal<LinkState>,
        alive: Arc<AtomicBool>,
    ) {
        let mut attempt = 0u32;
        while alive.load(Ordering::Relaxed) {
            if let Some(mut ws) = ws_url().and_then(|url| WebSocket::open(&url).ok()) {
                while let Some(message) = ws.next().await {
                    if !alive.load(Ordering::Relaxed) {
                        return;
                    }
                    let Ok(Message::Text(text)) = message else {
                        break;
                    };
                    let Ok(types::LiveMessage::DbSample(point)) =
                        serde_json::from_str::<types::LiveMessage>(&text)
                    else {
                        continue;
                    };
                    // The server greets every connection with its latest point, so the first
                    // message is the proof that the link is up.
                    attempt = 0;
                    link.set(LinkState::Connected);
                    received.update(|n| *n += 1);
                    points.update(|p| {
                        p.push(point);
                        if p.len() > WINDOW {
                            p.drain(..p.len() - WINDOW);
                        }
                    });
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
