//! `/`: the signed-in person's dashboard. Filters live in the URL (links share it, back and
//! forward work, the server's render reads it); every widget reads its own server function,
//! renders its numbers on the server, draws its chart in the browser, and refetches in place
//! when the live feed says something changed.

use leptos::{either::EitherOf3, prelude::*};
use leptos_router::{
    components::{Form, A},
    hooks::{use_location, use_query_map},
};
use types::dashboard::{
    median, Audience, Breakdown, Choice, Choices, Dimension, Filters, Measure, Preset, Row, Series,
    SessionSort, Split,
};
use types::Grain;

use crate::{
    api::boards::{create_board, get_board, list_boards, save_board, set_home_board},
    api::dashboard::{
        get_activity, get_breakdown, get_choices, get_heatmap, get_insights, get_overview,
        get_series, get_sessions,
    },
    charts::{self, EChart},
    components::{
        format::{compact, duration_ms, pct, usd},
        kpi::KpiTiles,
        sign_in_first, Failed, Skeleton,
    },
    grid::{describe, Dir, Editor},
    live::{LinkIndicator, MetricsFeed},
    widgets::{find, Kind, WidgetSpec},
};
use types::boards::{Board as SavedBoard, Document, Placed};
use types::layout::{Bounds, Item, Layout, Place, COLUMNS, ROW_PX};

/// What every widget needs from the page: the filters' query string and the live tick.
#[derive(Clone, Copy)]
struct Ctx {
    q: Memo<String>,
    tick: RwSignal<u64>,
}

#[component]
pub fn DashboardPage() -> impl IntoView {
    let query = use_query_map();
    let parsed = Memo::new(move |_| {
        query.with(|q| {
            let pairs: Vec<(String, String)> = q
                .clone()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            Filters::from_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        })
    });
    let filters = Memo::new(move |_| parsed.with(|p| p.0.clone()));
    let q = Memo::new(move |_| filters.with(Filters::to_query));
    let feed = MetricsFeed::open();
    let ctx = Ctx { q, tick: feed.tick };
    let viewer = expect_context::<crate::account::ViewerResource>().0;
    // Read with the viewer, before the board's widgets exist: the widgets' own reads are
    // then made in one fixed order on the server and in the browser, which hydration needs.
    let home = Resource::new(|| (), |_| open_home());
    let location = use_location();

    view! {
        <section class="page-head dash-head">
            <h1>"Dashboard"</h1>
            <LinkIndicator link=feed.link />
            <span class="muted" id="live-events" data-count=move || feed.events.get()>
                {move || match feed.events.get() {
                    0 => String::new(),
                    n => format!("{n} new events while you watched"),
                }}
            </span>
        </section>
        <Suspense fallback=move || view! { <Skeleton height=600 /> }>
            {move || Suspend::new(async move {
                let Some(v) = viewer.await.ok().flatten() else {
                    let here = format!("{}{}", location.pathname.get_untracked(), location.search.get_untracked());
                    sign_in_first(&here);
                    return EitherOf3::A(view! { <p>"Sign in to see your dashboard."</p> });
                };
                let Some(audience) = Audience::of(v.role).filter(|_| v.tenant.is_some()) else {
                    return EitherOf3::B(
                        view! {
                            <section class="card">
                                <p>
                                    "Installation admins see a workspace's numbers through its support access. "
                                    <A href="/status">"System status"</A>
                                </p>
                            </section>
                        },
                    );
                };
                let home = home.await;
                EitherOf3::C(view! { <Board ctx audience filters parsed home /> })
            })}
        </Suspense>
    }
}

#[component]
fn Board(
    ctx: Ctx,
    audience: Audience,
    filters: Memo<Filters>,
    parsed: Memo<(Filters, Vec<types::FieldError>)>,
    home: Result<Option<SavedBoard>, crate::AppError>,
) -> impl IntoView {
    let overview = Resource::new(
        move || (ctx.q.get(), ctx.tick.get()),
        |(q, _)| get_overview(q),
    );
    // The set of widgets changes only when a person is picked or dropped (insights).
    let one_person = Memo::new(move |_| filters.with(|f| f.person.is_some()));
    let (board, error) = match home {
        Ok(b) => (b, None),
        Err(e) => (None, Some(e)),
    };
    // Kept here, not in the arrangement: picking a person redraws the arrangement, and it
    // must start from the version last saved.
    let board = RwSignal::new(board);
    view! {
        <FilterBar filters audience q=ctx.q />
        {move || {
            parsed
                .with(|p| p.1.clone())
                .into_iter()
                .next()
                .map(|e| {
                    view! {
                        <p class="error" role="alert" id="filter-error">
                            {format!("Ignored {}: {}", e.pointer.trim_start_matches('/'), e.detail)}
                        </p>
                    }
                })
        }}
        <Transition fallback=|| view! { <Skeleton height=220 /> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(o) => {
                        let empty = o.current.active_people == 0 && o.previous.active_people == 0;
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
                            {empty.then(|| view! { <Onboarding /> })}
                            <KpiTiles overview=o />
                        }
                            .into_any()
                    }
                    Err(e) => view! { <Failed error=e /> }.into_any(),
                }
            })}
        </Transition>
        {error.map(|e| view! { <Failed error=e /> })}
        {move || {
            let one = one_person.get();
            view! { <Arrangement board ctx audience one /> }
        }}
    }
}

/// The caller's home board (`None`: the built-in dashboard).
async fn open_home() -> Result<Option<SavedBoard>, crate::AppError> {
    let boards = list_boards().await?;
    match boards.home {
        Some(id) => Ok(Some(get_board(id).await?)),
        None => Ok(None),
    }
}

/// A board's widgets on the grid, and the editor that arranges them: by pointer (drag the
/// header, pull the corner), by keyboard (Enter picks a focused widget up, arrows move it,
/// Shift+arrows resize, Enter drops, Escape puts it back) or by buttons. One live region
/// says what happened.
#[component]
fn Arrangement(
    board: RwSignal<Option<SavedBoard>>,
    ctx: Ctx,
    audience: Audience,
    one: bool,
) -> impl IntoView {
    let document = board
        .get_untracked()
        .as_ref()
        .map(|b| b.document.clone())
        .unwrap_or_else(crate::widgets::default_document);
    // The widgets this reader sees now; the rest of the document is kept as it is.
    let (shown, hidden): (Vec<Placed>, Vec<Placed>) = document
        .widgets
        .iter()
        .cloned()
        .partition(|p| find(&p.widget).is_some_and(|s| s.shown(audience, one)));
    let slots: Vec<(Placed, &'static WidgetSpec)> = shown
        .iter()
        .filter_map(|p| find(&p.widget).map(|s| (p.clone(), s)))
        .collect();
    let layout = Layout::settled(
        COLUMNS,
        slots
            .iter()
            .map(|(p, s)| Item {
                key: p.key.clone(),
                place: p.place(),
                bounds: s.bounds(),
            })
            .collect(),
    );
    let titles: std::collections::HashMap<String, String> = slots
        .iter()
        .map(|(p, s)| {
            (
                p.key.clone(),
                p.title.clone().unwrap_or_else(|| s.title.to_string()),
            )
        })
        .collect();
    let titles = StoredValue::new(titles);
    let title_of = move |key: &str| titles.with_value(|t| t.get(key).cloned().unwrap_or_default());
    let editor = RwSignal::new(Editor::new(layout));
    let editing = RwSignal::new(false);
    let announce = RwSignal::new(String::new());
    let conflict = RwSignal::new(None::<String>);
    let saving = RwSignal::new(false);
    // A pointer drag or resize in progress: the layout it would leave, shown as it goes.
    let drag = RwSignal::new(None::<Drag>);
    let shown_layout = Memo::new(move |_| match drag.get() {
        Some(d) => d.preview,
        None => editor.with(|e| e.layout().clone()),
    });
    let medium = Memo::new(move |_| shown_layout.with(|l| l.for_columns(12)));
    let hidden = StoredValue::new(hidden);
    // Every widget the editor has known in this visit (added ones too), so undoing a
    // removal brings its settings back; the board holds those the layout places.
    let known = RwSignal::new(slots.clone());
    let on_board = Memo::new(move |_| {
        let keys: Vec<String> =
            editor.with(|e| e.layout().items().iter().map(|i| i.key.clone()).collect());
        known.with(|k| {
            k.iter()
                .filter(|(p, _)| keys.contains(&p.key))
                .cloned()
                .collect::<Vec<_>>()
        })
    });

    let the_document = move || {
        // The shown widgets where the editor put them, then the hidden ones settled around.
        let l = editor.with_untracked(|e| e.layout().clone());
        let mut items: Vec<Item> = l.items().to_vec();
        hidden.with_value(|h| {
            items.extend(h.iter().map(|p| Item {
                key: p.key.clone(),
                place: p.place(),
                bounds: find(&p.widget).map(|s| s.bounds()).unwrap_or(Bounds::ANY),
            }))
        });
        let full = Layout::settled(COLUMNS, items);
        let mut widgets: Vec<Placed> = on_board
            .get_untracked()
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        widgets.extend(hidden.get_value());
        Document { widgets }.arranged(&full)
    };
    let save = move || {
        let json = serde_json::to_string(&the_document()).expect("a document serialises");
        let current = board.get_untracked();
        saving.set(true);
        leptos::task::spawn_local(async move {
            let result = match current.filter(|b| b.editable) {
                Some(b) => save_board(b.id, b.version, None, json.clone()).await,
                None => match create_board("My dashboard".into(), json.clone(), false).await {
                    Ok(b) => set_home_board(Some(b.id)).await.map(|_| b),
                    Err(e) => Err(e),
                },
            };
            saving.set(false);
            match result {
                Ok(b) => {
                    announce.set(format!("Saved “{}” (version {}).", b.name, b.version));
                    board.set(Some(b));
                    editor.update(|e| e.saved());
                }
                Err(e) if e.status == 409 => conflict.set(Some(e.message)),
                Err(e) => announce.set(format!("Not saved: {}", e.message)),
            }
        });
    };
    let save_copy = move || {
        let json = serde_json::to_string(&the_document()).expect("a document serialises");
        let name = board
            .get_untracked()
            .map(|b| format!("{} (copy)", b.name))
            .unwrap_or_else(|| "My dashboard".into());
        leptos::task::spawn_local(async move {
            match create_board(name, json, false).await {
                Ok(b) => {
                    let _ = set_home_board(Some(b.id)).await;
                    announce.set(format!("Saved as “{}”.", b.name));
                    board.set(Some(b));
                    conflict.set(None);
                    editor.update(|e| e.saved());
                }
                Err(e) => announce.set(format!("Not saved: {}", e.message)),
            }
        });
    };
    let say = move |key: &str, what: &str| {
        let title = title_of(key);
        let place = editor.with_untracked(|e| e.layout().get(key).map(|i| i.place));
        if let Some(p) = place {
            announce.set(format!("{what}{}", describe(&title, p)));
        }
    };
    let step = move |key: String, dir: Dir, resize: bool| {
        let moved = editor
            .try_update(|e| e.step(&key, dir, resize))
            .unwrap_or(false);
        if moved {
            say(&key, "");
        } else {
            say(&key, "Cannot go further. ");
        }
    };
    let on_key = move |key: String, ev: leptos::ev::KeyboardEvent| {
        if !editing.get_untracked() {
            return;
        }
        let held = editor.with_untracked(|e| e.held().map(str::to_string));
        let mine = held.as_deref() == Some(key.as_str());
        match ev.key().as_str() {
            "Enter" | " " => {
                // Only the widget itself, not a button inside it.
                if ev.target() != ev.current_target() {
                    return;
                }
                ev.prevent_default();
                if mine {
                    editor.update(|e| {
                        e.drop_held();
                    });
                    say(&key, "Dropped. ");
                } else {
                    editor.update(|e| {
                        e.drop_held();
                        e.pick_up(&key);
                    });
                    say(&key, "Picked up. Arrows move, Shift+arrows resize, Enter drops, Escape cancels. ");
                }
            }
            "Escape" if mine => {
                ev.prevent_default();
                editor.update(|e| {
                    e.cancel_held();
                });
                say(&key, "Cancelled. ");
            }
            k => {
                if let (Some(dir), true) = (Dir::from_key(k), mine) {
                    ev.prevent_default();
                    step(key, dir, ev.shift_key());
                }
            }
        }
    };

    let add = move |spec: &'static WidgetSpec| {
        let key = spec.id.to_string();
        let placed = Placed {
            key: key.clone(),
            widget: key.clone(),
            x: 0,
            y: 0,
            w: u16::from(spec.w),
            h: u16::from(spec.h),
            title: None,
            split: None,
            measure: None,
            filters: Default::default(),
        };
        titles.update_value(|t| {
            t.insert(key.clone(), spec.title.to_string());
        });
        known.update(|k| {
            if !k.iter().any(|(p, _)| p.key == key) {
                k.push((placed.clone(), spec));
            }
        });
        let added = editor
            .try_update(|e| {
                e.change(|l| {
                    l.insert(Item {
                        key: key.clone(),
                        place: placed.place(),
                        bounds: spec.bounds(),
                    })
                })
            })
            .unwrap_or(false);
        if added {
            say(&key, "Added. ");
        }
    };
    let remove = move |key: String| {
        let title = title_of(&key);
        let removed = editor
            .try_update(|e| e.change(|l| l.remove(&key).is_some()))
            .unwrap_or(false);
        if removed {
            announce.set(format!("Removed {title}. Undo brings it back."));
        }
    };
    // What may be added: the widget kinds this reader sees that are not on the board yet.
    let addable = Memo::new(move |_| {
        let here: Vec<String> =
            on_board.with(|b| b.iter().map(|(p, _)| p.widget.clone()).collect());
        crate::widgets::REGISTRY
            .iter()
            .filter(|w| w.shown(audience, one) && !here.iter().any(|h| h == w.id))
            .map(|w| w.id)
            .collect::<Vec<_>>()
    });
    let chosen = RwSignal::new(String::new());

    let render = move |(placed, spec): (Placed, &'static WidgetSpec)| {
        {
            let key = placed.key.clone();
            let style = {
                let key = key.clone();
                move || {
                    let wide = shown_layout.with(|l| l.get(&key).map(|i| i.place));
                    let mid = medium.with(|l| l.get(&key).map(|i| i.place));
                    let (Some(p), Some(m)) = (wide, mid) else {
                        return String::new();
                    };
                    let lift = drag.with(|d| {
                        d.as_ref()
                            .filter(|d| d.key == key && !d.resize)
                            .map(|d| {
                                format!(";transform:translate({}px,{}px);z-index:5", d.dx, d.dy)
                            })
                            .unwrap_or_default()
                    });
                    // While dragged, the widget stays in its cell and follows the pointer; the
                    // placeholder shows where it lands.
                    let p = drag.with(|d| {
                        d.as_ref()
                            .filter(|d| d.key == key && !d.resize)
                            .map(|d| d.start)
                            .unwrap_or(p)
                    });
                    format!(
                        "--c:{};--r:{};--w:{};--h:{};--mc:{};--mr:{};--mw:{}{lift}",
                        p.x + 1,
                        p.y + 1,
                        p.w,
                        p.h,
                        m.x + 1,
                        m.y + 1,
                        m.w
                    )
                }
            };
            let place = {
                let key = key.clone();
                move || {
                    shown_layout.with(|l| {
                        l.get(&key)
                            .map(|i| {
                                format!("{},{},{},{}", i.place.x, i.place.y, i.place.w, i.place.h)
                            })
                            .unwrap_or_default()
                    })
                }
            };
            let k1 = key.clone();
            let k2 = key.clone();
            let k3 = key.clone();
            let k4 = key.clone();
            let k5 = key.clone();
            let held = Memo::new(move |_| editor.with(|e| e.held() == Some(k2.as_str())));
            let title = title_of(&key);
            view! {
                <Widget
                    spec
                    ctx
                    audience
                    key=key.clone()
                    title=title.clone()
                    style=Signal::derive(style)
                    place=Signal::derive(place)
                    editing=editing.into()
                    held=held.into()
                    on_key=Callback::new(move |ev| on_key(k1.clone(), ev))
                    on_step=Callback::new(move |(dir, resize)| step(k3.clone(), dir, resize))
                    on_drag=Callback::new(move |(ev, resize)| start_drag(k4.clone(), ev, resize, editor, drag))
                    on_drag_move=Callback::new(move |ev| move_drag(ev, editor, drag))
                    on_drag_end=Callback::new(move |ev: leptos::ev::PointerEvent| {
                        let _ = ev;
                        if let Some(d) = drag.get_untracked() {
                            drag.set(None);
                            let moved = editor.try_update(|e| e.change(|l| {
                                *l = d.preview.clone();
                                true
                            })).unwrap_or(false);
                            if moved {
                                say(&d.key, if d.resize { "Resized. " } else { "Moved. " });
                            }
                        }
                    })
                    on_remove=Callback::new(move |_| remove(k5.clone()))
                    split=placed.split.unwrap_or(default_split(spec))
                    measure=placed.measure.unwrap_or(default_measure(spec))
                />
            }
        }
    };
    let placeholder = move || {
        drag.with(|d| {
            d.as_ref().filter(|d| !d.resize).and_then(|d| {
                d.preview.get(&d.key).map(|i| {
                    let p = i.place;
                    view! {
                        <div
                            class="placeholder"
                            aria-hidden="true"
                            style=format!("--c:{};--r:{};--w:{};--h:{}", p.x + 1, p.y + 1, p.w, p.h)
                        ></div>
                    }
                })
            })
        })
    };
    let dirty = Memo::new(move |_| editor.with(Editor::dirty));
    let is_own = move || board.with(|b| b.as_ref().is_some_and(|b| b.editable));
    view! {
        <div class="board-bar">
            <span class="muted" id="board-name">
                {move || board.with(|b| b.as_ref().map(|b| b.name.clone()).unwrap_or_else(|| "Built-in dashboard".into()))}
            </span>
            <Show when=move || editing.get() fallback=move || view! {
                <button type="button" class="button" id="edit-layout" on:click=move |_| {
                    editing.set(true);
                    announce.set("Editing the layout. Focus a widget and press Enter to pick it up, or use its buttons.".into());
                }>"Edit layout"</button>
            }>
                <button type="button" class="button" id="save-layout" disabled=move || saving.get() || !dirty.get() on:click=move |_| save()>
                    {move || if is_own() { "Save" } else { "Save as my dashboard" }}
                </button>
                <button type="button" class="link" id="undo-layout" disabled=move || !editor.with(Editor::can_undo) on:click=move |_| {
                    editor.update(|e| { e.undo(); });
                    announce.set("Undone.".into());
                }>"Undo"</button>
                <button type="button" class="link" id="redo-layout" disabled=move || !editor.with(Editor::can_redo) on:click=move |_| {
                    editor.update(|e| { e.redo(); });
                    announce.set("Redone.".into());
                }>"Redo"</button>
                <button type="button" class="link" id="discard-layout" disabled=move || !dirty.get() on:click=move |_| {
                    editor.update(Editor::discard);
                    announce.set("Changes discarded.".into());
                }>"Discard changes"</button>
                <button type="button" class="link" id="done-layout" on:click=move |_| {
                    editor.update(|e| { e.drop_held(); });
                    editing.set(false);
                    announce.set(if dirty.get_untracked() { "Done editing; changes not saved yet.".into() } else { "Done editing.".into() });
                }>"Done"</button>
                <label class="add-widget">
                    "Add a widget"
                    <select id="add-widget" prop:value=move || chosen.get() on:change=move |ev| chosen.set(event_target_value(&ev))>
                        <option value="">"Choose…"</option>
                        {move || addable.get().into_iter().map(|id| {
                            let title = find(id).map(|w| w.title).unwrap_or(id);
                            view! { <option value=id>{title}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <button type="button" class="link" id="add-widget-button" disabled=move || chosen.with(String::is_empty) on:click=move |_| {
                    if let Some(spec) = find(&chosen.get_untracked()) {
                        add(spec);
                    }
                    chosen.set(String::new());
                }>"Add"</button>
                <span class="muted narrow-note">"Arranged on a 24-column grid; narrower screens follow it."</span>
            </Show>
            <p class="sr-only" role="status" aria-live="polite" aria-atomic="true" id="layout-status">{move || announce.get()}</p>
        </div>
        {move || conflict.get().map(|message| view! {
            <div class="card conflict" role="alertdialog" aria-labelledby="conflict-title" aria-describedby="conflict-detail" id="conflict">
                <h2 id="conflict-title">"This dashboard changed elsewhere"</h2>
                <p id="conflict-detail">{message}</p>
                <button type="button" class="button" id="conflict-copy" on:click=move |_| save_copy()>"Save mine as a copy"</button>
                <button type="button" class="link" id="conflict-reload" on:click=move |_| {
                    let _ = window().location().reload();
                }>"Reload theirs"</button>
            </div>
        })}
        <div class="board" class:editing=move || editing.get() id="board" data-height=move || shown_layout.with(Layout::height)>
            <For each=move || on_board.get() key=|(p, _)| p.key.clone() children=render />
            {placeholder}
        </div>
    }
}

fn default_split(spec: &WidgetSpec) -> Split {
    match spec.query {
        types::dashboard::Query::Series { split, .. } => split,
        _ => Split::Model,
    }
}

fn default_measure(spec: &WidgetSpec) -> Measure {
    match spec.query {
        types::dashboard::Query::Series { measure, .. } => measure,
        _ => Measure::Cost,
    }
}

/// A pointer drag (move) or pull (resize) in progress.
#[derive(Clone, Debug, PartialEq)]
struct Drag {
    key: String,
    resize: bool,
    start: Place,
    pointer: (f64, f64),
    /// Grid units (of the 24 columns, and rows) per pixel.
    per_px: (f64, f64),
    dx: f64,
    dy: f64,
    before: Layout,
    preview: Layout,
}

/// Column and row pitch in 24-column units per pixel, from the board's width now.
fn units_per_px() -> (f64, f64) {
    #[cfg(feature = "hydrate")]
    {
        let width = document()
            .get_element_by_id("board")
            .map(|b| f64::from(b.client_width()))
            .unwrap_or(1200.0);
        let view = window()
            .inner_width()
            .ok()
            .and_then(|w| w.as_f64())
            .unwrap_or(1200.0);
        let cols = if view >= 1200.0 {
            24.0
        } else if view >= 768.0 {
            12.0
        } else {
            1.0
        };
        let pitch = (width + GAP_PX) / cols;
        (24.0 / cols / pitch, 1.0 / (ROW_PX as f64 + GAP_PX))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        (24.0 / 1212.0, 1.0 / (ROW_PX as f64 + GAP_PX))
    }
}

/// The gap between grid cells, in pixels (as the stylesheet's `.board`).
const GAP_PX: f64 = 12.0;

fn start_drag(
    key: String,
    ev: leptos::ev::PointerEvent,
    resize: bool,
    editor: RwSignal<Editor>,
    drag: RwSignal<Option<Drag>>,
) {
    if ev.button() != 0 {
        return;
    }
    let Some(start) = editor.with_untracked(|e| e.layout().get(&key).map(|i| i.place)) else {
        return;
    };
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        // A press on a control in the header is that control's, not a drag.
        let on_control = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|el| el.closest("button, a, input, select").ok().flatten())
            .is_some();
        if on_control {
            return;
        }
        if let Some(el) = ev
            .current_target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        {
            let _ = el.set_pointer_capture(ev.pointer_id());
        }
    }
    ev.prevent_default();
    let before = editor.with_untracked(|e| e.layout().clone());
    drag.set(Some(Drag {
        key,
        resize,
        start,
        pointer: (f64::from(ev.client_x()), f64::from(ev.client_y())),
        per_px: units_per_px(),
        dx: 0.0,
        dy: 0.0,
        preview: before.clone(),
        before,
    }));
}

fn move_drag(
    ev: leptos::ev::PointerEvent,
    _editor: RwSignal<Editor>,
    drag: RwSignal<Option<Drag>>,
) {
    let Some(mut d) = drag.get_untracked() else {
        return;
    };
    let dx = f64::from(ev.client_x()) - d.pointer.0;
    let dy = f64::from(ev.client_y()) - d.pointer.1;
    let cells = |px: f64, per: f64, from: u16| (f64::from(from) + px * per).round().max(0.0) as u16;
    let mut preview = d.before.clone();
    if d.resize {
        preview.resize(
            &d.key,
            cells(dx, d.per_px.0, d.start.w).max(1),
            cells(dy, d.per_px.1, d.start.h).max(1),
        );
    } else {
        preview.move_to(
            &d.key,
            cells(dx, d.per_px.0, d.start.x),
            cells(dy, d.per_px.1, d.start.y),
        );
    }
    d.dx = dx;
    d.dy = dy;
    if preview != d.preview || !d.resize {
        d.preview = preview;
        drag.set(Some(d));
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

/// The filters as a GET form (it works before the WASM, and `Form` keeps navigation in the
/// page after), plus one-click preset links that keep the other filters.
#[component]
fn FilterBar(filters: Memo<Filters>, audience: Audience, q: Memo<String>) -> impl IntoView {
    let choices = Resource::new(move || q.get(), get_choices);
    let presets = move || {
        let f = filters.get();
        let current = f.preset();
        Preset::ALL
            .into_iter()
            .map(|p| {
                let href = format!(
                    "/?{}",
                    Filters {
                        range: Some(p),
                        from: None,
                        to: None,
                        ..f.clone()
                    }
                    .to_query()
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
        <Form method="GET" action="/" attr:class="filters" attr:id="filters">
            <label>
                "From (UTC)"
                <input type="datetime-local" name="from" id="f-from" prop:value=value(|f| local(f.from)) />
            </label>
            <label>
                "To (UTC)"
                <input type="datetime-local" name="to" id="f-to" prop:value=value(|f| local(f.to)) />
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
                <input name="project" id="f-project" list="dl-project" prop:value=value(|f| f.project.clone()) />
            </label>
            <label>
                "Model"
                <input name="model" id="f-model" list="dl-model" prop:value=value(|f| f.model.clone()) />
            </label>
            <label>
                "Tool"
                <input name="tool" id="f-tool" list="dl-tool" prop:value=value(|f| f.tool.clone()) />
            </label>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let c = choices.await.unwrap_or_default();
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
            <input type="hidden" name="range" prop:value=value(|f| f.range.map(|r| r.as_str().to_string())) />
            <button type="submit" class="button" id="apply-filters">"Apply"</button>
            <A href="/" attr:class="link" attr:id="clear-filters">"Clear"</A>
        </Form>
    }
}

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
            {move || Suspend::new(async move { draw(choices.await.unwrap_or_default()) })}
        </Transition>
    }
}

/// One widget's box: title, definition, exports and a table toggle around its content, at its
/// final size from the first render.
#[allow(clippy::too_many_arguments)]
#[component]
fn Widget(
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
    /// A time series' split and measure, as the board sets them.
    #[prop(optional)]
    split: Option<Split>,
    #[prop(optional)] measure: Option<Measure>,
) -> impl IntoView {
    let (placed_split, placed_measure) = (split, measure);
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
            view! { <SeriesWidget spec ctx audience key=key.clone() split=placed_split measure=placed_measure /> }.into_any()
        }
        Kind::Bars | Kind::Table => view! { <BreakdownWidget spec ctx key=key.clone() /> }.into_any(),
        Kind::Heatmap => view! { <HeatmapWidget spec ctx key=key.clone() /> }.into_any(),
        Kind::Sessions => view! { <SessionsWidget ctx /> }.into_any(),
        Kind::Feed => view! { <LiveWidget ctx /> }.into_any(),
        Kind::Insights => view! { <InsightsWidget ctx /> }.into_any(),
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
                    <button
                        type="button"
                        class="step remove"
                        id=format!("w-{key}-remove")
                        aria-label=format!("Remove {t}")
                        on:click=move |_| on_remove.run(())
                    >
                        "✕"
                    </button>
                </span>
            }
        }
    };
    let heading = title.clone();
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
                        <a href=move || export("csv") download="" id=format!("w-{}-csv", spec.id)>"CSV"</a>
                        <a href=move || export("json") target="_blank" rel="noopener" id=format!("w-{}-json", spec.id)>"JSON"</a>
                    </span>
                }>
                    {buttons.clone()}
                </Show>
            </header>
            <p class="muted about">{spec.about}</p>
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
    let table = RwSignal::new(false);
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
                match data.await {
                    Ok(s) => {
                        let summary = series_summary(&s);
                        // Built only where it is drawn: the server sends the data, not options.
                        let option = Signal::derive({
                            let s = s.clone();
                            move || charts::to_json(&charts::stacked_over_time(&s))
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
fn BreakdownWidget(spec: &'static WidgetSpec, ctx: Ctx, key: String) -> impl IntoView {
    let types::dashboard::Query::Breakdown { by } = spec.query else {
        unreachable!("a breakdown widget reads a breakdown")
    };
    let table = RwSignal::new(spec.kind == Kind::Table);
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
                match data.await {
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
fn HeatmapWidget(spec: &'static WidgetSpec, ctx: Ctx, key: String) -> impl IntoView {
    let table = RwSignal::new(false);
    let chart_id = StoredValue::new(format!("chart-{key}"));
    let data = Resource::new(
        move || (ctx.q.get(), ctx.tick.get()),
        |(q, _)| get_heatmap(q),
    );
    view! {
        <div class="controls"><TableToggle id=key.clone() shown=table /></div>
        <Transition fallback=move || view! { <Skeleton height=spec.height_px() - 130 /> }>
            {move || Suspend::new(async move {
                match data.await {
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
                match data.await {
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
                match data.await {
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
                match data.await {
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
