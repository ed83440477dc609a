//! Light and dark. The page follows the system until someone picks one. The pick is kept in a
//! cookie, so the server renders the next page in it (no flash of the other theme), and with
//! the person (`profile/theme`), so it follows them to every browser they sign in on (sign-in
//! sets the cookie from it).

use leptos::prelude::*;

pub use types::Theme;

/// What the page is drawn in; charts read it to redraw when it changes.
#[derive(Clone, Copy)]
pub struct ThemeChoice(pub RwSignal<Option<Theme>>);

/// The request's pick (server side), or the page's (browser side, from `<html data-theme>`).
pub fn provide_theme() -> ThemeChoice {
    #[cfg(feature = "ssr")]
    let initial = use_context::<http::request::Parts>().and_then(|p| {
        p.headers
            .get(http::header::COOKIE)
            .and_then(|c| c.to_str().ok())
            .and_then(Theme::from_cookies)
    });
    #[cfg(not(feature = "ssr"))]
    let initial = document()
        .document_element()
        .and_then(|e| e.get_attribute("data-theme"))
        .and_then(|t| Theme::from_cookies(&format!("theme={t}")));
    let choice = ThemeChoice(RwSignal::new(initial));
    provide_context(choice);
    choice
}

#[component]
pub fn ThemeToggle() -> impl IntoView {
    let choice = expect_context::<ThemeChoice>().0;
    let next = move || match choice.get() {
        Some(Theme::Light) => Theme::Dark,
        Some(Theme::Dark) => Theme::Light,
        // Following the system: the toggle switches away from what the system shows.
        None if prefers_dark() => Theme::Light,
        None => Theme::Dark,
    };
    view! {
        <button
            type="button"
            class="link theme-toggle"
            id="theme-toggle"
            aria-label=move || format!("Switch to the {} theme", next().as_str())
            on:click=move |_| {
                let t = next();
                remember(t);
                choice.set(Some(t));
                // Signed out, this is refused and the browser's cookie is all there is.
                leptos::task::spawn_local(async move {
                    let _ = set_theme(Some(t.as_str().to_string())).await;
                });
            }
        >
            {move || if next() == Theme::Light { "☀ Light" } else { "☾ Dark" }}
        </button>
    }
}

fn prefers_dark() -> bool {
    #[cfg(feature = "hydrate")]
    {
        window()
            .match_media("(prefers-color-scheme: dark)")
            .ok()
            .flatten()
            .is_some_and(|m| m.matches())
    }
    #[cfg(not(feature = "hydrate"))]
    true
}

fn remember(t: Theme) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("data-theme", t.as_str());
        }
        if let Ok(doc) = document().dyn_into::<web_sys::HtmlDocument>() {
            let _ = doc.set_cookie(&Theme::cookie(Some(t)));
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = t;
}

/// Remembers the caller's theme (`None`: follow the system), as `PUT /api/v1/profile/theme`.
#[server(endpoint = "profile/theme")]
pub async fn set_theme(theme: Option<String>) -> Result<(), crate::AppError> {
    let s = crate::session::ssr::require_fn::<SetTheme>().await?;
    let theme = Theme::choice(theme.as_deref())?;
    let store = crate::ssr::server_context()?.store;
    let mut tx = store.scoped_tx(s.scope.as_ref()).await?;
    store::accounts::set_theme(tx.conn(), s.user_id, theme).await?;
    tx.commit().await?;
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(v) = http::HeaderValue::from_str(&Theme::cookie(theme)) {
            response.append_header(http::header::SET_COOKIE, v);
        }
    }
    Ok(())
}
