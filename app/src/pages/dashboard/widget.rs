//! One widget box and the kinds of content it holds: each reads its own server function
//! with the page's filters (and its own, from the board), renders its numbers on the server
//! and draws its chart in the browser.

use crate::components::for_the_render;
use leptos::prelude::*;
use leptos_router::components::A;
use types::boards::ChartKind;
use types::dashboard::{
    median, Audience, Breakdown, Dimension, Measure, Row, Series, SessionSort, Split,
};

use super::Ctx;
use crate::{
    api::dashboard::{
        get_activity, get_breakdown, get_heatmap, get_insights, get_series, get_sessions,
    },
    charts::{self, EChart},
    components::{
        format::{compact, duration_ms, pct, usd},
        Failed, Skeleton,
    },
    grid::Dir,
    widgets::{Kind, WidgetSpec},
};

#[component]
pub(super) fn Widget(
    spec: &'static WidgetSpec,
    ctx: Ctx,
    audience: Audience,
    key: String,
    title: String,
    style: Signal<String>,
    /// "x,y,w,h" on the 24-column grid, for tests and people debugging.
    place: Signal<String>,
    editing: Signal<bool>,
    held: Signal<bool>,
    on_key: Callback<leptos::ev::KeyboardEvent>,
    on_step: Callback<(Dir, bool)>,
    on_drag: Callback<(leptos::ev::PointerEvent, bool)>,
    on_drag_move: Callback<leptos::ev::PointerEvent>,
    on_drag_end: Callback<leptos::ev::PointerEvent>,
    on_remove: Callback<()>,
    on_duplicate: Callback<()>,
    on_configure: Callback<()>,
    /// Its own range and filters in words (empty: the page's).
    own: String,
    /// A time series' split and measure, as the board sets them.
    #[prop(optional)]
    split: Option<Split>,
    #[prop(optional)] measure: Option<Measure>,
    /// How it draws (`None`: its kind draws one way).
    chart: Option<ChartKind>,
) -> impl IntoView {
    let (placed_split, placed_measure) = (split, measure);
    let as_table = chart == Some(ChartKind::Table);
    let title_id = format!("w-{key}-title");
    let export = move |format: &str| {
        format!(
            "/api/v1/dashboard/charts?widget={}&format={format}&{}",
            spec.id,
            ctx.q.get()
        )
    };
    let body = match spec.kind {
        Kind::TimeSeries => {
            let style = match chart {
                Some(ChartKind::Line) => charts::Style::Line,
                Some(ChartKind::Bar) => charts::Style::Bar,
                _ => charts::Style::Area,
            };
            view! { <SeriesWidget spec ctx audience key=key.clone() split=placed_split measure=placed_measure style as_table /> }.into_any()
        }
        Kind::Bars | Kind::Table => {
            view! { <BreakdownWidget spec ctx key=key.clone() as_table /> }.into_any()
        }
        Kind::Heatmap => view! { <HeatmapWidget spec ctx key=key.clone() as_table /> }.into_any(),
        Kind::Sessions => view! { <SessionsWidget ctx /> }.into_any(),
        Kind::Feed => view! { <LiveWidget ctx /> }.into_any(),
        Kind::Insights => view! { <InsightsWidget ctx /> }.into_any(),
        Kind::Budgets => view! { <BudgetsWidget ctx /> }.into_any(),
    };
    let buttons = {
        let title = title.clone();
        let key = key.clone();
        move || {
            let b = |id: &str, dir: Dir, resize: bool, label: String, text: &'static str| {
                view! {
                    <button
                        type="button"
                        class="step"
                        id=id.to_string()
                        aria-label=label
                        on:click=move |_| on_step.run((dir, resize))
                    >
                        {text}
                    </button>
                }
            };
            let act = |what: &str,
                       label: String,
                       tip: &'static str,
                       text: &'static str,
                       run: Callback<()>| {
                view! {
                    <button
                        type="button"
                        class=format!("step {what}")
                        id=format!("w-{key}-{what}")
                        aria-label=label
                        title=tip
                        on:click=move |_| run.run(())
                    >
                        {text}
                    </button>
                }
            };
            let t = &title;
            view! {
                <span class="steps" role="group" aria-label=format!("Arrange {t}")>
                    {b(&format!("w-{key}-left"), Dir::Left, false, format!("Move {t} left"), "←")}
                    {b(&format!("w-{key}-right"), Dir::Right, false, format!("Move {t} right"), "→")}
                    {b(&format!("w-{key}-up"), Dir::Up, false, format!("Move {t} up"), "↑")}
                    {b(&format!("w-{key}-down"), Dir::Down, false, format!("Move {t} down"), "↓")}
                    {b(&format!("w-{key}-narrower"), Dir::Left, true, format!("Make {t} narrower"), "⇠")}
                    {b(&format!("w-{key}-wider"), Dir::Right, true, format!("Make {t} wider"), "⇢")}
                    {b(&format!("w-{key}-shorter"), Dir::Up, true, format!("Make {t} shorter"), "⇡")}
                    {b(&format!("w-{key}-taller"), Dir::Down, true, format!("Make {t} taller"), "⇣")}
                    {act("configure", format!("Configure {t}"), "Configure", "⚙", on_configure)}
                    {act("duplicate", format!("Duplicate {t}"), "Duplicate", "⊞", on_duplicate)}
                    {act("remove", format!("Remove {t}"), "Remove", "✕", on_remove)}
                </span>
            }
        }
    };
    let heading = title.clone();
    let key_for_export = StoredValue::new(key.clone());
    let key_for_export = move || key_for_export.get_value();
    view! {
        <section
            class="widget card"
            class:held=move || held.get()
            id=format!("w-{key}")
            data-key=key.clone()
            data-place=move || place.get()
            aria-labelledby=format!("w-{key}-title")
            aria-roledescription=move || editing.get().then_some("movable widget")
            tabindex=move || editing.get().then_some("0")
            style=move || style.get()
            on:keydown=move |ev| on_key.run(ev)
        >
            <header
                class="widget-head"
                on:pointerdown=move |ev| if editing.get_untracked() { on_drag.run((ev, false)) }
                on:pointermove=move |ev| if editing.get_untracked() { on_drag_move.run(ev) }
                on:pointerup=move |ev| if editing.get_untracked() { on_drag_end.run(ev) }
                on:pointercancel=move |ev| if editing.get_untracked() { on_drag_end.run(ev) }
            >
                <h2 id=title_id title=spec.about>{heading}</h2>
                <Show when=move || editing.get() fallback=move || view! {
                    <span class="exports">
                        <a href=move || export("csv") download="" id=format!("w-{}-csv", key_for_export())>"CSV"</a>
                        <a href=move || export("json") target="_blank" rel="noopener" id=format!("w-{}-json", key_for_export())>"JSON"</a>
                    </span>
                }>
                    {buttons.clone()}
                </Show>
            </header>
            <p class="muted about">{spec.about}</p>
            {(!own.is_empty()).then(|| view! {
                <p class="own-filters" id=format!("w-{key}-own")>{format!("Own settings: {own}")}</p>
            })}
            <div class="widget-body" tabindex="0">{body}</div>
            <Show when=move || editing.get()>
                <div
                    class="resize-handle"
                    aria-hidden="true"
                    title="Drag to resize"
                    on:pointerdown=move |ev| on_drag.run((ev, true))
                    on:pointermove=move |ev| on_drag_move.run(ev)
                    on:pointerup=move |ev| on_drag_end.run(ev)
                    on:pointercancel=move |ev| on_drag_end.run(ev)
                ></div>
            </Show>
        </section>
    }
}

/// A toggle between a chart and its table (the text alternative anyone can switch to).
#[component]
fn TableToggle(id: String, shown: RwSignal<bool>) -> impl IntoView {
    view! {
        <button
            type="button"
            class="link table-toggle"
            id=format!("w-{id}-toggle")
            aria-pressed=move || shown.get().to_string()
            on:click=move |_| shown.update(|s| *s = !*s)
        >
            {move || if shown.get() { "Show chart" } else { "Show table" }}
        </button>
    }
}

fn measure_value(m: Measure, v: f64) -> String {
    match m {
        Measure::Cost => usd(v),
        _ => compact(v),
    }
}

#[component]
fn SeriesWidget(
    spec: &'static WidgetSpec,
    ctx: Ctx,
    audience: Audience,
    key: String,
    /// The board's choice, else the catalogue's.
    split: Option<Split>,
    measure: Option<Measure>,
    style: charts::Style,
    /// Starts as its table.
    as_table: bool,
) -> impl IntoView {
    let types::dashboard::Query::Series {
        split: default_split,
        measure: default_measure,
    } = spec.query
    else {
        unreachable!("a time series widget reads a series")
    };
    let split = RwSignal::new(split.unwrap_or(default_split));
    let measure = RwSignal::new(measure.unwrap_or(default_measure));
    let table = RwSignal::new(as_table);
    let data = Resource::new(
        move || (ctx.q.get(), split.get(), measure.get(), ctx.tick.get()),
        |(q, s, m, _)| get_series(q, s, m),
    );
    let splits: Vec<Split> = Split::ALL
        .into_iter()
        .filter(|s| audience.names_people() || !s.names_people())
        .collect();
    let chart_id = StoredValue::new(format!("chart-{key}"));
    let chart_id = move || chart_id.get_value();
    let summary_id = StoredValue::new(format!("w-{key}-summary"));
    view! {
        <div class="controls">
            <label>
                "Split"
                <select
                    id=format!("w-{key}-split")
                    on:change=move |ev| {
                        if let Some(s) = Split::parse(&event_target_value(&ev)) {
                            split.set(s)
                        }
                    }
                >
                    {splits
                        .into_iter()
                        .map(|s| view! { <option value=s.as_str() selected=move || split.get() == s>{s.label()}</option> })
                        .collect_view()}
                </select>
            </label>
            <label>
                "Measure"
                <select
                    id=format!("w-{key}-measure")
                    on:change=move |ev| {
                        if let Some(m) = Measure::parse(&event_target_value(&ev)) {
                            measure.set(m)
                        }
                    }
                >
                    {Measure::ALL
                        .into_iter()
                        .map(|m| view! { <option value=m.as_str() selected=move || measure.get() == m>{m.label()}</option> })
                        .collect_view()}
                </select>
            </label>
            <TableToggle id=key.clone() shown=table />
        </div>
        <Transition fallback=move || view! { <Skeleton height=spec.height_px() - 120 /> }>
            {move || Suspend::new(async move {
                match for_the_render(data).await {
                    Ok(s) => {
                        let summary = series_summary(&s);
                        // Built only where it is drawn: the server sends the data, not options.
                        let option = Signal::derive({
                            let s = s.clone();
                            move || charts::to_json(&charts::over_time(&s, style))
                        });
                        view! {
                            <p class="sr-summary" id=summary_id.get_value()>{summary.clone()}</p>
                            <Show when=move || !table.get() fallback={
                                let s = s.clone();
                                move || view! { <SeriesTable series=s.clone() /> }
                            }>
                                <EChart id=chart_id() option label=summary.clone() height=spec.height_px() - 130 />
                            </Show>
                        }
                            .into_any()
                    }
                    Err(e) => view! { <Failed error=e /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// "Cost (USD) by model: $19.81 in total; largest claude-opus… $10.30."
pub fn series_summary(s: &Series) -> String {
    let total: f64 = s.lines.iter().flat_map(|l| &l.values).sum();
    let largest = s
        .lines
        .first()
        .map(|l| {
            format!(
                "; largest {} {}",
                l.label,
                measure_value(s.measure, l.values.iter().sum())
            )
        })
        .unwrap_or_default();
    format!(
        "{} {}: {} in total over {} buckets{largest}.",
        s.measure.label(),
        s.split.label(),
        measure_value(s.measure, total),
        s.buckets.len()
    )
}

#[component]
fn SeriesTable(series: Series) -> impl IntoView {
    let m = series.measure;
    let head = series
        .lines
        .iter()
        .map(|l| view! { <th scope="col">{l.label.clone()}</th> })
        .collect_view();
    let rows = series
        .buckets
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let cells = series
                .lines
                .iter()
                .map(|l| view! { <td class="num">{measure_value(m, l.values[i])}</td> })
                .collect_view();
            view! {
                <tr>
                    <th scope="row">{b.format("%Y-%m-%d %H:%M").to_string()}</th>
                    {cells}
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap" tabindex="0" role="region" aria-label="Chart data">
            <table class="table">
                <thead>
                    <tr>
                        <th scope="col">"Bucket (UTC)"</th>
                        {head}
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

#[component]
fn BreakdownWidget(
    spec: &'static WidgetSpec,
    ctx: Ctx,
    key: String,
    as_table: bool,
) -> impl IntoView {
    let types::dashboard::Query::Breakdown { by } = spec.query else {
        unreachable!("a breakdown widget reads a breakdown")
    };
    let table = RwSignal::new(spec.kind == Kind::Table || as_table);
    let data = Resource::new(
        move || (ctx.q.get(), ctx.tick.get()),
        move |(q, _)| get_breakdown(q, by),
    );
    let chart_id = StoredValue::new(format!("chart-{key}"));
    let chart_id = move || chart_id.get_value();
    view! {
        {(spec.kind == Kind::Bars).then(|| view! { <div class="controls"><TableToggle id=key.clone() shown=table /></div> })}
        <Transition fallback=move || view! { <Skeleton height=spec.height_px() - 100 /> }>
            {move || Suspend::new(async move {
                match for_the_render(data).await {
                    Ok(b) => {
                        let (name, values): (&str, Vec<f64>) = match by {
                            Dimension::Tool => ("Executions", b.rows.iter().map(|r| r.counts.tool_executions as f64).collect()),
                            _ => ("Cost (USD)", b.rows.iter().map(|r| r.counts.cost_usd).collect()),
                        };
                        let labels: Vec<String> = b.rows.iter().map(|r| r.label.clone()).collect();
                        let summary = format!(
                            "{} {}: {}",
                            name,
                            by.as_str(),
                            b.rows
                                .iter()
                                .zip(&values)
                                .take(5)
                                .map(|(r, v)| format!("{} {}", r.label, if by == Dimension::Tool { compact(*v) } else { usd(*v) }))
                                .collect::<Vec<_>>()
                                .join(", ")
                        );
                        let option = Signal::derive(move || charts::to_json(&charts::bars(name, &labels, &values)));
                        let height = spec.height_px() - 130;
                        view! {
                            <p class="sr-summary">{summary.clone()}</p>
                            <Show when=move || table.get() fallback={
                                let summary = summary.clone();
                                move || view! { <EChart id=chart_id() option label=summary.clone() height /> }
                            }>
                                <BreakdownTable breakdown=b.clone() />
                            </Show>
                        }
                            .into_any()
                    }
                    Err(e) => view! { <Failed error=e /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The columns a breakdown table can sort by.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Col {
    Name,
    Sessions,
    Cost,
    CostPerSession,
    LinesPerHour,
    Success,
    Accept,
    Executions,
}

fn col_value(c: Col, r: &Row) -> Option<f64> {
    let k = r.kpis();
    let active_h =
        (r.counts.activity.active_user_ms + r.counts.activity.active_cli_ms) as f64 / 3.6e6;
    match c {
        Col::Name => None,
        Col::Sessions => Some(r.sessions as f64),
        Col::Cost => Some(r.counts.cost_usd),
        Col::CostPerSession => (r.sessions > 0).then(|| r.counts.cost_usd / r.sessions as f64),
        Col::LinesPerHour => (active_h > 0.0)
            .then(|| (r.counts.lines_added + r.counts.lines_removed) as f64 / active_h),
        Col::Success => k.success_rate(),
        Col::Accept => k.accept_rate(),
        Col::Executions => Some(r.counts.tool_executions as f64),
    }
}

#[component]
fn BreakdownTable(breakdown: Breakdown) -> impl IntoView {
    let by = breakdown.by;
    let cols: Vec<(Col, &'static str)> = if by == Dimension::Tool {
        vec![
            (Col::Name, "Tool"),
            (Col::Executions, "Executions"),
            (Col::Success, "Success"),
        ]
    } else {
        let name = match by {
            Dimension::Person => "Person",
            Dimension::Team => "Team",
            Dimension::Project => "Project",
            _ => "Model",
        };
        vec![
            (Col::Name, name),
            (Col::Sessions, "Sessions"),
            (Col::Cost, "Cost"),
            (Col::CostPerSession, "Cost / session"),
            (Col::LinesPerHour, "Lines / active h"),
            (Col::Success, "Success"),
            (Col::Accept, "Accept"),
        ]
    };
    let sort = RwSignal::new(if by == Dimension::Tool {
        Col::Executions
    } else {
        Col::Cost
    });
    let rows = breakdown.rows.clone();
    let medians: Vec<(Col, Option<f64>)> = cols
        .iter()
        .map(|(c, _)| {
            (
                *c,
                median(rows.iter().filter_map(|r| col_value(*c, r)).collect()),
            )
        })
        .collect();
    let fmt = move |c: Col, v: Option<f64>| -> String {
        match (c, v) {
            (_, None) => "—".into(),
            (Col::Cost | Col::CostPerSession, Some(v)) => usd(v),
            (Col::Success | Col::Accept, Some(v)) => pct(v),
            (_, Some(v)) => compact(v),
        }
    };
    let head = cols
        .iter()
        .map(|(c, label)| {
            let c = *c;
            view! {
                <th scope="col" aria-sort=move || if sort.get() == c { "descending" } else { "none" }>
                    <button type="button" class="link" on:click=move |_| sort.set(c)>{*label}</button>
                </th>
            }
        })
        .collect_view();
    let extra_head = (by == Dimension::Tool)
        .then(|| view! { <th scope="col">"p50"</th><th scope="col">"p95"</th> });
    let body = move || {
        let mut rows = rows.clone();
        let c = sort.get();
        if c == Col::Name {
            rows.sort_by(|a, b| a.label.cmp(&b.label));
        } else {
            rows.sort_by(|a, b| {
                col_value(c, b)
                    .unwrap_or(f64::MIN)
                    .total_cmp(&col_value(c, a).unwrap_or(f64::MIN))
            });
        }
        rows.into_iter()
            .map(|r| {
                let cells = cols
                    .iter()
                    .skip(1)
                    .map(|(c, _)| view! { <td class="num">{fmt(*c, col_value(*c, &r))}</td> })
                    .collect_view();
                let name = match by {
                    Dimension::Person => view! { <A href=format!("/?person={}", r.key)>{r.label.clone()}</A> }.into_any(),
                    Dimension::Team if !r.key.is_empty() => view! { <A href=format!("/?team={}", r.key)>{r.label.clone()}</A> }.into_any(),
                    Dimension::Project if !r.key.is_empty() => view! { <A href=format!("/?project={}", types::dashboard::encode(&r.key))>{r.label.clone()}</A> }.into_any(),
                    _ => view! { {r.label.clone()} }.into_any(),
                };
                let extra = (by == Dimension::Tool).then(|| {
                    view! {
                        <td class="num">{r.p50_ms.map(|v| duration_ms(v as f64)).unwrap_or_else(|| "—".into())}</td>
                        <td class="num">{r.p95_ms.map(|v| duration_ms(v as f64)).unwrap_or_else(|| "—".into())}</td>
                    }
                });
                view! {
                    <tr data-key=r.key.clone()>
                        <th scope="row">{name}</th>
                        {cells}
                        {extra}
                    </tr>
                }
            })
            .collect_view()
    };
    let median_row = (breakdown.rows.len() > 1).then(|| {
        let cells = medians
            .iter()
            .skip(1)
            .map(|(c, v)| view! { <td class="num">{fmt(*c, *v)}</td> })
            .collect_view();
        view! {
            <tr class="median">
                <th scope="row">"Median"</th>
                {cells}
                {(by == Dimension::Tool).then(|| view! { <td></td><td></td> })}
            </tr>
        }
    });
    view! {
        <div class="table-wrap" tabindex="0" role="region" aria-label="Breakdown table">
            <table class="table breakdown" data-by=by.as_str()>
                <thead>
                    <tr>{head}{extra_head}</tr>
                </thead>
                <tbody>{body}</tbody>
                <tfoot>{median_row}</tfoot>
            </table>
        </div>
    }
}

#[component]
fn HeatmapWidget(
    spec: &'static WidgetSpec,
    ctx: Ctx,
    key: String,
    as_table: bool,
) -> impl IntoView {
    let table = RwSignal::new(as_table);
    let chart_id = StoredValue::new(format!("chart-{key}"));
    let data = Resource::new(
        move || (ctx.q.get(), ctx.tick.get()),
        |(q, _)| get_heatmap(q),
    );
    view! {
        <div class="controls"><TableToggle id=key.clone() shown=table /></div>
        <Transition fallback=move || view! { <Skeleton height=spec.height_px() - 130 /> }>
            {move || Suspend::new(async move {
                match for_the_render(data).await {
                    Ok(h) => {
                        let busiest = h
                            .cells
                            .iter()
                            .enumerate()
                            .flat_map(|(d, row)| row.iter().enumerate().map(move |(hr, v)| (d, hr, *v)))
                            .max_by_key(|(_, _, v)| *v)
                            .filter(|(_, _, v)| *v > 0)
                            .map(|(d, hr, v)| format!("busiest {} {hr:02}:00 ({v})", charts::WEEKDAYS[d]))
                            .unwrap_or_else(|| "no activity".into());
                        let summary = format!("Activity by weekday and hour ({}): {busiest}.", h.window.tz);
                        let option = Signal::derive({
                            let h = h.clone();
                            move || charts::to_json(&charts::heatmap(&h))
                        });
                        let cells = h.cells.clone();
                        view! {
                            <p class="sr-summary">{summary.clone()}</p>
                            <Show when=move || !table.get() fallback={
                                let cells = cells.clone();
                                move || view! { <HeatmapTable cells=cells.clone() /> }
                            }>
                                <EChart id=chart_id.get_value() option label=summary.clone() height=spec.height_px() - 130 />
                            </Show>
                        }
                            .into_any()
                    }
                    Err(e) => view! { <Failed error=e /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn HeatmapTable(cells: Vec<Vec<i64>>) -> impl IntoView {
    let head = (0..24)
        .map(|h| view! { <th scope="col">{format!("{h:02}")}</th> })
        .collect_view();
    let rows = cells
        .into_iter()
        .enumerate()
        .map(|(d, row)| {
            let tds = row
                .into_iter()
                .map(|v| view! { <td class="num">{v}</td> })
                .collect_view();
            view! {
                <tr>
                    <th scope="row">{charts::WEEKDAYS[d]}</th>
                    {tds}
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap" tabindex="0" role="region" aria-label="Activity by weekday and hour">
            <table class="table heat">
                <thead><tr><th scope="col">"Day"</th>{head}</tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

#[component]
fn SessionsWidget(ctx: Ctx) -> impl IntoView {
    let sort = RwSignal::new(SessionSort::Started);
    let page = RwSignal::new(1i64);
    // A new filter starts from the first page.
    Effect::watch(move || ctx.q.get(), move |_, _, _| page.set(1), false);
    let data = Resource::new(
        move || (ctx.q.get(), sort.get(), page.get(), ctx.tick.get()),
        |(q, s, p, _)| get_sessions(q, s, p),
    );
    view! {
        <div class="controls">
            <label>
                "Sort by"
                <select
                    id="sessions-sort"
                    on:change=move |ev| {
                        if let Some(s) = SessionSort::parse(&event_target_value(&ev)) {
                            sort.set(s);
                            page.set(1);
                        }
                    }
                >
                    {SessionSort::ALL
                        .into_iter()
                        .map(|s| view! { <option value=s.as_str() selected=move || sort.get() == s>{s.as_str()}</option> })
                        .collect_view()}
                </select>
            </label>
        </div>
        <Transition fallback=|| view! { <Skeleton height=380 /> }>
            {move || Suspend::new(async move {
                match for_the_render(data).await {
                    Ok(p) => {
                        let pages = ((p.total + p.per_page - 1) / p.per_page).max(1);
                        let rows = p
                            .sessions
                            .clone()
                            .into_iter()
                            .map(|s| {
                                let end = s.ended_at.unwrap_or(s.last_seen_at);
                                let ms = (end - s.started_at).num_milliseconds().max(0) as f64;
                                view! {
                                    <tr data-session=s.id.clone()>
                                        <th scope="row">
                                            <A href=format!("/sessions/{}", s.id)>{s.email.clone().unwrap_or_default()}</A>
                                        </th>
                                        <td>{s.project.clone().unwrap_or_default()}</td>
                                        <td>{s.git_branch.clone().filter(|b| !b.is_empty()).unwrap_or_else(|| "—".into())}</td>
                                        <td>{s.model.clone().unwrap_or_default()}</td>
                                        <td>{s.started_at.format("%Y-%m-%d %H:%M").to_string()}</td>
                                        <td class="num">{duration_ms(ms)}</td>
                                        <td class="num">{s.counts.tool_executions}</td>
                                        <td class="num">{usd(s.counts.cost_usd)}</td>
                                        <td class="num">{format!("{:.1}", s.productivity_score)}</td>
                                        <td>{s.end_reason.clone().unwrap_or_default()}</td>
                                    </tr>
                                }
                            })
                            .collect_view();
                        view! {
                            <p class="muted" id="sessions-total" data-total=p.total>
                                {format!("{} sessions · page {} of {pages}", p.total, p.page)}
                            </p>
                            <div class="table-wrap" tabindex="0" role="region" aria-label="Sessions">
                                <table class="table sessions" id="sessions-table">
                                    <thead>
                                        <tr>
                                            <th scope="col">"Person"</th>
                                            <th scope="col">"Project"</th>
                                            <th scope="col">"Branch"</th>
                                            <th scope="col">"Model"</th>
                                            <th scope="col">"Started (UTC)"</th>
                                            <th scope="col">"Duration"</th>
                                            <th scope="col">"Tools"</th>
                                            <th scope="col">"Cost"</th>
                                            <th scope="col">"Score"</th>
                                            <th scope="col">"End"</th>
                                        </tr>
                                    </thead>
                                    <tbody>{rows}</tbody>
                                </table>
                            </div>
                            <div class="pager">
                                <button type="button" class="button" id="sessions-prev" disabled={p.page <= 1} on:click=move |_| page.update(|n| *n = (*n - 1).max(1))>"Previous"</button>
                                <button type="button" class="button" id="sessions-next" disabled={p.page >= pages} on:click=move |_| page.update(|n| *n += 1)>"Next"</button>
                            </div>
                        }
                            .into_any()
                    }
                    Err(e) => view! { <Failed error=e /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn LiveWidget(ctx: Ctx) -> impl IntoView {
    let data = Resource::new(move || ctx.tick.get(), |_| get_activity());
    view! {
        <Transition fallback=|| view! { <Skeleton height=300 /> }>
            {move || Suspend::new(async move {
                match for_the_render(data).await {
                    Ok(a) => {
                        let people = a
                            .people
                            .iter()
                            .map(|p| {
                                view! {
                                    <li class=format!("presence {}", p.presence.as_str())>
                                        <span class="dot" aria-hidden="true"></span>
                                        {p.name.clone().unwrap_or_default()}
                                        <span class="muted">{format!(" {} · {}", p.presence.as_str(), p.project.clone().unwrap_or_default())}</span>
                                    </li>
                                }
                            })
                            .collect_view();
                        let recent = a
                            .recent
                            .iter()
                            .map(|e| {
                                let kind = types::dashboard::kind_label(&e.kind);
                                let what = match (&e.tool, &e.model) {
                                    (Some(t), _) => format!("{kind} {t}"),
                                    (None, Some(m)) => format!("{kind} {m}"),
                                    _ => kind.to_string(),
                                };
                                view! {
                                    <li>
                                        <time datetime=e.at.to_rfc3339()>{e.at.format("%H:%M:%S").to_string()}</time>
                                        " " {what}
                                        {e.success.map(|s| if s { " ✓" } else { " ✗ failed" })}
                                        <span class="muted">{e.person.clone().map(|p| format!(" · {p}")).unwrap_or_default()}</span>
                                    </li>
                                }
                            })
                            .collect_view();
                        view! {
                            <p id="presence-counts" data-active=a.active data-idle=a.idle>
                                {format!("{} active now · {} idle", a.active, a.idle)}
                            </p>
                            <ul class="presence-list">{people}</ul>
                            <h3 class="sub">"Latest events"</h3>
                            <ul class="feed" id="live-feed" aria-live="polite" tabindex="0" aria-label="Latest events">{recent}</ul>
                        }
                            .into_any()
                    }
                    Err(e) => view! { <Failed error=e /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn InsightsWidget(ctx: Ctx) -> impl IntoView {
    let data = Resource::new(
        move || (ctx.q.get(), ctx.tick.get()),
        |(q, _)| get_insights(q),
    );
    view! {
        <Transition fallback=|| view! { <Skeleton height=160 /> }>
            {move || Suspend::new(async move {
                match for_the_render(data).await {
                    Ok(i) if i.items.is_empty() => {
                        view! { <p class="muted">"Nothing to point out in this range yet."</p> }.into_any()
                    }
                    Ok(i) => {
                        let items = i
                            .items
                            .into_iter()
                            .map(|x| {
                                let tone = serde_json::to_value(x.tone)
                                    .ok()
                                    .and_then(|v| v.as_str().map(String::from))
                                    .unwrap_or_default();
                                view! {
                                    <li class=format!("insight {tone}") data-rule=x.rule.clone()>
                                        <strong>{x.title}</strong>
                                        " "
                                        <span class="muted">{x.detail}</span>
                                        {x.link.map(|l| view! { " " <A href=l>"Look"</A> })}
                                    </li>
                                }
                            })
                            .collect_view();
                        view! { <ul class="insights" id="insights">{items}</ul> }.into_any()
                    }
                    Err(e) => view! { <Failed error=e /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The budgets the reader sees, read again whenever the feed says numbers moved.
#[component]
fn BudgetsWidget(ctx: Ctx) -> impl IntoView {
    let data = Resource::new(
        move || ctx.tick.get(),
        |_| crate::api::budgets::budget_status(),
    );
    view! {
        <Transition fallback=|| view! { <Skeleton height=160 /> }>
            {move || Suspend::new(async move {
                match for_the_render(data).await {
                    Ok(list) => view! { <crate::components::budgets::BudgetList list /> }.into_any(),
                    Err(e) => view! { <Failed error=e /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_per_row_need_their_denominator() {
        let row = Row {
            key: "k".into(),
            label: "k".into(),
            people: 1,
            sessions: 4,
            counts: types::metrics::Counts {
                cost_usd: 10.0,
                lines_added: 90,
                lines_removed: 30,
                activity: types::metrics::Activity {
                    active_user_ms: 3_600_000,
                    ..Default::default()
                },
                ..Default::default()
            },
            p50_ms: None,
            p95_ms: None,
            avg_score: None,
        };
        assert_eq!(col_value(Col::CostPerSession, &row), Some(2.5));
        assert_eq!(col_value(Col::LinesPerHour, &row), Some(120.0));
        assert_eq!(col_value(Col::Success, &row), None);
    }
}
