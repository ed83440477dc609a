//! The bell in the top bar: how many of the reader's alert notifications are unread, and the
//! latest of them. It rings live: the page's feed bumps `alerts` when an alert the reader
//! hears of fires or resolves, and the bell fetches itself again. Before the WASM arrives it
//! is a link to the alerts page.

use leptos::prelude::*;

use crate::{
    api::alerts::{my_inbox, MarkRead},
    live::MetricsFeed,
};

#[component]
pub fn Bell() -> impl IntoView {
    let feed = MetricsFeed::open();
    let read = ServerAction::<MarkRead>::new();
    let inbox = Resource::new(
        move || (feed.alerts.get(), read.version().get()),
        |_| my_inbox(),
    );
    let open = RwSignal::new(false);
    let count = move || {
        inbox
            .get()
            .and_then(Result::ok)
            .map(|i| i.unread)
            .unwrap_or(0)
    };
    view! {
        <div class="bell">
            <a
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
                <Transition fallback=|| view! { <span class="sr-only">"Notifications"</span> }>
                    {move || Suspend::new(async move {
                        let n = inbox.await.map(|i| i.unread).unwrap_or(0);
                        view! {
                            <span class="bell-count" id="bell-count" data-count=n hidden=n == 0 aria-hidden="true">
                                {if n > 99 { "99+".to_string() } else { n.to_string() }}
                            </span>
                            <span class="sr-only">{format!("Notifications, {n} unread")}</span>
                        }
                    })}
                </Transition>
            </a>
            <div
                id="bell-panel"
                class="bell-panel"
                role="region"
                aria-label="Notifications"
                hidden=move || !open.get()
                on:keydown=move |ev| {
                    if ev.key() == "Escape" {
                        open.set(false);
                    }
                }
            >
                <div class="bell-head">
                    <strong>"Notifications"</strong>
                    <ActionForm action=read attr:class="inline">
                        <button type="submit" class="link" id="bell-read-all" disabled=move || count() == 0>
                            "Mark all read"
                        </button>
                    </ActionForm>
                </div>
                <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        let items = inbox.await.map(|i| i.items).unwrap_or_default();
                        if items.is_empty() {
                            return view! { <p class="muted" id="bell-empty">"No alerts yet."</p> }.into_any();
                        }
                        view! {
                            <ul class="plain bell-items" id="bell-items">
                                {items
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
                                    .collect_view()}
                            </ul>
                        }
                        .into_any()
                    })}
                </Transition>
                <p><a href="/alerts" id="bell-all">"All alerts and rules"</a></p>
            </div>
        </div>
    }
}
