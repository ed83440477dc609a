//! Light and dark. The page follows the system until someone picks one; the pick is kept in a
//! cookie, so the server renders the next page in it (no flash of the other theme).

use leptos::prelude::*;

/// The theme picked on this browser: `None` follows the system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Theme {
    Light,
    Dark,
}

impl Theme {
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    /// From the `Cookie` header's `theme=…`.
    pub fn from_cookies(header: &str) -> Option<Theme> {
        header.split(';').find_map(|c| match c.trim() {
            "theme=light" => Some(Theme::Light),
            "theme=dark" => Some(Theme::Dark),
            _ => None,
        })
    }
}

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
            let _ = doc.set_cookie(&format!(
                "theme={}; Path=/; Max-Age=31536000; SameSite=Lax",
                t.as_str()
            ));
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = t;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pick_is_read_from_the_cookie_header() {
        assert_eq!(Theme::from_cookies("a=b; theme=light"), Some(Theme::Light));
        assert_eq!(Theme::from_cookies("theme=dark"), Some(Theme::Dark));
        assert_eq!(Theme::from_cookies("theme=blue; x=y"), None);
        assert_eq!(Theme::from_cookies(""), None);
    }
}
