//! A widget's settings panel in edit mode: its title, what a time series splits by and
//! measures, how it draws, and a range and filters of its own over the page's. It offers
//! only what the widget kind takes and what the reader may see (the people and teams come
//! from the reader's own choices); the save checks it all again on the server.

use crate::components::for_the_render;
use leptos::prelude::*;
use types::boards::{ChartKind, Placed, MAX_NAME_CHARS};
use types::dashboard::{Audience, Choice, Filters, Measure, Preset, Split};

use crate::{api::dashboard::get_choices, widgets::WidgetSpec};

/// The panel's answer: `placed` with the fields as set, or the first field that is wrong.
#[allow(clippy::too_many_arguments)]
pub fn settings(
    placed: &Placed,
    spec: &WidgetSpec,
    title: &str,
    split: &str,
    measure: &str,
    chart: &str,
    range: &str,
    pick: [&str; 2],
    text: [&str; 3],
) -> Result<Placed, (&'static str, String)> {
    let mut p = placed.clone();
    let title = title.trim();
    if title.chars().count() > MAX_NAME_CHARS {
        return Err((
            "cfg-title",
            format!("A title is at most {MAX_NAME_CHARS} characters."),
        ));
    }
    // The catalogue's title needs no copy.
    p.title = (!title.is_empty() && title != spec.title).then(|| title.to_string());
    if spec.is_series() {
        p.split = Split::parse(split);
        p.measure = Measure::parse(measure);
    }
    p.chart = ChartKind::parse(chart).filter(|c| spec.charts().contains(c));
    if spec.charts().first() == p.chart.as_ref() {
        p.chart = None;
    }
    if !spec.takes_filters() {
        p.filters = Filters::default();
        return Ok(p);
    }
    let [person, team] = pick;
    let [project, model, tool] = text;
    let word = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    for (field, v) in [
        ("cfg-project", project),
        ("cfg-model", model),
        ("cfg-tool", tool),
    ] {
        if v.trim().len() > 200 {
            return Err((field, "At most 200 characters.".into()));
        }
    }
    p.filters = Filters {
        range: Preset::parse(range),
        from: None,
        to: None,
        grain: None,
        person: person.parse().ok(),
        team: team.parse().ok(),
        project: word(project),
        model: word(model),
        tool: word(tool),
    };
    Ok(p)
}

#[component]
pub(super) fn Configure(
    placed: Placed,
    spec: &'static WidgetSpec,
    audience: Audience,
    /// The page's filters, for the choices offered.
    q: Memo<String>,
    on_apply: Callback<Placed>,
    on_close: Callback<()>,
) -> impl IntoView {
    let f = placed.filters.clone();
    let text = |v: &Option<String>| RwSignal::new(v.clone().unwrap_or_default());
    let title = RwSignal::new(placed.title.clone().unwrap_or_default());
    let split = RwSignal::new(
        placed
            .split
            .map(|s| s.as_str())
            .unwrap_or_default()
            .to_string(),
    );
    let measure = RwSignal::new(
        placed
            .measure
            .map(|m| m.as_str())
            .unwrap_or_default()
            .to_string(),
    );
    let chart = RwSignal::new(
        placed
            .chart
            .map(|c| c.as_str())
            .unwrap_or_default()
            .to_string(),
    );
    let range = RwSignal::new(f.range.map(|r| r.as_str()).unwrap_or_default().to_string());
    let person = RwSignal::new(f.person.map(|p| p.to_string()).unwrap_or_default());
    let team = RwSignal::new(f.team.map(|t| t.to_string()).unwrap_or_default());
    let (project, model, tool) = (text(&f.project), text(&f.model), text(&f.tool));
    let error = RwSignal::new(None::<String>);
    let choices = Resource::new(move || q.get_untracked(), get_choices);
    let first = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = first.get() {
            let _ = input.focus();
        }
    });
    let key = placed.key.clone();
    let placed = StoredValue::new(placed);
    let apply = move || {
        let result = placed.with_value(|p| {
            settings(
                p,
                spec,
                &title.get_untracked(),
                &split.get_untracked(),
                &measure.get_untracked(),
                &chart.get_untracked(),
                &range.get_untracked(),
                [&person.get_untracked(), &team.get_untracked()],
                [
                    &project.get_untracked(),
                    &model.get_untracked(),
                    &tool.get_untracked(),
                ],
            )
        });
        match result {
            Ok(p) => on_apply.run(p),
            Err((field, message)) => {
                error.set(Some(message));
                super::arrange::focus(field);
            }
        }
    };
    let select = |id: &'static str,
                  label: &'static str,
                  value: RwSignal<String>,
                  options: Vec<(String, String)>| {
        view! {
            <label>
                {label}
                <select id=id on:change=move |ev| value.set(event_target_value(&ev))>
                    {options
                        .into_iter()
                        .map(|(v, text)| {
                            let selected = value.get_untracked() == v;
                            view! { <option value=v selected=selected>{text}</option> }
                        })
                        .collect_view()}
                </select>
            </label>
        }
    };
    let input =
        |id: &'static str, label: &'static str, value: RwSignal<String>, list: &'static str| {
            view! {
                <label>
                    {label}
                    <input
                        id=id
                        list=list
                        placeholder="The page's"
                        prop:value=move || value.get()
                        on:input=move |ev| value.set(event_target_value(&ev))
                    />
                </label>
            }
        };
    let catalogue = |all: &'static [ChartKind]| {
        all.iter()
            .enumerate()
            .map(|(i, c)| {
                let v = if i == 0 {
                    String::new()
                } else {
                    c.as_str().to_string()
                };
                (v, c.label().to_string())
            })
            .collect::<Vec<_>>()
    };
    let series = spec.is_series().then(|| {
        let splits = Split::ALL
            .into_iter()
            .filter(|s| audience.names_people() || !s.names_people())
            .map(|s| (s.as_str().to_string(), s.label().to_string()));
        let measures = Measure::ALL
            .into_iter()
            .map(|m| (m.as_str().to_string(), m.label().to_string()));
        view! {
            {select("cfg-split", "Split by", split, std::iter::once((String::new(), "The widget's default".into())).chain(splits).collect())}
            {select("cfg-measure", "Measure", measure, std::iter::once((String::new(), "The widget's default".into())).chain(measures).collect())}
        }
    });
    let charts = (!spec.charts().is_empty())
        .then(|| select("cfg-chart", "Draw as", chart, catalogue(spec.charts())));
    let picks =
        move |c: Vec<Choice>, id: &'static str, label: &'static str, value: RwSignal<String>| {
            let mut options = vec![(String::new(), "The page's".to_string())];
            // A saved pick the reader no longer sees stays visible until changed.
            let current = value.get_untracked();
            if !current.is_empty() && !c.iter().any(|o| o.value == current) {
                options.push((current.clone(), current));
            }
            options.extend(c.into_iter().map(|o| (o.value, o.label)));
            select(id, label, value, options)
        };
    let filters = spec.takes_filters().then(|| {
        let ranges = std::iter::once((String::new(), "The page's range".to_string()))
            .chain(Preset::ALL.into_iter().map(|p| (p.as_str().to_string(), p.label().to_string())))
            .collect();
        view! {
            <fieldset>
                <legend>"Its own range and filters (over the page's)"</legend>
                {select("cfg-range", "Range", range, ranges)}
                {audience.can_pick_people().then(|| view! {
                    <Transition fallback=|| view! { <p class="muted">"Loading people and teams…"</p> }>
                        {move || Suspend::new(async move {
                            let c = for_the_render(choices).await.unwrap_or_default();
                            view! {
                                {picks(c.teams, "cfg-team", "Team", team)}
                                {picks(c.people, "cfg-person", "Person", person)}
                            }
                        })}
                    </Transition>
                })}
                {input("cfg-project", "Project", project, "dl-project")}
                {input("cfg-model", "Model", model, "dl-model")}
                {input("cfg-tool", "Tool", tool, "dl-tool")}
            </fieldset>
        }
    });
    view! {
        <aside
            class="card config-panel"
            role="dialog"
            aria-labelledby="cfg-heading"
            id="widget-config"
            data-key=key
            on:keydown=move |ev| {
                if ev.key() == "Escape" {
                    ev.prevent_default();
                    on_close.run(());
                }
            }
        >
            <h2 id="cfg-heading">{format!("Configure {}", spec.title)}</h2>
            <form on:submit=move |ev| {
                ev.prevent_default();
                apply();
            }>
                <label>
                    "Title"
                    <input
                        id="cfg-title"
                        node_ref=first
                        maxlength=MAX_NAME_CHARS.to_string()
                        placeholder=spec.title
                        prop:value=move || title.get()
                        on:input=move |ev| title.set(event_target_value(&ev))
                    />
                </label>
                {series}
                {charts}
                {filters}
                {move || error.get().map(|e| view! { <p class="error" role="alert" id="cfg-error">{e}</p> })}
                <div class="actions">
                    <button type="submit" class="button" id="cfg-apply">"Apply"</button>
                    <button type="button" class="link" id="cfg-cancel" on:click=move |_| on_close.run(())>"Cancel"</button>
                </div>
            </form>
        </aside>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use types::layout::Place;

    fn series() -> &'static WidgetSpec {
        crate::widgets::find("cost_over_time").unwrap()
    }

    #[test]
    fn the_panel_keeps_only_what_the_kind_takes_and_what_differs_from_its_defaults() {
        let spec = series();
        let p = spec.placed(
            "cost_over_time",
            Place {
                x: 0,
                y: 0,
                w: 12,
                h: 10,
            },
        );
        let team = "00000000-0000-0000-0000-000000000007";
        let got = settings(
            &p,
            spec,
            "  Spend  ",
            "team",
            "tokens",
            "line",
            "7d",
            ["", team],
            ["api", " ", ""],
        )
        .unwrap();
        assert_eq!(got.title.as_deref(), Some("Spend"));
        assert_eq!(got.split, Some(Split::Team));
        assert_eq!(got.measure, Some(Measure::Tokens));
        assert_eq!(got.chart, Some(ChartKind::Line));
        assert_eq!(got.filters.range, Some(Preset::Last7Days));
        assert_eq!(
            got.filters.team.map(|t| t.to_string()).as_deref(),
            Some(team)
        );
        assert_eq!(got.filters.project.as_deref(), Some("api"));
        assert_eq!(got.filters.model, None, "blank is the page's");

        let plain = settings(&p, spec, spec.title, "", "", "", "", ["", ""], ["", "", ""]).unwrap();
        assert_eq!(plain, p, "the defaults are not written out");
        assert_eq!(
            settings(
                &p,
                spec,
                &"x".repeat(101),
                "",
                "",
                "",
                "",
                ["", ""],
                ["", "", ""]
            )
            .unwrap_err()
            .0,
            "cfg-title"
        );

        let feed = crate::widgets::find("live").unwrap();
        let f = feed.placed(
            "live",
            Place {
                x: 0,
                y: 0,
                w: 8,
                h: 8,
            },
        );
        let got = settings(
            &f,
            feed,
            "",
            "team",
            "",
            "bar",
            "7d",
            ["", ""],
            ["api", "", ""],
        )
        .unwrap();
        assert_eq!(got, f, "the live feed takes no split, chart or filters");
    }
}
