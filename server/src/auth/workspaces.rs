//! Staying signed in to several workspaces in one browser. The session cookies hold one
//! workspace's session; the sessions of the others wait in one more cookie, each as its
//! refresh token, unused until the person switches back (`api::account::workspaces`).
//!
//! A token is in exactly one cookie at a time: the current session's refresh cookie or this
//! list. Were it in both, refreshing the current one would leave a rotated copy here, and
//! bringing that copy back later would look like a stolen token being reused (which revokes
//! the whole session).

use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue},
    middleware::Next,
    response::Response,
};

use super::{cookies, SessionCookies};
use crate::state::AppState;

/// The most sessions kept waiting; past it the longest-waiting goes (it stays valid on the
/// server until it expires, but this browser forgets it).
pub const MAX_WAITING: usize = 20;
/// Between tokens: not in a refresh token (`slug.secret`, URL-safe base64) and allowed in a
/// cookie value.
const SEP: char = '~';
/// As long as the longest sign-in a workspace may allow; each token still expires by its own
/// workspace's policy.
const MAX_AGE_SECS: i64 = 90 * 24 * 3600;

/// The workspace a refresh token belongs to (its scope: a slug, or the registry's).
pub fn scope_of(token: &str) -> &str {
    token.split_once('.').map_or("", |(scope, _)| scope)
}

/// The waiting tokens this request carries. Two cookies of the name mean one was planted
/// (see [`SessionCookies`]): then neither is trusted.
pub fn waiting(cookies_of: SessionCookies, headers: &HeaderMap) -> Vec<String> {
    let mut found = cookies(headers, cookies_of.other_workspaces());
    let (Some(first), None) = (found.next(), found.next()) else {
        return Vec::new();
    };
    first
        .split(SEP)
        .filter(|t| !scope_of(t).is_empty())
        .map(String::from)
        .collect()
}

/// The cookie holding `tokens` (deleting it when there are none).
pub fn cookie(cookies_of: SessionCookies, tokens: &[String]) -> HeaderValue {
    let value = tokens.join(&SEP.to_string());
    let max_age = if tokens.is_empty() { 0 } else { MAX_AGE_SECS };
    cookies_of.set(
        cookies_of.other_workspaces(),
        &value,
        SessionCookies::REFRESH_PATH,
        max_age,
    )
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

/// What waits after a session in `new` starts where `old` was current: `old` joins the list
/// (when it is another workspace's), and nothing of `new`'s workspace stays in it.
pub fn after_switch(mut waiting: Vec<String>, old: Option<String>, new: &str) -> Vec<String> {
    let new_scope = scope_of(new);
    waiting.retain(|t| scope_of(t) != new_scope);
    if let Some(old) = old.filter(|o| scope_of(o) != new_scope) {
        waiting.retain(|t| scope_of(t) != scope_of(&old));
        waiting.push(old);
    }
    let over = waiting.len().saturating_sub(MAX_WAITING);
    waiting.drain(..over);
    waiting
}

/// Around every request: when a response starts a session in another workspace than the
/// one the request's refresh cookie was for, that session waits instead of being dropped.
/// This covers every way in (password, second factor, invitation, single sign-on, switch).
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
    let waiting_now = waiting(cookies_of, request.headers());
    let mut response = next.run(request).await;
    let Some(new) = started(cookies_of, response.headers()) else {
        return response;
    };
    let changes_workspace = old
        .as_deref()
        .is_some_and(|o| scope_of(o) != scope_of(&new));
    let was_waiting = waiting_now.iter().any(|t| scope_of(t) == scope_of(&new));
    if changes_workspace || was_waiting {
        let list = after_switch(waiting_now, old, &new);
        response
            .headers_mut()
            .append(header::SET_COOKIE, cookie(cookies_of, &list));
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
        let list = after_switch(vec![t("beta.b1")], Some(t("alpha.a1")), "beta.b2");
        assert_eq!(list, [t("alpha.a1")]);
        // Signing in again where one already is: the old token of that workspace is dropped,
        // not kept beside the new one.
        let list = after_switch(vec![t("beta.b1")], Some(t("beta.b0")), "beta.b2");
        assert!(list.is_empty(), "{list:?}");
        // One token per workspace.
        let list = after_switch(vec![t("alpha.old")], Some(t("alpha.a1")), "gamma.g1");
        assert_eq!(list, [t("alpha.a1")]);
    }

    #[test]
    fn the_list_is_bounded_longest_waiting_first_out() {
        let many: Vec<String> = (0..MAX_WAITING).map(|i| format!("w{i}.x")).collect();
        let list = after_switch(many, Some(t("last.x")), "new.x");
        assert_eq!(list.len(), MAX_WAITING);
        assert_eq!(list[0], "w1.x");
        assert_eq!(list.last().unwrap(), "last.x");
    }

    #[test]
    fn a_planted_second_cookie_voids_the_list() {
        let c = SessionCookies { secure: false };
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("devpulse_workspaces=a.1~b.2"),
        );
        assert_eq!(waiting(c, &h), [t("a.1"), t("b.2")]);
        h.append(
            header::COOKIE,
            HeaderValue::from_static("devpulse_workspaces=evil.3"),
        );
        assert!(waiting(c, &h).is_empty());
    }
}
