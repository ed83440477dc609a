//! The boards menu above the dashboard: switch between the boards the reader may open, and
//! (as far as their role allows) make a new one, duplicate, rename, delete, make one their
//! home, export it as JSON, import one (always as a new board, never over another) and, for
//! dashboard managers, choose whose default a workspace board is and which teams it is
//! shared with.

use crate::components::for_the_render;
use leptos::prelude::*;
#[cfg(feature = "hydrate")]
use leptos_router::hooks::use_navigate;
use types::boards::{Audience as BoardAudience, Board as SavedBoard, Boards, Document};
use types::dashboard::{encode, Filters};
use types::{BoardId, Role, TeamId};

use super::{href, Ctx, Shown};
use crate::api::{
    boards::{create_board, delete_board, publish_board, save_board, set_home_board},
    dashboard::get_choices,
};

/// The panel open under the menu.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Panel {
    New,
    Duplicate,
    Rename,
    Delete,
    Import,
    Share,
}

/// An export file: the board's name and its document, which [`imported`] reads back.
pub fn exported(name: &str, document: &Document) -> String {
    serde_json::to_string_pretty(&serde_json::json!({ "name": name, "document": document }))
        .expect("a document serialises")
}

/// What an import file holds: a name (if it has one) and the document's JSON, from an
/// export or from a bare document. The server checks the document.
pub fn imported(text: &str) -> Result<(Option<String>, String), String> {
    let v: serde_json::Value = serde_json::from_str(text.trim()).map_err(|e| {
        format!(
            "This is not JSON (line {}, column {}): {e}",
            e.line(),
            e.column()
        )
    })?;
    match v.get("document") {
        Some(d) => Ok((
            v.get("name").and_then(|n| n.as_str()).map(str::to_string),
            d.to_string(),
        )),
        None if v.get("widgets").is_some() => Ok((None, v.to_string())),
        None => Err("An import holds a board export or a document with \"widgets\".".into()),
    }
}

/// A file name for an export of board `name`.
fn file_name(name: &str) -> String {
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let slug = slug.trim_matches('-');
    format!(
        "{}.dashboard.json",
        if slug.is_empty() { "dashboard" } else { slug }
    )
}

#[allow(clippy::too_many_arguments)]
#[component]
pub(super) fn BoardMenu(
    boards: Boards,
    board: RwSignal<Option<SavedBoard>>,
    shown: Memo<Shown>,
    filters: Memo<Filters>,
    keeps_own: bool,
    manages: bool,
    /// May download the dashboard as a PDF (`types::reports::EXPORTS`).
    prints: bool,
    ctx: Ctx,
    reload: Callback<()>,
) -> impl IntoView {
    // Only the browser navigates; a local value made on the server would be dropped on
    // another of its threads.
    #[cfg(feature = "hydrate")]
    let navigate = StoredValue::new_local(use_navigate());
    let go = move |id: Option<BoardId>| {
        let to = href(
            &shown.get_untracked().with_board(id),
            &filters.get_untracked(),
        );
        #[cfg(feature = "hydrate")]
        navigate.with_value(|n| n(&to, Default::default()));
        #[cfg(not(feature = "hydrate"))]
        let _ = to;
    };
    let panel = RwSignal::new(None::<Panel>);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let current_id = move || board.with(|b| b.as_ref().map(|b| b.id));
    let editable = move || board.with(|b| b.as_ref().is_some_and(|b| b.editable));
    let workspace = move || board.with(|b| b.as_ref().is_some_and(|b| b.owner.is_none()));
    let is_home = {
        let home = boards.home;
        move || current_id() == home
    };
    let name_now = move || {
        board.with(|b| {
            b.as_ref()
                .map(|b| b.name.clone())
                .unwrap_or_else(|| "Built-in dashboard".into())
        })
    };
    let document_now = move || {
        board.with(|b| {
            b.as_ref()
                .map(|b| b.document.clone())
                .unwrap_or_else(crate::widgets::default_document)
        })
    };
    let export_href = move || {
        format!(
            "data:application/json;charset=utf-8,{}",
            encode(&exported(&name_now(), &document_now()))
        )
    };
    // The board as it is shown (its filters too): printed, or every widget's numbers.
    let report_href = move |what: &'static str| {
        let q: Vec<String> = [
            current_id()
                .map(|id| format!("board={id}"))
                .unwrap_or_default(),
            filters.with(Filters::to_query),
        ]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
        format!("/api/v1/reports/{what}?{}", q.join("&"))
    };
    let open = move |p: Panel| {
        error.set(None);
        panel.set(if panel.get_untracked() == Some(p) {
            None
        } else {
            Some(p)
        });
    };
    // Runs one action; a failure is shown beside the panel, which stays open.
    let act = move |f: std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<(), crate::AppError>>>,
    >| {
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            let r = f.await;
            busy.set(false);
            match r {
                Ok(()) => panel.set(None),
                Err(e) => error.set(Some(e.message)),
            }
        });
    };

    let (mine, theirs): (Vec<_>, Vec<_>) = boards
        .boards
        .iter()
        .cloned()
        .partition(|b| b.owner.is_some());
    let option = move |b: types::boards::BoardSummary| {
        let id = b.id;
        let label = if b.home {
            format!("{} (home)", b.name)
        } else {
            b.name.clone()
        };
        view! { <option value=id.to_string() selected=move || current_id() == Some(id)>{label}</option> }
    };
    let picker = view! {
        <label class="board-pick">
            "Dashboard"
            <select
                id="board-pick"
                on:change=move |ev| {
                    let v = event_target_value(&ev);
                    go(v.parse().ok());
                }
            >
                <option value="" selected=move || current_id().is_none()>
                    {if boards.home.is_none() { "Built-in dashboard (home)" } else { "Built-in dashboard" }}
                </option>
                {(!mine.is_empty()).then(|| view! {
                    <optgroup label="Mine">{mine.into_iter().map(option).collect_view()}</optgroup>
                })}
                {(!theirs.is_empty()).then(|| view! {
                    <optgroup label="Workspace">{theirs.into_iter().map(option).collect_view()}</optgroup>
                })}
            </select>
        </label>
    };

    let name = RwSignal::new(String::new());
    let start_from = RwSignal::new("builtin".to_string());
    let for_workspace = RwSignal::new(false);
    let import_text = RwSignal::new(String::new());
    let create = move |name: String, document: String, ws: bool| {
        act(Box::pin(async move {
            let b = create_board(name, document, ws).await?;
            go(Some(b.id));
            Ok(())
        }))
    };
    let new_panel = move |duplicate: bool| {
        view! {
            <form class="card board-panel" id="board-panel" aria-labelledby="board-panel-title" on:submit=move |ev| {
                ev.prevent_default();
                let document = match start_from.get_untracked().as_str() {
                    "this" => document_now(),
                    "empty" => Document::default(),
                    _ => crate::widgets::default_document(),
                };
                let json = serde_json::to_string(&document).expect("a document serialises");
                create(name.get_untracked(), json, manages && for_workspace.get_untracked());
            }>
                <h2 id="board-panel-title">{if duplicate { "Duplicate this dashboard" } else { "New dashboard" }}</h2>
                <label>"Name" <input id="board-name" required maxlength="100" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) /></label>
                {(!duplicate).then(|| view! {
                    <label>
                        "Start from"
                        <select id="board-start" on:change=move |ev| start_from.set(event_target_value(&ev))>
                            <option value="builtin" selected=true>"The built-in dashboard"</option>
                            <option value="this">"This dashboard"</option>
                            <option value="empty">"An empty board"</option>
                        </select>
                    </label>
                })}
                {manages.then(|| view! {
                    <label class="check">
                        <input type="checkbox" id="board-workspace" prop:checked=move || for_workspace.get() on:change=move |ev| for_workspace.set(event_target_checked(&ev)) />
                        "A workspace dashboard (you choose who sees it)"
                    </label>
                })}
                <div class="actions">
                    <button type="submit" class="button" id="board-create" disabled=move || busy.get()>"Create"</button>
                    <button type="button" class="link" on:click=move |_| panel.set(None)>"Cancel"</button>
                </div>
            </form>
        }
    };
    let rename_panel = move || {
        view! {
            <form class="card board-panel" id="board-panel" aria-labelledby="board-panel-title" on:submit=move |ev| {
                ev.prevent_default();
                let Some(b) = board.get_untracked() else { return };
                let json = serde_json::to_string(&b.document).expect("a document serialises");
                let new_name = name.get_untracked();
                act(Box::pin(async move {
                    let saved = save_board(b.id, b.version, Some(new_name), json).await?;
                    board.set(Some(saved));
                    reload.run(());
                    Ok(())
                }));
            }>
                <h2 id="board-panel-title">"Rename this dashboard"</h2>
                <label>"Name" <input id="board-name" required maxlength="100" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) /></label>
                <div class="actions">
                    <button type="submit" class="button" id="board-rename-save" disabled=move || busy.get()>"Rename"</button>
                    <button type="button" class="link" on:click=move |_| panel.set(None)>"Cancel"</button>
                </div>
            </form>
        }
    };
    let delete_panel = move || {
        view! {
            <div class="card board-panel" id="board-panel" role="alertdialog" aria-labelledby="board-panel-title">
                <h2 id="board-panel-title">{format!("Delete “{}”?", name_now())}</h2>
                <p>"It goes for everyone it is shared with. This cannot be undone; export it first to keep a copy."</p>
                <div class="actions">
                    <button type="button" class="button danger" id="board-delete-confirm" disabled=move || busy.get() on:click=move |_| {
                        let Some(id) = current_id() else { return };
                        act(Box::pin(async move {
                            delete_board(id).await?;
                            go(None);
                            Ok(())
                        }));
                    }>"Delete"</button>
                    <button type="button" class="link" on:click=move |_| panel.set(None)>"Cancel"</button>
                </div>
            </div>
        }
    };
    let import_panel = move || {
        view! {
            <form class="card board-panel" id="board-panel" aria-labelledby="board-panel-title" on:submit=move |ev| {
                ev.prevent_default();
                match imported(&import_text.get_untracked()) {
                    Ok((from_file, document)) => {
                        let typed = name.get_untracked();
                        let n = if typed.trim().is_empty() {
                            from_file.map(|n| format!("{n} (imported)")).unwrap_or_else(|| "Imported dashboard".into())
                        } else {
                            typed
                        };
                        create(n, document, false);
                    }
                    Err(e) => error.set(Some(e)),
                }
            }>
                <h2 id="board-panel-title">"Import a dashboard"</h2>
                <p class="muted">"An export (or a document) becomes a new dashboard of yours; nothing is overwritten."</p>
                <label>
                    "File"
                    <input type="file" id="board-import-file" accept=".json,application/json" on:change=move |ev| read_file(ev, import_text) />
                </label>
                <label>
                    "Or paste it"
                    <textarea id="board-import-json" rows="6" prop:value=move || import_text.get() on:input=move |ev| import_text.set(event_target_value(&ev))></textarea>
                </label>
                <label>"Name (optional)" <input id="board-name" maxlength="100" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) /></label>
                <div class="actions">
                    <button type="submit" class="button" id="board-import-go" disabled=move || busy.get() || import_text.with(|t| t.trim().is_empty())>"Import"</button>
                    <button type="button" class="link" on:click=move |_| panel.set(None)>"Cancel"</button>
                </div>
            </form>
        }
    };
    let share_panel = move || {
        view! { <Share board ctx busy error act=Callback::new(move |audience: BoardAudience| {
            let Some(id) = current_id() else { return };
            act(Box::pin(async move {
                let json = serde_json::to_string(&audience).expect("an audience serialises");
                let b = publish_board(id, json).await?;
                board.set(Some(b));
                reload.run(());
                Ok(())
            }));
        }) /> }
    };

    view! {
        <div class="board-menu" id="board-menu">
            {picker}
            {keeps_own.then(|| view! {
                <button type="button" class="link" id="board-new" aria-expanded=move || (panel.get() == Some(Panel::New)).to_string() on:click=move |_| {
                    name.set(String::new());
                    start_from.set("builtin".into());
                    open(Panel::New);
                }>"New"</button>
                <button type="button" class="link" id="board-duplicate" aria-expanded=move || (panel.get() == Some(Panel::Duplicate)).to_string() on:click=move |_| {
                    name.set(format!("{} (copy)", name_now()));
                    start_from.set("this".into());
                    open(Panel::Duplicate);
                }>"Duplicate"</button>
            })}
            <Show when=editable>
                <button type="button" class="link" id="board-rename" aria-expanded=move || (panel.get() == Some(Panel::Rename)).to_string() on:click=move |_| {
                    name.set(name_now());
                    open(Panel::Rename);
                }>"Rename"</button>
                <button type="button" class="link" id="board-delete" aria-expanded=move || (panel.get() == Some(Panel::Delete)).to_string() on:click=move |_| open(Panel::Delete)>"Delete"</button>
            </Show>
            <Show when=move || manages && workspace()>
                <button type="button" class="link" id="board-share" aria-expanded=move || (panel.get() == Some(Panel::Share)).to_string() on:click=move |_| open(Panel::Share)>"Share"</button>
            </Show>
            <Show when=move || !is_home() fallback=|| view! { <span class="muted" id="board-is-home">"Your home"</span> }>
                <button type="button" class="link" id="board-home" disabled=move || busy.get() on:click=move |_| {
                    let id = current_id();
                    act(Box::pin(async move {
                        set_home_board(id).await?;
                        reload.run(());
                        Ok(())
                    }));
                }>"Make my home"</button>
            </Show>
            <a class="link" id="board-export" href=export_href download=move || file_name(&name_now())>"Export"</a>
            {prints.then(|| view! {
                <a class="link" id="board-pdf" href=move || report_href("pdf") download="" title="This dashboard with its filters, as a PDF">"PDF"</a>
                <a class="link" id="board-csv" href=move || format!("{}&format=csv", report_href("export")) download="" title="Every widget's numbers with these filters, one row per number">"CSV"</a>
            })}
            {keeps_own.then(|| view! {
                <button type="button" class="link" id="board-import" aria-expanded=move || (panel.get() == Some(Panel::Import)).to_string() on:click=move |_| {
                    name.set(String::new());
                    import_text.set(String::new());
                    open(Panel::Import);
                }>"Import"</button>
            })}
            <a class="link" id="board-kiosk" href=move || href(&Shown { kiosk: true, ..shown.get().with_board(current_id()) }, &filters.get())>"TV mode"</a>
        </div>
        {move || error.get().map(|e| view! { <p class="error" role="alert" id="board-error">{e}</p> })}
        {move || panel.get().map(|p| match p {
            Panel::New => new_panel(false).into_any(),
            Panel::Duplicate => new_panel(true).into_any(),
            Panel::Rename => rename_panel().into_any(),
            Panel::Delete => delete_panel().into_any(),
            Panel::Import => import_panel().into_any(),
            Panel::Share => share_panel().into_any(),
        })}
    }
}

/// Reads the chosen file into `into` (in the browser).
fn read_file(ev: leptos::ev::Event, into: RwSignal<String>) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let file = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
            .and_then(|i| i.files())
            .and_then(|f| f.get(0));
        if let Some(file) = file {
            leptos::task::spawn_local(async move {
                if let Ok(text) = wasm_bindgen_futures::JsFuture::from(file.text()).await {
                    into.set(text.as_string().unwrap_or_default());
                }
            });
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (ev, into);
}

/// Whose default a workspace board is (by role) and which teams it is shared with.
#[component]
fn Share(
    board: RwSignal<Option<SavedBoard>>,
    ctx: Ctx,
    busy: RwSignal<bool>,
    error: RwSignal<Option<String>>,
    act: Callback<BoardAudience>,
) -> impl IntoView {
    let now = board.with_untracked(|b| b.as_ref().map(|b| b.audience.clone()).unwrap_or_default());
    let roles = RwSignal::new(now.default_for.clone());
    let teams = RwSignal::new(now.shared_with.clone());
    let choices = Resource::new(move || ctx.q.get_untracked(), get_choices);
    let _ = error;
    view! {
        <form class="card board-panel" id="board-panel" aria-labelledby="board-panel-title" on:submit=move |ev| {
            ev.prevent_default();
            act.run(BoardAudience { default_for: roles.get_untracked(), shared_with: teams.get_untracked() });
        }>
            <h2 id="board-panel-title">"Who sees this dashboard"</h2>
            <fieldset>
                <legend>"The home of everyone with the role (unless they chose their own)"</legend>
                {Role::TENANT_ROLES.into_iter().map(|r| view! {
                    <label class="check">
                        <input
                            type="checkbox"
                            id=format!("share-role-{}", r.as_str())
                            prop:checked=move || roles.with(|rs| rs.contains(&r))
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                roles.update(|rs| {
                                    rs.retain(|x| *x != r);
                                    if on { rs.push(r) }
                                });
                            }
                        />
                        {r.label()}
                    </label>
                }).collect_view()}
            </fieldset>
            <fieldset>
                <legend>"Shared, read-only, with the members of"</legend>
                <Transition fallback=|| view! { <p class="muted">"Loading teams…"</p> }>
                    {move || Suspend::new(async move {
                        let c = for_the_render(choices).await.unwrap_or_default();
                        if c.teams.is_empty() {
                            return view! { <p class="muted">"No teams yet."</p> }.into_any();
                        }
                        c.teams.into_iter().filter_map(|t| {
                            let id: TeamId = t.value.parse().ok()?;
                            Some(view! {
                                <label class="check">
                                    <input
                                        type="checkbox"
                                        id=format!("share-team-{id}")
                                        prop:checked=move || teams.with(|ts| ts.contains(&id))
                                        on:change=move |ev| {
                                            let on = event_target_checked(&ev);
                                            teams.update(|ts| {
                                                ts.retain(|x| *x != id);
                                                if on { ts.push(id) }
                                            });
                                        }
                                    />
                                    {t.label}
                                </label>
                            })
                        }).collect_view().into_any()
                    })}
                </Transition>
            </fieldset>
            <div class="actions">
                <button type="submit" class="button" id="board-share-save" disabled=move || busy.get()>"Save who sees it"</button>
            </div>
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_imports_back_and_a_bare_document_imports_too() {
        let d = crate::widgets::default_document();
        let file = exported("Team spend", &d);
        let (name, json) = imported(&file).unwrap();
        assert_eq!(name.as_deref(), Some("Team spend"));
        assert_eq!(Document::parse(&json).unwrap(), d);
        let bare = serde_json::to_string(&d).unwrap();
        let (name, json) = imported(&bare).unwrap();
        assert_eq!((name, Document::parse(&json).unwrap()), (None, d));
        assert!(imported("{").unwrap_err().contains("not JSON"));
        assert!(imported(r#"{"rows":[]}"#).unwrap_err().contains("widgets"));
        assert_eq!(
            file_name("Team spend / Q3"),
            "team-spend---q3.dashboard.json"
        );
        assert_eq!(file_name("✨"), "dashboard.dashboard.json");
    }
}
