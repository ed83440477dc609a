//! The bell in the top bar: how many of the reader's alert notifications are unread, and the
//! latest of them. It rings live: the page's feed bumps `alerts` when an alert the reader
//! hears of fires or resolves, and the bell fetches itself again. Before the WASM arrives it
//! is a link to the alerts page.

use leptos::prelude::*;

use crate::{
    api::alerts::{my_inbox, MarkRead},
    live::MetricsFeed,
};

/// The bell's data, made where the page's shell is (outside any suspense, so the server's
/// answer travels with the page and hydration finds what the server rendered).
#[derive(Clone, Copy)]
pub struct BellData {
    pub inbox: Resource<Result<types::alerts::Inbox, crate::AppError>>,
    read: ServerAction<MarkRead>,
}

impl BellData {
    /// Fetched again when the feed tells of an alert and after marking read; asked for only
    /// when `viewer` is a member of a workspace (a refusal would become a signed-out page's
    /// status).
    pub fn new(viewer: super::viewer::ViewerResource) -> BellData {
        let feed = MetricsFeed::unopened();
        let read = ServerAction::<MarkRead>::new();
        let viewer = viewer.0;
        let inbox = Resource::new(
            move || (feed.alerts.get(), read.version().get()),
            move |_| async move {
                match viewer.await {
                    Ok(Some(v)) if v.tenant.is_some() && v.support.is_none() => my_inbox().await,
                    _ => Ok(types::alerts::Inbox::default()),
                }
            },
        );
        BellData { inbox, read }
    }
}

#[component]
pub fn Bell(
    data: BellData,
    /// What the server read before rendering (the top bar awaits it with the viewer): the
    /// numbers are in the page, and hydration finds exactly them.
    initial: types::alerts::Inbox,
) -> impl IntoView {
    // The bell rings live: it opens the page's feed.
    MetricsFeed::open();
    let BellData { inbox, read } = data;
    let open = RwSignal::new(false);
    // While a refetch is on its way the last answer stays.
    let current = Memo::new(move |_| {
        inbox
            .get()
            .and_then(Result::ok)
            .unwrap_or_else(|| initial.clone())
    });
    let count = move || current.with(|i| i.unread);
    let button = NodeRef::<leptos::html::A>::new();
    view! {
        // Escape closes the panel from the button as well as from inside it, and hands the
        // focus back to the button so a keyboard user is where they started.
        <div
            class="bell"
            on:keydown=move |ev| {
                if ev.key() == "Escape" && open.get_untracked() {
                    ev.prevent_default();
                    open.set(false);
                    if let Some(b) = button.get_untracked() {
                        let _ = b.focus();
                    }
                }
            }
        >
            <a
                node_ref=button
                href="/alerts"
                id="bell"
                class="bell-button"
                role="button"
                aria-haspopup="true"
                aria-expanded=move || open.get().to_string()
                aria-controls="bell-panel"
                on:click=move |ev| {
                    ev.prevent_default();
                    open.update(|o| *o = !*o);
                }
            >
                <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
                    <path
                        fill="currentColor"
                        d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1Z"
                    />
                </svg>
                <span class="bell-count" id="bell-count" data-count=count hidden=move || count() == 0 aria-hidden="true">
                    {move || match count() {
                        n if n > 99 => "99+".to_string(),
                        n => n.to_string(),
                    }}
                </span>
                <span class="sr-only">{move || format!("Notifications, {} unread", count())}</span>
            </a>
            <div
                id="bell-panel"
                class="bell-panel"
                role="region"
                aria-label="Notifications"
                hidden=move || !open.get()
            >
                <div class="bell-head">
                    <strong>"Notifications"</strong>
                    <ActionForm action=read attr:class="inline">
                        <button type="submit" class="link" id="bell-read-all" disabled=move || count() == 0>
                            "Mark all read"
                        </button>
                    </ActionForm>
                </div>
                <p class="muted" id="bell-empty" hidden=move || current.with(|i| !i.items.is_empty())>
                    "No alerts yet."
                </p>
                <ul class="plain bell-items" id="bell-items">
                    {move || {
                        current
                            .get()
                            .items
                            .into_iter()
                            .map(|n| {
                                let tone = if n.event.state == types::alerts::State::Firing { "firing" } else { "ok" };
                                view! {
                                    <li class:unread=!n.read data-state=tone>
                                        <span class="bell-headline">{n.event.headline()}</span>
                                        <time class="muted" datetime=n.event.at.to_rfc3339()>
                                            {n.event.at.format("%b %-d %H:%M UTC").to_string()}
                                        </time>
                                    </li>
                                }
                            })
                            .collect_view()
                    }}
                </ul>
                <p><a href="/alerts" id="bell-all">"All alerts and rules"</a></p>
            </div>
        </div>
    }
}
