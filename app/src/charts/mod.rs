//! Charts: pure option builders (charming's types, unit-tested natively) and one `<EChart>`
//! component that draws an option in the browser. The server renders the chart's box at its
//! final size with a text alternative; the browser creates the ECharts instance once, updates
//! it when the option changes, resizes it with its box and disposes of it when it goes.

use charming::{
    component::{Axis, Grid, Legend, VisualMap},
    element::{AreaStyle, AxisType, Emphasis, Orient, Sampling, Tooltip, Trigger},
    series::{Bar, Heatmap as HeatmapSeries, Line},
    Chart,
};
use leptos::prelude::*;
use types::dashboard::{Heatmap, Series};

/// How a series is drawn over time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Stacked areas: the total and each part's share of it.
    Area,
    /// Unstacked lines: each part against the others.
    Line,
    /// Stacked bars, one per bucket.
    Bar,
}

/// A series' lines over time, drawn in `style`.
pub fn over_time(s: &Series, style: Style) -> Chart {
    let ts: Vec<f64> = s
        .buckets
        .iter()
        .map(|b| b.timestamp_millis() as f64)
        .collect();
    let mut chart = base()
        // The axis labels inside the box: ECharts' default margins are percentages, which
        // cut "12,000" to ",000" in a phone-wide widget and waste a wide one's room.
        .grid(
            Grid::new()
                .left(8)
                .right(16)
                .top(36)
                .bottom(36)
                .contain_label(true),
        )
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        .legend(
            Legend::new()
                .type_(charming::component::LegendType::Scroll)
                .bottom(0),
        )
        .x_axis(Axis::new().type_(AxisType::Time))
        .y_axis(Axis::new().type_(AxisType::Value).name(s.measure.label()));
    for line in &s.lines {
        let data: Vec<Vec<f64>> = ts
            .iter()
            .zip(&line.values)
            .map(|(t, v)| vec![*t, *v])
            .collect();
        let focus = Emphasis::new().focus(charming::element::EmphasisFocus::Series);
        chart = match style {
            Style::Area | Style::Line => {
                let mut l = Line::new()
                    .name(line.label.as_str())
                    .show_symbol(false)
                    .sampling(Sampling::Lttb)
                    .emphasis(focus);
                if style == Style::Area {
                    l = l.stack("total").area_style(AreaStyle::new());
                }
                chart.series(l.data(data))
            }
            Style::Bar => chart.series(
                Bar::new()
                    .name(line.label.as_str())
                    .stack("total")
                    .emphasis(focus)
                    .data(data),
            ),
        };
    }
    chart
}

/// Horizontal bars, largest on top: one value per label.
pub fn bars(name: &str, labels: &[String], values: &[f64]) -> Chart {
    // ECharts draws the first category at the bottom; reverse so the list reads top-down.
    let labels: Vec<String> = labels.iter().rev().cloned().collect();
    let values: Vec<f64> = values.iter().rev().copied().collect();
    base()
        .grid(
            Grid::new()
                .left(8)
                .right(24)
                .top(8)
                .bottom(8)
                .contain_label(true),
        )
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        // Few ticks: the bars sit in a narrow widget, where five labels ran into each other.
        .x_axis(Axis::new().type_(AxisType::Value).split_number(3))
        .y_axis(Axis::new().type_(AxisType::Category).data(labels))
        .series(Bar::new().name(name).data(values))
}

pub const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// Weekday × hour of day.
pub fn heatmap(h: &Heatmap) -> Chart {
    let hours: Vec<String> = (0..24).map(|h| format!("{h:02}")).collect();
    let mut data: Vec<charming::datatype::DataFrame> = Vec::with_capacity(7 * 24);
    let mut max = 0i64;
    for (d, row) in h.cells.iter().enumerate() {
        for (hour, v) in row.iter().enumerate() {
            max = max.max(*v);
            data.push(vec![
                (hour as f64).into(),
                (d as f64).into(),
                (*v as f64).into(),
            ]);
        }
    }
    base()
        .tooltip(Tooltip::new())
        .grid(
            Grid::new()
                .left(8)
                .right(8)
                .top(8)
                .bottom(56)
                .contain_label(true),
        )
        .x_axis(Axis::new().type_(AxisType::Category).data(hours))
        .y_axis(
            Axis::new()
                .type_(AxisType::Category)
                .data(WEEKDAYS.iter().map(|d| d.to_string()).collect())
                .inverse(true),
        )
        .visual_map(
            VisualMap::new()
                .min(0)
                .max(max.max(1) as f64)
                .calculable(true)
                .orient(Orient::Horizontal)
                .left("center")
                .bottom(0),
        )
        .series(HeatmapSeries::new().name("Activity").data(data))
}

fn base() -> Chart {
    // Live panels redraw often: animation would make every refetch wobble.
    Chart::new()
        .background_color("transparent")
        .animation(false)
}

/// An option as the JSON ECharts' `setOption` takes.
pub fn to_json(chart: &Chart) -> String {
    serde_json::to_string(chart).expect("chart options serialise")
}

/// One chart. `option` is the builder's JSON; the box is `height` pixels tall from the first
/// render, so nothing moves when the chart is drawn. `label` is its text alternative.
#[component]
pub fn EChart(
    id: String,
    #[prop(into)] option: Signal<String>,
    label: String,
    #[prop(default = 260)] height: u32,
) -> impl IntoView {
    #[cfg(feature = "hydrate")]
    client::draw(id.clone(), option);
    #[cfg(not(feature = "hydrate"))]
    let _ = option;
    view! {
        <div
            id=id
            class="chart"
            role="img"
            aria-label=label
            style=format!("height:{height}px")
        ></div>
    }
}

#[cfg(feature = "hydrate")]
mod client {
    use leptos::prelude::*;
    use send_wrapper::SendWrapper;
    use wasm_bindgen::{prelude::*, JsCast};

    #[wasm_bindgen]
    extern "C" {
        /// An ECharts instance (the `echarts` global comes from /echarts.min.js).
        type Instance;
        #[wasm_bindgen(js_namespace = echarts, js_name = init)]
        fn init(el: &web_sys::HtmlElement, theme: JsValue) -> Instance;
        #[wasm_bindgen(method, js_name = setOption)]
        fn set_option(this: &Instance, option: JsValue, not_merge: bool);
        #[wasm_bindgen(method)]
        fn resize(this: &Instance);
        #[wasm_bindgen(method)]
        fn dispose(this: &Instance);
    }

    fn dark() -> bool {
        document()
            .document_element()
            .and_then(|e| e.get_attribute("data-theme"))
            .map(|t| t == "dark")
            .unwrap_or_else(|| {
                window()
                    .match_media("(prefers-color-scheme: dark)")
                    .ok()
                    .flatten()
                    .is_some_and(|m| m.matches())
            })
    }

    struct Drawn {
        chart: Instance,
        dark: bool,
        observer: web_sys::ResizeObserver,
        _on_resize: Closure<dyn FnMut()>,
    }

    pub fn draw(id: String, option: Signal<String>) {
        let drawn: StoredValue<Option<SendWrapper<Drawn>>> = StoredValue::new(None);
        let theme = use_context::<crate::components::theme::ThemeChoice>();
        Effect::new(move |_| {
            let json = option.get();
            // A theme is fixed when ECharts creates an instance: a new theme, a new instance.
            if let Some(t) = theme {
                t.0.track();
            }
            let Ok(parsed) = js_sys::JSON::parse(&json) else {
                return;
            };
            let dark_now = dark();
            if drawn.with_value(|d| d.as_ref().is_some_and(|d| d.dark != dark_now)) {
                if let Some(Some(d)) = drawn.try_update_value(|d| d.take()) {
                    d.observer.disconnect();
                    d.chart.dispose();
                }
            }
            let created = drawn.with_value(|d| d.is_some());
            if !created {
                let Some(el) = document()
                    .get_element_by_id(&id)
                    .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
                else {
                    return;
                };
                let chart = init(
                    &el,
                    if dark_now {
                        JsValue::from_str("dark")
                    } else {
                        JsValue::NULL
                    },
                );
                let handle = chart.unchecked_ref::<JsValue>().clone();
                // Resized with its box (a window resize, a layout change), not per frame.
                let on_resize = Closure::<dyn FnMut()>::new(move || {
                    handle.unchecked_ref::<Instance>().resize();
                });
                let Ok(observer) = web_sys::ResizeObserver::new(on_resize.as_ref().unchecked_ref())
                else {
                    return;
                };
                observer.observe(&el);
                drawn.set_value(Some(SendWrapper::new(Drawn {
                    chart,
                    dark: dark_now,
                    observer,
                    _on_resize: on_resize,
                })));
            }
            drawn.with_value(|d| {
                if let Some(d) = d {
                    // Replace, not merge: a line that left the data must leave the chart.
                    d.chart.set_option(parsed, true);
                }
            });
        });
        on_cleanup(move || {
            if let Some(Some(d)) = drawn.try_update_value(|d| d.take()) {
                d.observer.disconnect();
                d.chart.dispose();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use serde_json::Value;
    use types::dashboard::{Line as DataLine, Measure, Split, Window};
    use types::Grain;

    use super::*;

    /// charming writes a lone axis as an object, several as an array.
    fn first(v: &Value) -> &Value {
        if v.is_array() {
            &v[0]
        } else {
            v
        }
    }

    fn window() -> Window {
        let t = |d| Utc.with_ymd_and_hms(2025, 9, d, 0, 0, 0).unwrap();
        Window {
            from: t(1),
            to: t(3),
            previous_from: Utc.with_ymd_and_hms(2025, 8, 30, 0, 0, 0).unwrap(),
            tz: "UTC".into(),
            grain: Grain::Day,
            label: "x".into(),
        }
    }

    #[test]
    fn a_series_becomes_stacked_lines_at_its_bucket_times() {
        let w = window();
        let s = Series {
            buckets: vec![w.from, w.from + chrono::TimeDelta::days(1)],
            window: w,
            split: Split::Model,
            measure: Measure::Cost,
            lines: vec![
                DataLine {
                    key: "opus".into(),
                    label: "opus".into(),
                    values: vec![1.5, 2.0],
                },
                DataLine {
                    key: "haiku".into(),
                    label: "haiku".into(),
                    values: vec![0.1, 0.0],
                },
            ],
        };
        let v: Value = serde_json::from_str(&to_json(&over_time(&s, Style::Area))).unwrap();
        assert_eq!(first(&v["xAxis"])["type"], "time");
        assert_eq!(first(&v["yAxis"])["name"], "Cost (USD)");
        let series = v["series"].as_array().unwrap();
        assert_eq!(series.len(), 2);
        assert_eq!(series[0]["name"], "opus");
        assert_eq!(series[0]["stack"], "total");
        assert_eq!(series[0]["sampling"], "lttb");
        assert_eq!(series[0]["data"][1][0], 1_756_771_200_000.0);
        assert_eq!(series[0]["data"][1][1], 2.0);
        assert_eq!(v["animation"], false);
        assert!(series[0]["areaStyle"].is_object());
        assert_eq!(
            first(&v["grid"])["containLabel"],
            true,
            "labels inside the box"
        );

        let lines: Value = serde_json::from_str(&to_json(&over_time(&s, Style::Line))).unwrap();
        assert_eq!(lines["series"][0]["type"], "line");
        assert!(lines["series"][0]["stack"].is_null(), "lines stand apart");
        assert!(lines["series"][0]["areaStyle"].is_null());
        let bars: Value = serde_json::from_str(&to_json(&over_time(&s, Style::Bar))).unwrap();
        assert_eq!(bars["series"][1]["type"], "bar");
        assert_eq!(bars["series"][1]["stack"], "total");
        assert_eq!(bars["series"][1]["data"][0][1], 0.1);
    }

    #[test]
    fn bars_read_top_down() {
        let v: Value = serde_json::from_str(&to_json(&bars(
            "Executions",
            &["Read".into(), "Edit".into()],
            &[10.0, 4.0],
        )))
        .unwrap();
        assert_eq!(first(&v["yAxis"])["data"][0], "Edit");
        assert_eq!(v["series"][0]["data"][1], 10.0);
        assert_eq!(
            first(&v["xAxis"])["splitNumber"],
            3.0,
            "few ticks in a narrow widget"
        );
    }

    #[test]
    fn the_heatmap_has_a_cell_per_weekday_and_hour() {
        let mut cells = vec![vec![0; 24]; 7];
        cells[0][9] = 12;
        let v: Value = serde_json::from_str(&to_json(&heatmap(&Heatmap {
            window: window(),
            cells,
        })))
        .unwrap();
        let data = v["series"][0]["data"].as_array().unwrap();
        assert_eq!(data.len(), 168);
        assert!(data
            .iter()
            .any(|c| c[0] == 9.0 && c[1] == 0.0 && c[2] == 12.0));
        assert_eq!(first(&v["visualMap"])["max"], 12.0);
    }
}
