//! `/`: the signed-in person's dashboard. Filters live in the URL (links share it, back and
//! forward work, the server's render reads it), and so does the board shown (`board=`) and
//! the kiosk mode (`kiosk`, cycling through `boards=` every `every=` seconds). Every widget
//! reads its own server function, renders its numbers on the server, draws its chart in the
//! browser, and refetches in place when the live feed says something changed.

mod arrange;
mod configure;
mod menu;
mod widget;

use crate::components::for_the_render;
use leptos::{either::EitherOf3, prelude::*};
use leptos_router::{
    components::A,
    hooks::{use_location, use_navigate, use_query_map},
    NavigateOptions,
};
use types::boards::Opened;
use types::dashboard::{Audience, Choice, Choices, Filters, Preset};
use types::{BoardId, Grain, Role};

use crate::{
    api::{boards::open_board, dashboard::get_choices, dashboard::get_overview},
    components::{kpi::KpiTiles, sign_in_first, Failed, Skeleton},
    live::{BoardSaved, LinkIndicator, MetricsFeed},
};

/// What every widget needs from the page: the page's filters, the query string a widget
/// reads with (the page's, with the widget's own over them) and the live tick.
#[derive(Clone, Copy)]
struct Ctx {
    filters: Memo<Filters>,
    q: Memo<String>,
    tick: RwSignal<u64>,
}

/// What the URL says besides the filters: the board shown and the kiosk (TV) mode.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Shown {
    /// `None`: the reader's home.
    pub board: Option<BoardId>,
    pub kiosk: bool,
    /// In kiosk mode, the boards to cycle through.
    pub cycle: Vec<BoardId>,
    /// Seconds each board of the cycle stays.
    pub every_s: u32,
}

/// The shortest a kiosk board stays, in seconds, and how long it stays unless told.
pub const KIOSK_MIN_S: u32 = 5;
pub const KIOSK_EVERY_S: u32 = 60;

impl Shown {
    /// Reads the URL's pairs; what does not parse is left out (the filters report theirs).
    pub fn from_query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Shown {
        let mut s = Shown {
            every_s: KIOSK_EVERY_S,
            ..Shown::default()
        };
        for (k, v) in pairs {
            match k {
                "board" => s.board = v.trim().parse().ok(),
                "kiosk" => s.kiosk = !matches!(v, "0" | "false" | "no"),
                "boards" => s.cycle = v.split(',').filter_map(|b| b.trim().parse().ok()).collect(),
                "every" => {
                    if let Ok(n) = v.trim().parse::<u32>() {
                        s.every_s = n.max(KIOSK_MIN_S);
                    }
                }
                _ => {}
            }
        }
        s
    }

    /// The query string for these (without the `?`), before the filters'.
    pub fn to_query(&self) -> String {
        let mut pairs = Vec::new();
        if let Some(b) = self.board {
            pairs.push(format!("board={b}"));
        }
        if self.kiosk {
            pairs.push("kiosk=1".into());
            if !self.cycle.is_empty() {
                let ids: Vec<String> = self.cycle.iter().map(ToString::to_string).collect();
                pairs.push(format!("boards={}", ids.join(",")));
            }
            if self.every_s != KIOSK_EVERY_S {
                pairs.push(format!("every={}", self.every_s));
            }
        }
        pairs.join("&")
    }

    /// The same view of another board.
    pub fn with_board(&self, board: Option<BoardId>) -> Shown {
        Shown {
            board,
            ..self.clone()
        }
    }

    /// In a kiosk cycle, the board after the one shown (the first when the one shown is
    /// not in the cycle).
    pub fn next_in_cycle(&self) -> Option<BoardId> {
        if !self.kiosk || self.cycle.len() < 2 {
            return None;
        }
        let at = self
            .board
            .and_then(|b| self.cycle.iter().position(|c| *c == b));
        Some(match at {
            Some(i) => self.cycle[(i + 1) % self.cycle.len()],
            None => self.cycle[0],
        })
    }
}

/// The dashboard's address for `shown` with `filters`.
pub fn href(shown: &Shown, filters: &Filters) -> String {
    let q: Vec<String> = [shown.to_query(), filters.to_query()]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect();
    if q.is_empty() {
        "/".into()
    } else {
        format!("/?{}", q.join("&"))
    }
}

#[component]
pub fn DashboardPage() -> impl IntoView {
    let query = use_query_map();
    let pairs = move || -> Vec<(String, String)> {
        query.with(|q| {
            q.clone()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect()
        })
    };
    let parsed = Memo::new(move |_| {
        let pairs = pairs();
        Filters::from_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    });
    let shown = Memo::new(move |_| {
        let pairs = pairs();
        Shown::from_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    });
    let filters = Memo::new(move |_| parsed.with(|p| p.0.clone()));
    let q = Memo::new(move |_| filters.with(Filters::to_query));
    let feed = MetricsFeed::open();
    let ctx = Ctx {
        filters,
        q,
        tick: feed.tick,
    };
    let viewer = expect_context::<crate::components::viewer::ViewerResource>().0;
    // Read with the viewer, before the board's widgets exist: the widgets' own reads are
    // then made in one fixed order on the server and in the browser, which hydration needs.
    let wanted = Memo::new(move |_| shown.with(|s| s.board));
    let opened = Resource::new(move || wanted.get(), open_board);
    let location = use_location();
    let kiosk = Memo::new(move |_| shown.with(|s| s.kiosk));
    cycle(shown, filters);

    view! {
        <section class="page-head dash-head" class:kiosk-head=move || kiosk.get()>
            <h1>"Dashboard"</h1>
            <LinkIndicator link=feed.link />
            <span class="muted" id="live-events" data-count=move || feed.events.get()>
                {move || match feed.events.get() {
                    0 => String::new(),
                    n => format!("{n} new events while you watched"),
                }}
            </span>
        </section>
        <Transition fallback=move || view! { <Skeleton height=600 /> }>
            {move || Suspend::new(async move {
                let Some(v) = viewer.await.ok().flatten() else {
                    let here = format!("{}{}", location.pathname.get_untracked(), location.search.get_untracked());
                    sign_in_first(&here);
                    return EitherOf3::A(view! { <p>"Sign in to see your dashboard."</p> });
                };
                let Some(audience) = Audience::of(v.role).filter(|_| v.tenant.is_some()) else {
                    // An installation admin's home is the installation: no workspace's
                    // numbers (nor its live feed) are theirs to read here.
                    crate::components::go_instead("/system");
                    return EitherOf3::B(
                        view! {
                            <section class="card">
                                <p>
                                    "Installation admins see a workspace's numbers through its support access. "
                                    <A href="/system">"System"</A>
                                </p>
                            </section>
                        },
                    );
                };
                let now = opened.await;
                crate::components::built_by_the_render_alone().await;
                let reload = Callback::new(move |_| opened.refetch());
                // A support access sees the board as its admins do but keeps and publishes
                // nothing: its controls are a viewer's.
                let ui_role = if v.support.is_some() { Role::Viewer } else { v.role };
                EitherOf3::C(view! {
                    <Board ctx audience role=ui_role filters parsed shown opened=now reload saved=feed.board_saved />
                })
            })}
        </Transition>
    }
}

/// In a kiosk cycle, moves to the next board after `every` seconds (in the browser).
fn cycle(shown: Memo<Shown>, filters: Memo<Filters>) {
    #[cfg(feature = "hydrate")]
    {
        let navigate = leptos_router::hooks::use_navigate();
        Effect::new(move |_| {
            let s = shown.get();
            let Some(next) = s.next_in_cycle() else {
                return;
            };
            let to = href(&s.with_board(Some(next)), &filters.get_untracked());
            let navigate = navigate.clone();
            let timer = set_timeout_with_handle(
                move || navigate(&to, Default::default()),
                std::time::Duration::from_secs(u64::from(s.every_s)),
            );
            if let Ok(t) = timer {
                on_cleanup(move || t.clear());
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (shown, filters);
}

#[allow(clippy::too_many_arguments)]
#[component]
fn Board(
    ctx: Ctx,
    audience: Audience,
    role: Role,
    filters: Memo<Filters>,
    parsed: Memo<(Filters, Vec<types::FieldError>)>,
    shown: Memo<Shown>,
    opened: Result<Opened, crate::AppError>,
    reload: Callback<()>,
    saved: RwSignal<Option<BoardSaved>>,
) -> impl IntoView {
    let overview = Resource::new(
        move || (ctx.q.get(), ctx.tick.get()),
        |(q, _)| get_overview(q),
    );
    // The set of widgets changes only when a person is picked or dropped (insights).
    let one_person = Memo::new(move |_| filters.with(|f| f.person.is_some()));
    let (boards, board, error) = match opened {
        Ok(o) => (Some(o.boards), o.board, None),
        Err(e) => (None, None, Some(e)),
    };
    // Kept here, not in the arrangement: picking a person redraws the arrangement, and it
    // must start from the version last saved.
    let board = RwSignal::new(board);
    let editing = RwSignal::new(false);
    let kiosk = Memo::new(move |_| shown.with(|s| s.kiosk));
    let keeps_own = role != Role::Viewer;
    let manages = role.allows(types::Permission::DashboardManage);
    let prints = types::reports::EXPORTS.iter().any(|p| role.allows(*p));
    view! {
        <Show when=move || !kiosk.get()>
            <FilterBar filters audience q=ctx.q shown />
        </Show>
        {move || {
            parsed
                .with(|p| p.1.clone())
                .into_iter()
                .next()
                .map(|e| {
                    view! {
                        <p class="error" role="alert" id="filter-error">
                            {format!(
                                "Ignored “{}”: {}",
                                e.pointer.trim_start_matches('/'),
                                e.detail
                                    .split('`')
                                    .enumerate()
                                    .map(|(i, part)| if i % 2 == 1 { format!("“{part}”") } else { part.to_string() })
                                    .collect::<String>(),
                            )}
                        </p>
                    }
                })
        }}
        <Transition fallback=|| view! { <Skeleton height=220 /> }>
            {move || Suspend::new(async move {
                match for_the_render(overview).await {
                    Ok(o) => {
                        let empty = o.current.active_people == 0 && o.previous.active_people == 0;
                        // Nothing matching a narrowed view says so; onboarding is for a
                        // workspace with nothing at all in the range.
                        let narrowed = filters.with_untracked(|f| {
                            f.person.is_some() || f.team.is_some() || f.project.is_some()
                                || f.model.is_some() || f.tool.is_some()
                        });
                        view! {
                            <p class="window muted" id="window" data-from=o.window.from.to_rfc3339() data-to=o.window.to.to_rfc3339()>
                                {format!(
                                    "{} · {} · by {} · times in {}",
                                    o.window.label,
                                    o.audience.label(),
                                    o.window.grain.as_str(),
                                    o.window.tz,
                                )}
                            </p>
                            {(empty && !narrowed).then(|| view! { <Onboarding /> })}
                            {(empty && narrowed).then(|| view! {
                                <p class="card muted" id="nothing-matches" role="status">
                                    "Nothing in this range matches these filters. "
                                    <A href=move || {
                                        // Clears what narrows, keeps the range the note speaks of.
                                        let f = filters.get_untracked();
                                        let when = Filters { range: f.range, from: f.from, to: f.to, grain: f.grain, ..Filters::default() };
                                        href(&shown.get_untracked(), &when)
                                    }>"Clear the filters"</A>
                                </p>
                            })}
                            <KpiTiles overview=o />
                        }
                            .into_any()
                    }
                    Err(e) => view! { <Failed error=e /> }.into_any(),
                }
            })}
        </Transition>
        {error.map(|e| view! { <Failed error=e /> })}
        <Show when=move || !kiosk.get() && !editing.get()>
            {boards.clone().map(|boards| view! {
                <menu::BoardMenu boards board shown filters keeps_own manages prints ctx reload />
            })}
        </Show>
        {move || kiosk.get().then(|| view! {
            <p class="kiosk-name" id="kiosk-board">
                {move || board.with(|b| b.as_ref().map(|b| b.name.clone()).unwrap_or_else(|| "Dashboard".into()))}
            </p>
        })}
        {move || {
            let one = one_person.get();
            view! { <arrange::Arrangement board ctx audience one keeps_own editing saved kiosk=kiosk.get_untracked() /> }
        }}
    }
}

/// Shown while nothing has arrived: how to start sending data.
#[component]
fn Onboarding() -> impl IntoView {
    view! {
        <section class="card onboarding" id="onboarding">
            <h2>"No activity in this range yet"</h2>
            <p>
                "Create an ingest key on the " <A href="/api-keys">"API keys"</A>
                " page; it shows the settings.json hook snippet, the "
                <code>"devpulse setup"</code> " command and the OpenTelemetry variables with your key filled in."
            </p>
        </section>
    }
}

/// The filters as a GET form (it works before the WASM, and navigates in the page after),
/// plus one-click preset links that keep the other filters.
#[component]
fn FilterBar(
    filters: Memo<Filters>,
    audience: Audience,
    q: Memo<String>,
    shown: Memo<Shown>,
) -> impl IntoView {
    let choices = Resource::new(move || q.get(), get_choices);
    let navigate = use_navigate();
    let presets = move || {
        let f = filters.get();
        let current = f.preset();
        Preset::ALL
            .into_iter()
            .map(|p| {
                let href = href(
                    &shown.get(),
                    &Filters {
                        range: Some(p),
                        from: None,
                        to: None,
                        ..f.clone()
                    },
                );
                view! {
                    <A href=href attr:class="chip" attr:aria-current=(current == Some(p)).then_some("true") attr:id=format!("range-{}", p.as_str())>
                        {p.label()}
                    </A>
                }
            })
            .collect_view()
    };
    let value =
        move |get: fn(&Filters) -> Option<String>| move || filters.with(get).unwrap_or_default();
    fn local(t: Option<chrono::DateTime<chrono::Utc>>) -> Option<String> {
        t.map(|t| t.format("%Y-%m-%dT%H:%M").to_string())
    }
    view! {
        <nav class="presets" aria-label="Time range">{presets}</nav>
        // A plain GET form before the WASM; after, the same navigation with only the fields
        // that say something (a form sends every field, empty or not, and leptos's `Form`
        // added a nameless "=" for the button).
        // Each field carries its value as an attribute too: the server's HTML has no
        // properties, and without it a submit before the WASM lost the current filters.
        <form method="get" action="/" class="filters" id="filters" on:submit=move |ev| submit_filters(ev, &navigate)>
            <label>
                "From (UTC)"
                <input type="datetime-local" name="from" id="f-from" value=value(|f| local(f.from)) prop:value=value(|f| local(f.from)) />
            </label>
            <label>
                "To (UTC)"
                <input type="datetime-local" name="to" id="f-to" value=value(|f| local(f.to)) prop:value=value(|f| local(f.to)) />
            </label>
            <label>
                "Granularity"
                <select name="grain" id="f-grain">
                    <option value="" selected=move || filters.with(|f| f.grain.is_none())>"Automatic"</option>
                    {[Grain::Minute, Grain::Hour, Grain::Day]
                        .into_iter()
                        .map(|g| {
                            view! {
                                <option value=g.as_str() selected=move || filters.with(|f| f.grain == Some(g))>
                                    {g.as_str()}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            {audience.can_pick_people().then(|| view! { <PeoplePickers filters choices /> })}
            <label>
                "Project"
                <input name="project" id="f-project" list="dl-project" value=value(|f| f.project.clone()) prop:value=value(|f| f.project.clone()) />
            </label>
            <label>
                "Model"
                <input name="model" id="f-model" list="dl-model" value=value(|f| f.model.clone()) prop:value=value(|f| f.model.clone()) />
            </label>
            <label>
                "Tool"
                <input name="tool" id="f-tool" list="dl-tool" value=value(|f| f.tool.clone()) prop:value=value(|f| f.tool.clone()) />
            </label>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let c = for_the_render(choices).await.unwrap_or_default();
                    let list = |id: &'static str, items: Vec<String>| {
                        view! {
                            <datalist id=id>
                                {items.into_iter().map(|v| view! { <option value=v></option> }).collect_view()}
                            </datalist>
                        }
                    };
                    view! {
                        {list("dl-project", c.projects)}
                        {list("dl-model", c.models)}
                        {list("dl-tool", c.tools)}
                    }
                })}
            </Transition>
            <input type="hidden" name="range" value=value(|f| f.range.map(|r| r.as_str().to_string())) prop:value=value(|f| f.range.map(|r| r.as_str().to_string())) />
            {move || shown.with(|s| s.board).map(|b| view! { <input type="hidden" name="board" value=b.to_string() /> })}
            <button type="submit" class="button" id="apply-filters">"Apply"</button>
            <A href=move || href(&shown.get(), &Filters::default()) attr:class="link" attr:id="clear-filters">"Clear"</A>
        </form>
    }
}

/// The filter form's submission as a navigation to `/?` and its non-empty fields.
#[cfg(feature = "hydrate")]
fn submit_filters(ev: leptos::ev::SubmitEvent, navigate: &impl Fn(&str, NavigateOptions)) {
    use wasm_bindgen::JsCast;
    let Some(form) = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok())
    else {
        return;
    };
    let Ok(data) = web_sys::FormData::new_with_form(&form) else {
        return;
    };
    ev.prevent_default();
    let mut query = String::new();
    if let Ok(Some(entries)) = js_sys::try_iter(&data) {
        for entry in entries.flatten() {
            let entry: js_sys::Array = entry.unchecked_into();
            let (Some(k), Some(v)) = (entry.get(0).as_string(), entry.get(1).as_string()) else {
                continue;
            };
            if !v.is_empty() {
                let sep = if query.is_empty() { "" } else { "&" };
                query.push_str(&format!(
                    "{sep}{}={}",
                    types::dashboard::encode(&k),
                    types::dashboard::encode(&v)
                ));
            }
        }
    }
    navigate(&format!("/?{query}"), Default::default());
}

#[cfg(not(feature = "hydrate"))]
fn submit_filters(_: leptos::ev::SubmitEvent, _: &impl Fn(&str, NavigateOptions)) {}

/// The person and team pickers, with the people and teams the reader may narrow to. Until
/// the choices arrive (and without the WASM) each holds the current pick, so the form works
/// and keeps its size.
#[component]
fn PeoplePickers(
    filters: Memo<Filters>,
    choices: Resource<Result<Choices, crate::AppError>>,
) -> impl IntoView {
    let picker = move |label: &'static str,
                       name: &'static str,
                       all: &'static str,
                       current: Option<String>,
                       options: Vec<Choice>| {
        let known = current
            .as_ref()
            .is_none_or(|c| options.iter().any(|o| &o.value == c));
        let unknown = (!known).then(|| current.clone()).flatten().map(|c| {
            let label = c.clone();
            view! { <option value=c selected=true>{label}</option> }
        });
        view! {
            <label>
                {label}
                <select name=name id=format!("f-{name}")>
                    <option value="" selected=current.is_none()>{all}</option>
                    {unknown}
                    {options
                        .into_iter()
                        .map(|o| {
                            let selected = current.as_deref() == Some(o.value.as_str());
                            view! { <option value=o.value selected=selected>{o.label}</option> }
                        })
                        .collect_view()}
                </select>
            </label>
        }
    };
    let draw = move |c: Choices| {
        let (person, team) = filters.with_untracked(|f| {
            (
                f.person.map(|p| p.to_string()),
                f.team.map(|t| t.to_string()),
            )
        });
        view! {
            {picker("Person", "person", "Everyone I see", person, c.people)}
            {picker("Team", "team", "All teams", team, c.teams)}
        }
    };
    view! {
        <Transition fallback=move || draw(Choices::default())>
            {move || Suspend::new(async move { draw(for_the_render(choices).await.unwrap_or_default()) })}
        </Transition>
    }
}

/// One widget's box: title, definition, exports and a table toggle around its content, at its
/// final size from the first render.
#[allow(clippy::too_many_arguments)]
#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> BoardId {
        BoardId(uuid::Uuid::from_u128(n))
    }

    #[test]
    fn the_board_and_kiosk_round_trip_through_the_url_beside_the_filters() {
        let s = Shown::from_query([
            ("board", &*id(2).to_string()),
            ("kiosk", ""),
            ("boards", &*format!("{},{},junk", id(1), id(2))),
            ("every", "2"),
            ("range", "7d"),
        ]);
        assert_eq!(s.board, Some(id(2)));
        assert!(s.kiosk);
        assert_eq!(
            s.cycle,
            vec![id(1), id(2)],
            "what does not parse is left out"
        );
        assert_eq!(s.every_s, KIOSK_MIN_S);
        let (f, _) = Filters::from_query([("range", "7d")]);
        let link = href(&s, &f);
        let pairs: Vec<(String, String)> = link
            .trim_start_matches("/?")
            .split('&')
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_string(), v.to_string())
            })
            .collect();
        let back = Shown::from_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        assert_eq!(back, s);
        assert!(link.ends_with("&range=7d"), "{link}");
        assert_eq!(href(&Shown::default(), &Filters::default()), "/");
    }

    #[test]
    fn a_kiosk_cycle_goes_round() {
        let mut s = Shown::from_query([("kiosk", "1")]);
        s.cycle = vec![id(1), id(2), id(3)];
        assert_eq!(s.next_in_cycle(), Some(id(1)), "from home, the first");
        s.board = Some(id(3));
        assert_eq!(s.next_in_cycle(), Some(id(1)));
        s.board = Some(id(1));
        assert_eq!(s.next_in_cycle(), Some(id(2)));
        s.cycle.truncate(1);
        assert_eq!(s.next_in_cycle(), None, "one board does not cycle");
        s.kiosk = false;
        s.cycle = vec![id(1), id(2)];
        assert_eq!(s.next_in_cycle(), None, "only a kiosk cycles");
    }
}
