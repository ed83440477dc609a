//! Staying signed in to several workspaces in one browser. The session cookies hold one
//! workspace's session; the sessions of the others wait in one more cookie, their refresh
//! tokens sealed with the server's key (`store::waiting`), unused until the person switches
//! back (`api::account::workspaces`).
//!
//! A token is in exactly one cookie at a time: the current session's refresh cookie or this
//! list. Were it in both, refreshing the current one would leave a stale copy here. A token
//! the browser lets go of (a second sign-in to the same workspace, the list full) is revoked
//! unless it was rotated (its session goes on in its successor, as after a switch), so
//! nothing stays valid that no browser holds.

use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue},
    middleware::Next,
    response::Response,
};
use store::waiting::{scope_of, MAX_WAITING};

use super::{cookies, SessionCookies};
use crate::state::AppState;

/// The installation's own sessions (super admins): never kept waiting, as a workspace's
/// switcher cannot lead back to them; one replaced by a workspace's sign-in ends.
use crate::api::account::REGISTRY_SCOPE as REGISTRY;
/// As long as the longest sign-in a workspace may allow; each token still expires by its own
/// workspace's policy.
const MAX_AGE_SECS: i64 = 90 * 24 * 3600;

/// The waiting tokens this request carries (none when the cookie does not open).
pub fn waiting(state: &AppState, headers: &HeaderMap) -> Vec<String> {
    let mut found = cookies(headers, state.cookies.other_workspaces());
    match (found.next(), found.next()) {
        (Some(value), None) => store::waiting::open(&state.sealer, &value),
        _ => Vec::new(),
    }
}

/// The cookie holding `tokens` (deleting it when there are none).
pub fn cookie(state: &AppState, tokens: &[String]) -> HeaderValue {
    let c: SessionCookies = state.cookies;
    if tokens.is_empty() {
        return c.set(c.other_workspaces(), "", "/", 0);
    }
    let value = store::waiting::seal(&state.sealer, tokens);
    c.set(c.other_workspaces(), &value, "/", MAX_AGE_SECS)
}

/// The refresh token a response starts (a sign-in, a switch or a refresh), if any.
fn started(cookies_of: SessionCookies, response: &HeaderMap) -> Option<String> {
    let prefix = format!("{}=", cookies_of.refresh());
    response
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.strip_prefix(prefix.as_str()))
        .filter_map(|v| v.split(';').next())
        .find(|v| !v.is_empty())
        .map(String::from)
}

/// What waits, and what is let go, once a session of `new`'s workspace is current where `old`
/// was: `old` joins the list (a workspace's; the registry's never waits), nothing of `new`'s
/// workspace stays in it, one token per workspace, the longest-waiting out past the limit.
pub fn after_switch(
    mut waiting: Vec<String>,
    old: Option<String>,
    new: &str,
) -> (Vec<String>, Vec<String>) {
    let mut dropped = Vec::new();
    let new_scope = scope_of(new).to_string();
    let mut list: Vec<String> = Vec::new();
    // The newest first, so a duplicate workspace keeps its newest token.
    waiting.reverse();
    for t in old.into_iter().chain(waiting) {
        let scope = scope_of(&t);
        if scope == REGISTRY || scope == new_scope || list.iter().any(|w| scope_of(w) == scope) {
            dropped.push(t);
        } else {
            list.push(t);
        }
    }
    if list.len() > MAX_WAITING {
        dropped.extend(list.drain(MAX_WAITING..));
    }
    list.reverse();
    (list, dropped)
}

/// Around every request: when a response starts a session in another workspace than the
/// one the request's refresh cookie was for, that session waits instead of being dropped.
/// Covers every sign-in posted under the refresh cookie's path (the forms, the second step,
/// the switch); the switcher parks the current session itself before a sign-in elsewhere.
pub async fn keep_other_sessions(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let cookies_of = state.cookies;
    let old = {
        let mut current = cookies(request.headers(), cookies_of.refresh());
        match (current.next(), current.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    };
    let waiting_now = waiting(&state, request.headers());
    let mut response = next.run(request).await;
    let Some(new) = started(cookies_of, response.headers()) else {
        return response;
    };
    let changes_workspace = old
        .as_deref()
        .is_some_and(|o| scope_of(o) != scope_of(&new));
    let was_waiting = waiting_now.iter().any(|t| scope_of(t) == scope_of(&new));
    if changes_workspace || was_waiting {
        let (list, dropped) = after_switch(waiting_now, old, &new);
        response
            .headers_mut()
            .append(header::SET_COOKIE, cookie(&state, &list));
        for token in dropped {
            if let Err(e) = crate::api::account::refresh::end_let_go(&state, &token).await {
                tracing::warn!(error = %e, "ending a session the browser let go of failed");
            }
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> String {
        s.to_string()
    }

    #[test]
    fn the_session_left_waits_and_the_one_entered_leaves_the_list() {
        let (list, dropped) = after_switch(vec![t("beta.b1")], Some(t("alpha.a1")), "beta.b2");
        assert_eq!((list, dropped), (vec![t("alpha.a1")], vec![t("beta.b1")]));
        // Signing in again where one already is: the old token of that workspace goes.
        let (list, dropped) = after_switch(vec![], Some(t("beta.b0")), "beta.b2");
        assert!(list.is_empty());
        assert_eq!(dropped, [t("beta.b0")]);
        // One token per workspace, the newest kept.
        let (list, dropped) = after_switch(vec![t("alpha.old")], Some(t("alpha.a1")), "gamma.g1");
        assert_eq!((list, dropped), (vec![t("alpha.a1")], vec![t("alpha.old")]));
        // The installation's own session never waits: it ends.
        let (list, dropped) = after_switch(vec![], Some(t("_.root")), "acme.a");
        assert!(list.is_empty());
        assert_eq!(dropped, [t("_.root")]);
    }

    #[test]
    fn the_list_is_bounded_longest_waiting_first_out() {
        let many: Vec<String> = (0..MAX_WAITING).map(|i| format!("w{i}.x")).collect();
        let (list, dropped) = after_switch(many, Some(t("last.x")), "new.x");
        assert_eq!(list.len(), MAX_WAITING);
        assert_eq!(list[0], "w1.x");
        assert_eq!(list.last().unwrap(), "last.x");
        assert_eq!(dropped, [t("w0.x")]);
    }
}
