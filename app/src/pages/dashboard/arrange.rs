//! A board's widgets on the grid and the editor that arranges them.

use leptos::prelude::*;
use types::boards::{Board as SavedBoard, Document, Narrower, Placed};
use types::dashboard::{Audience, Measure, Split};
use types::layout::{Bounds, Item, Layout, Place, BREAKPOINTS, COLUMNS, ROW_PX};

use super::{widget::Widget, Ctx};
use crate::live::BoardSaved;
use crate::{
    api::boards::{create_board, save_board, set_home_board},
    grid::{describe, Dir, Editor},
    widgets::{find, WidgetSpec},
};

/// The editor for `document` as `audience` sees it (`one`: a person is picked), and the
/// widgets it leaves out for this reader, kept as they are.
fn start(document: &Document, audience: Audience, one: bool) -> (Editor, Vec<Placed>) {
    let (shown, hidden): (Vec<Placed>, Vec<Placed>) = document
        .widgets
        .iter()
        .cloned()
        .partition(|p| find(&p.widget).is_some_and(|s| s.shown(audience, one)));
    let layout = Layout::settled(
        COLUMNS,
        shown
            .iter()
            .filter_map(|p| {
                find(&p.widget).map(|s| Item {
                    key: p.key.clone(),
                    place: p.place(),
                    bounds: s.bounds(),
                })
            })
            .collect(),
    );
    let by_hand = document
        .narrower
        .iter()
        .map(|n| n.over(&layout.for_columns(n.cols)))
        .collect();
    (Editor::new(layout, shown, by_hand), hidden)
}

/// What distinguishes one rendering of a widget from another: its key and its settings
/// (not its place, which only moves it). A change of settings draws the widget afresh.
fn fingerprint(p: &Placed) -> String {
    let settings = Placed {
        x: 0,
        y: 0,
        w: 0,
        h: 0,
        ..p.clone()
    };
    serde_json::to_string(&settings).unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
#[component]
pub(super) fn Arrangement(
    board: RwSignal<Option<SavedBoard>>,
    ctx: Ctx,
    audience: Audience,
    one: bool,
    /// May keep boards of their own (everyone but viewers).
    keeps_own: bool,
    editing: RwSignal<bool>,
    /// A board saved elsewhere (another tab, another person), from the live feed.
    saved: RwSignal<Option<BoardSaved>>,
    kiosk: bool,
) -> impl IntoView {
    let document = board
        .get_untracked()
        .as_ref()
        .map(|b| b.document.clone())
        .unwrap_or_else(crate::widgets::default_document);
    let (first, hidden) = start(&document, audience, one);
    let editor = RwSignal::new(first);
    let hidden = StoredValue::new(hidden);
    let announce = RwSignal::new(String::new());
    let conflict = RwSignal::new(None::<String>);
    // Saved elsewhere while this tab has changes: said, and the save offers a copy.
    let elsewhere = RwSignal::new(None::<i32>);
    let saving = RwSignal::new(false);
    let configuring = RwSignal::new(None::<String>);
    // A pointer drag or resize in progress: the layout it would leave, shown as it goes.
    // It changes only when the widget would land somewhere else; the pointer's offset, which
    // changes at every move, is apart (`offset`) and only the carried widget reads it.
    let drag = RwSignal::new(None::<Drag>);
    let offset = RwSignal::new((0.0_f64, 0.0_f64));
    let carried = Memo::new(move |_| {
        drag.with(|d| {
            d.as_ref()
                .filter(|d| !d.resize)
                .map(|d| (d.key.clone(), d.start))
        })
    });
    let shown_layout = Memo::new(move |_| {
        drag.with(|d| d.as_ref().map(|d| d.preview.clone()))
            .unwrap_or_else(|| editor.with(|e| e.layout().clone()))
    });
    // The width being edited, and each width's arrangement (the edited one as dragged).
    let at = Memo::new(move |_| editor.with(Editor::columns));
    let at_width = move |cols: u16| {
        Memo::new(move |_| {
            if at.get() == cols {
                shown_layout.get()
            } else {
                editor.with(|e| e.layout_for(cols).clone())
            }
        })
    };
    let [wide, medium, narrow] = BREAKPOINTS.map(|(_, cols)| at_width(cols));
    let by_hand = Memo::new(move |_| editor.with(Editor::by_hand));
    // A window resized past a breakpoint while editing: arrange the width it now shows.
    #[cfg(feature = "hydrate")]
    {
        let shown_cols = StoredValue::new(window_columns());
        let listener = window_event_listener(leptos::ev::resize, move |_| {
            let now = window_columns();
            if shown_cols.try_get_value() != Some(now) {
                shown_cols.try_set_value(now);
                if editing.try_get_untracked() == Some(true) {
                    editor.try_update(|e| e.edit_columns(now));
                }
            }
        });
        let listener = send_wrapper::SendWrapper::new(listener);
        on_cleanup(move || listener.take().remove());
    }
    let on_board = Memo::new(move |_| editor.with(Editor::widgets));
    let title_of = move |key: &str| {
        editor.with_untracked(|e| {
            e.widget(key)
                .and_then(|p| {
                    p.title
                        .clone()
                        .or_else(|| find(&p.widget).map(|s| s.title.to_string()))
                })
                .unwrap_or_default()
        })
    };
    let dirty = Memo::new(move |_| editor.with(Editor::dirty));

    // Another tab (or a colleague, for a workspace board) saved the board shown: a page
    // without changes takes the new version at once; one with changes is told.
    Effect::new(move |_| {
        let Some(s) = saved.get() else { return };
        // This tab's own save is told back to it too, perhaps before its answer arrives.
        if saving.get_untracked() {
            return;
        }
        let Some(current) = board.with_untracked(|b| b.as_ref().map(|b| (b.id, b.version))) else {
            return;
        };
        if s.board != current.0 || s.version.is_some_and(|v| v <= current.1) {
            return;
        }
        let Some(version) = s.version else {
            announce.set("This dashboard was deleted elsewhere.".into());
            elsewhere.set(Some(0));
            return;
        };
        if dirty.get_untracked() {
            elsewhere.set(Some(version));
            return;
        }
        leptos::task::spawn_local(async move {
            if let Ok(opened) = crate::api::boards::open_board(Some(current.0)).await {
                if let Some(b) = opened.board {
                    let (e, h) = start(&b.document, audience, one);
                    hidden.set_value(h);
                    editor.set(e);
                    announce.set(format!("Updated to version {} saved elsewhere.", b.version));
                    board.set(Some(b));
                }
            }
        });
    });

    let the_document = move || {
        // The shown widgets where the editor put them, then the hidden ones settled around.
        let shown = editor.with_untracked(Editor::widgets);
        let mut items: Vec<Item> =
            editor.with_untracked(|e| e.layout_for(COLUMNS).items().to_vec());
        hidden.with_value(|h| {
            items.extend(h.iter().map(|p| Item {
                key: p.key.clone(),
                place: p.place(),
                bounds: find(&p.widget).map(|s| s.bounds()).unwrap_or(Bounds::ANY),
            }))
        });
        let full = Layout::settled(COLUMNS, items);
        let narrower = editor.with_untracked(|e| {
            e.narrower_by_hand()
                .into_iter()
                .map(|l| Narrower::of(&l.following(&full.for_columns(l.cols()))))
                .collect()
        });
        let mut widgets = shown;
        widgets.extend(hidden.get_value());
        Document { widgets, narrower }.arranged(&full)
    };
    let saved_now = move |b: SavedBoard| {
        board.set(Some(b));
        editor.update(|e| e.saved());
        elsewhere.set(None);
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
                    saved_now(b);
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
                    conflict.set(None);
                    saved_now(b);
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
        let placed = spec.placed(
            spec.id,
            Place {
                x: 0,
                y: 0,
                w: u16::from(spec.w),
                h: u16::from(spec.h),
            },
        );
        if let Some(key) = editor
            .try_update(|e| e.add(placed, spec.bounds()))
            .flatten()
        {
            say(&key, "Added. ");
        }
    };
    let duplicate = move |key: String| {
        let Some(spec) = editor.with_untracked(|e| e.widget(&key).and_then(|p| find(&p.widget)))
        else {
            return;
        };
        if let Some(copy) = editor
            .try_update(|e| e.duplicate(&key, spec.bounds()))
            .flatten()
        {
            say(&copy, "Copied. ");
        }
    };
    let remove = move |key: String| {
        let title = title_of(&key);
        let removed = editor.try_update(|e| e.remove(&key)).unwrap_or(false);
        if removed {
            announce.set(format!("Removed {title}. Undo brings it back."));
        }
    };
    // What may be added: every kind this reader sees (a second copy gets its own key).
    let addable: StoredValue<Vec<&'static WidgetSpec>> = StoredValue::new(
        crate::widgets::REGISTRY
            .iter()
            .filter(|w| w.shown(audience, one))
            .collect(),
    );
    let wanted = RwSignal::new(String::new());
    let add_wanted = move || {
        let asked = wanted.get_untracked();
        let asked = asked.trim();
        let found = addable.with_value(|all| crate::widgets::by_name(all, asked));
        match found {
            Some(spec) => {
                add(spec);
                wanted.set(String::new());
            }
            None => announce.set(format!(
                "No single widget is called “{asked}”; pick one from the list."
            )),
        }
    };

    let render = move |placed: Placed| {
        let key = placed.key.clone();
        let spec = find(&placed.widget).expect("the editor holds known kinds only");
        let style = {
            let key = key.clone();
            move || {
                let place = |l: Memo<Layout>| l.with(|l| l.get(&key).map(|i| i.place));
                let (Some(p), Some(m), Some(n)) = (place(wide), place(medium), place(narrow))
                else {
                    return String::new();
                };
                // While carried, the widget stays in its cell and follows the pointer; the
                // placeholder shows where it lands.
                let mut places = [p, m, n];
                let mut lift = String::new();
                if let Some(start) =
                    carried.with(|c| c.as_ref().filter(|c| c.0 == key).map(|c| c.1))
                {
                    let i = BREAKPOINTS
                        .iter()
                        .position(|(_, c)| *c == at.get_untracked());
                    places[i.unwrap_or(0)] = start;
                    let (dx, dy) = offset.get();
                    lift = format!(";transform:translate({dx}px,{dy}px);z-index:5");
                }
                let [p, m, n] = places;
                format!("{}{lift}", grid_vars(p, m, n))
            }
        };
        let place = {
            let key = key.clone();
            move || {
                shown_layout.with(|l| {
                    l.get(&key)
                        .map(|i| format!("{},{},{},{}", i.place.x, i.place.y, i.place.w, i.place.h))
                        .unwrap_or_default()
                })
            }
        };
        let held = {
            let key = key.clone();
            Memo::new(move |_| editor.with(|e| e.held() == Some(key.as_str())))
        };
        let title = placed
            .title
            .clone()
            .unwrap_or_else(|| spec.title.to_string());
        // The widget reads with the page's filters and its own over them.
        let own = placed.filters.clone();
        let own_words = own.describe();
        let q = Memo::new(move |_| ctx.filters.with(|page| own.over(page).to_query()));
        let wctx = Ctx { q, ..ctx };
        let k = move || key.clone();
        let (k1, k2, k3, k4, k5, k6) = (k(), k(), k(), k(), k(), k());
        view! {
            <Widget
                spec
                ctx=wctx
                audience
                key=k()
                title
                own=own_words
                style=Signal::derive(style)
                place=Signal::derive(place)
                editing=editing.into()
                held=held.into()
                on_key=Callback::new(move |ev| on_key(k1.clone(), ev))
                on_step=Callback::new(move |(dir, resize)| step(k2.clone(), dir, resize))
                on_drag=Callback::new(move |(ev, resize)| start_drag(k3.clone(), ev, resize, editor, drag, offset))
                on_drag_move=Callback::new(move |ev| move_drag(ev, drag, offset))
                on_drag_end=Callback::new(move |_ev: leptos::ev::PointerEvent| {
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
                on_remove=Callback::new(move |_| remove(k4.clone()))
                on_duplicate=Callback::new(move |_| duplicate(k5.clone()))
                on_configure=Callback::new(move |_| configuring.set(Some(k6.clone())))
                split=placed.split.unwrap_or(default_split(spec))
                measure=placed.measure.unwrap_or(default_measure(spec))
                chart=placed.chart.or_else(|| spec.charts().first().copied())
            />
        }
    };
    // Where the carried widget would land: one element for the whole drag, restyled.
    let landing = Memo::new(move |_| {
        let key = carried.with(|c| c.as_ref().map(|c| c.0.clone()))?;
        shown_layout.with(|l| l.get(&key).map(|i| i.place))
    });
    let landing_shown = Memo::new(move |_| landing.with(Option::is_some));
    let placeholder = move || {
        landing_shown.get().then(|| {
            view! {
                <div
                    class="placeholder"
                    aria-hidden="true"
                    style=move || landing.get().map(|p| grid_vars(p, p, p)).unwrap_or_default()
                ></div>
            }
        })
    };
    let is_own = move || board.with(|b| b.as_ref().is_some_and(|b| b.editable));
    let panel = move || {
        let key = configuring.get()?;
        let placed = editor.with_untracked(|e| e.widget(&key).cloned())?;
        let spec = find(&placed.widget)?;
        Some(view! {
            <super::configure::Configure
                placed
                spec
                audience
                q=ctx.q
                on_apply=Callback::new(move |p: Placed| {
                    let key = p.key.clone();
                    let changed = editor.try_update(|e| e.configure(&key, p)).unwrap_or(false);
                    configuring.set(None);
                    announce.set(if changed {
                        format!("Settings of {} changed.", title_of(&key))
                    } else {
                        "Nothing changed.".into()
                    });
                    focus(&format!("w-{key}-configure"));
                })
                on_close=Callback::new(move |_| {
                    if let Some(key) = configuring.get_untracked() {
                        focus(&format!("w-{key}-configure"));
                    }
                    configuring.set(None);
                })
            />
        })
    };
    view! {
        <div class="board-bar" class:hidden=kiosk>
            <Show when=move || editing.get() fallback=move || view! {
                <Show when=move || keeps_own || is_own()>
                    <button type="button" class="button" id="edit-layout" on:click=move |_| {
                        // The width the window shows is the one arranged first.
                        editor.update(|e| { e.edit_columns(window_columns()); });
                        editing.set(true);
                        announce.set("Editing the layout. Focus a widget and press Enter to pick it up, or use its buttons.".into());
                    }>"Edit layout"</button>
                </Show>
            }>
                <span class="muted" id="board-name">
                    {move || board.with(|b| b.as_ref().map(|b| b.name.clone()).unwrap_or_else(|| "Built-in dashboard".into()))}
                </span>
                <button type="button" class="button" id="save-layout" disabled=move || saving.get() || !dirty.get() on:click=move |_| {
                    match elsewhere.get_untracked() {
                        // Known stale: ask, as the server would.
                        Some(0) => conflict.set(Some("This dashboard was deleted elsewhere after you began.".into())),
                        Some(v) => conflict.set(Some(format!("This dashboard was saved elsewhere (now version {v}) after you began."))),
                        None => save(),
                    }
                }>
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
                    configuring.set(None);
                    announce.set(if dirty.get_untracked() { "Done editing; changes not saved yet.".into() } else { "Done editing.".into() });
                }>"Done"</button>
                <form class="add-widget" on:submit=move |ev| {
                    ev.prevent_default();
                    add_wanted();
                }>
                    <label for="add-widget">"Add a widget"</label>
                    <input
                        id="add-widget"
                        type="search"
                        list="widget-catalogue"
                        placeholder="Search by name…"
                        autocomplete="off"
                        prop:value=move || wanted.get()
                        on:input=move |ev| wanted.set(event_target_value(&ev))
                    />
                    <datalist id="widget-catalogue">
                        {addable.get_value().into_iter().map(|w| view! { <option value=w.title>{w.about}</option> }).collect_view()}
                    </datalist>
                    <button type="submit" class="link" id="add-widget-button" disabled=move || wanted.with(|w| w.trim().is_empty())>"Add"</button>
                </form>
                <fieldset class="arrange-for">
                    <legend>"Arranging for"</legend>
                    {BREAKPOINTS.map(|(_, cols)| view! {
                        <label>
                            <input
                                type="radio"
                                name="arrange-for"
                                id=format!("arrange-{cols}")
                                prop:checked=move || at.get() == cols
                                on:change=move |_| {
                                    editor.update(|e| { e.edit_columns(cols); });
                                    announce.set(format!("Arranging for {}.", width_name(cols)));
                                }
                            />
                            {width_label(cols)}
                        </label>
                    }).collect_view()}
                </fieldset>
                <span class="muted narrow-note" id="arrange-note">{move || {
                    if at.get() == COLUMNS {
                        "Narrower screens follow this arrangement until arranged by hand."
                    } else if by_hand.get() {
                        "Arranged by hand for this width."
                    } else {
                        "Follows the wide arrangement until you change it here."
                    }
                }}</span>
                <Show when=move || at.get() != COLUMNS && by_hand.get()>
                    <button type="button" class="link" id="follow-wide" on:click=move |_| {
                        editor.update(|e| { e.follow_wide(); });
                        announce.set(format!("{} follow the wide arrangement again.", width_name(at.get_untracked())));
                    }>"Follow the wide arrangement"</button>
                </Show>
            </Show>
            <p class="sr-only" role="status" aria-live="polite" aria-atomic="true" id="layout-status">{move || announce.get()}</p>
        </div>
        {move || elsewhere.get().map(|v| view! {
            <p class="notice" role="status" id="saved-elsewhere">
                {if v == 0 {
                    "This dashboard was deleted elsewhere; saving will offer to keep yours as a copy.".to_string()
                } else {
                    format!("Version {v} of this dashboard was saved elsewhere; saving will offer to keep yours as a copy or take theirs.")
                }}
            </p>
        })}
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
        {panel}
        <div
            class=move || if editing.get() { format!("board editing at-{}", at.get()) } else { "board".into() }
            id="board"
            data-height=move || shown_layout.with(Layout::height)
        >
            <For each=move || on_board.get() key=fingerprint children=render />
            {placeholder}
        </div>
    }
}

/// Moves focus to the element `id` (after a panel closes, back to what opened it).
pub(super) fn focus(id: &str) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if let Some(el) = document()
            .get_element_by_id(id)
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = el.focus();
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = id;
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
    /// Grid units (columns of the width being edited, and rows) per pixel.
    per_px: (f64, f64),
    before: Layout,
    preview: Layout,
}

/// Column and row pitch in grid units per pixel, from the board's width now, on a grid of
/// `cols` columns.
fn units_per_px(cols: u16) -> (f64, f64) {
    #[cfg(feature = "hydrate")]
    let width = document()
        .get_element_by_id("board")
        .map(|b| f64::from(b.client_width()))
        .unwrap_or(1200.0);
    #[cfg(not(feature = "hydrate"))]
    let width = 1200.0;
    let pitch = (width + GAP_PX) / f64::from(cols.max(1));
    (1.0 / pitch, 1.0 / (ROW_PX as f64 + GAP_PX))
}

/// The columns the window is laid out in now.
fn window_columns() -> u16 {
    #[cfg(feature = "hydrate")]
    let width = window()
        .inner_width()
        .ok()
        .and_then(|w| w.as_f64())
        .unwrap_or(1200.0);
    #[cfg(not(feature = "hydrate"))]
    let width = 1200.0;
    types::layout::columns_at(width)
}

fn width_label(cols: u16) -> &'static str {
    match cols {
        COLUMNS => "Wide",
        1 => "Phone",
        _ => "Tablet",
    }
}

fn width_name(cols: u16) -> &'static str {
    match cols {
        COLUMNS => "wide screens",
        1 => "phones (one column)",
        _ => "tablets (12 columns)",
    }
}

/// The stylesheet's placement of a widget at each width: `--c/--r/--w/--h` on the wide
/// grid, `--mc/--mr/--mw/--mh` on the medium one, `--nr/--nh` on one column (1-based).
fn grid_vars(wide: Place, medium: Place, narrow: Place) -> String {
    format!(
        "--c:{};--r:{};--w:{};--h:{};--mc:{};--mr:{};--mw:{};--mh:{};--nr:{};--nh:{}",
        wide.x + 1,
        wide.y + 1,
        wide.w,
        wide.h,
        medium.x + 1,
        medium.y + 1,
        medium.w,
        medium.h,
        narrow.y + 1,
        narrow.h
    )
}

/// The gap between grid cells, in pixels (as the stylesheet's `.board`).
const GAP_PX: f64 = 12.0;

fn start_drag(
    key: String,
    ev: leptos::ev::PointerEvent,
    resize: bool,
    editor: RwSignal<Editor>,
    drag: RwSignal<Option<Drag>>,
    offset: RwSignal<(f64, f64)>,
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
    offset.set((0.0, 0.0));
    drag.set(Some(Drag {
        key,
        resize,
        start,
        pointer: (f64::from(ev.client_x()), f64::from(ev.client_y())),
        per_px: units_per_px(editor.with_untracked(Editor::columns)),
        preview: before.clone(),
        before,
    }));
}

fn move_drag(
    ev: leptos::ev::PointerEvent,
    drag: RwSignal<Option<Drag>>,
    offset: RwSignal<(f64, f64)>,
) {
    let dx = f64::from(ev.client_x());
    let dy = f64::from(ev.client_y());
    let Some((dx, dy, preview)) = drag.with_untracked(|d| {
        let d = d.as_ref()?;
        let (dx, dy) = (dx - d.pointer.0, dy - d.pointer.1);
        let cells =
            |px: f64, per: f64, from: u16| (f64::from(from) + px * per).round().max(0.0) as u16;
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
        Some((dx, dy, (preview != d.preview).then_some(preview)))
    }) else {
        return;
    };
    offset.set((dx, dy));
    if let Some(preview) = preview {
        drag.update(|d| {
            if let Some(d) = d {
                d.preview = preview;
            }
        });
    }
}
