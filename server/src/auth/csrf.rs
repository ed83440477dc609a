//! Cross-site request forgery: a state-changing request a browser sends on another page's
//! behalf is refused, whatever SameSite lets through (a sibling subdomain or another port on
//! localhost is "same-site" and gets Lax cookies).
//!
//! The browser says where a request comes from. `Sec-Fetch-Site` when it sends it (every
//! current browser): `same-origin`, or `none` (typed or bookmarked), passes; `same-site` and
//! `cross-site` do not. Otherwise `Origin`: it must be this server's, as the request's `Host`
//! names it or as `DEVPULSE_PUBLIC_URL` does (behind a proxy that rewrites `Host`).
//!
//! With neither header: a request a session cookie would authenticate is refused, because a
//! browser old enough to send neither cannot be told apart from a forged request (`Referer`
//! proves nothing: a page can suppress it). Anything else passes: API keys, Bearer tokens and
//! the sign-in API are used by programs (collectors, OTLP exporters, scripts), which send no
//! browser headers and which a forging page cannot make a browser imitate, since it cannot set
//! `Authorization` or `X-Api-Key` without a CORS preflight this server never answers.
//!
//! The sign-in forms carry no cookie but are covered all the same (any state-changing request
//! that a browser marks as cross-origin is refused): a forged sign-in would put the victim in
//! the attacker's account.

use axum::http::{header, HeaderMap, Method};

use super::SessionCookies;

/// `Err` says why the request is refused.
pub fn check(
    method: &Method,
    headers: &HeaderMap,
    cookies: SessionCookies,
    public_url: &str,
) -> Result<(), &'static str> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text(header::HeaderName::from_static("sec-fetch-site")) {
        return match site {
            "same-origin" | "none" => Ok(()),
            _ => Err("the browser says this request comes from another site"),
        };
    }
    match text(header::ORIGIN) {
        Some(origin) if is_ours(origin, text(header::HOST), public_url) => Ok(()),
        Some(_) => Err("the request's Origin is not this server"),
        None if cookies.authenticates(headers) => {
            Err("a request signed in by cookie must say where it comes from (Origin)")
        }
        None => Ok(()),
    }
}

fn is_ours(origin: &str, host: Option<&str>, public_url: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        // `null` (sandboxed frames, some redirects) and anything malformed.
        return false;
    };
    let same_host = matches!(scheme, "http" | "https")
        && host.is_some_and(|h| h.eq_ignore_ascii_case(authority));
    same_host || origin.eq_ignore_ascii_case(origin_of(public_url))
}

/// `scheme://authority` of a URL, without path.
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    const PUBLIC: &str = "https://devpulse.example.com/base";

    fn req(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn post(pairs: &[(&'static str, &'static str)]) -> Result<(), &'static str> {
        check(
            &Method::POST,
            &req(pairs),
            SessionCookies { secure: false },
            PUBLIC,
        )
    }

    #[test]
    fn browsers_are_judged_by_what_they_say() {
        let cookie = ("cookie", "devpulse_access=x");
        assert!(post(&[cookie, ("sec-fetch-site", "same-origin")]).is_ok());
        assert!(post(&[cookie, ("sec-fetch-site", "none")]).is_ok());
        assert!(post(&[cookie, ("sec-fetch-site", "same-site")]).is_err());
        assert!(post(&[cookie, ("sec-fetch-site", "cross-site")]).is_err());
        // Sec-Fetch-Site wins over an Origin that looks right.
        let forged = [
            cookie,
            ("sec-fetch-site", "cross-site"),
            ("host", "a:1"),
            ("origin", "http://a:1"),
        ];
        assert!(post(&forged).is_err());
        // Without it, Origin against Host or the public URL.
        assert!(post(&[
            cookie,
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000")
        ])
        .is_ok());
        assert!(post(&[
            cookie,
            ("host", "internal:3000"),
            ("origin", "https://devpulse.example.com")
        ])
        .is_ok());
        assert!(post(&[
            cookie,
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3001")
        ])
        .is_err());
        assert!(post(&[
            cookie,
            ("host", "a.example.com"),
            ("origin", "https://b.example.com")
        ])
        .is_err());
        assert!(post(&[cookie, ("host", "a:1"), ("origin", "null")]).is_err());
    }

    #[test]
    fn without_browser_headers_only_cookie_sessions_are_refused() {
        assert!(post(&[("cookie", "devpulse_access=x")]).is_err());
        assert!(post(&[("cookie", "devpulse_refresh=x")]).is_err());
        assert!(post(&[("x-api-key", "dpk_x")]).is_ok());
        assert!(post(&[("authorization", "Bearer x")]).is_ok());
        // A header credential is what authenticates, whatever cookies ride along.
        assert!(post(&[
            ("authorization", "Bearer x"),
            ("cookie", "devpulse_access=x")
        ])
        .is_ok());
        // Cookies that are not ours (a load balancer's) do not sign anyone in.
        assert!(post(&[("cookie", "AWSALB=x")]).is_ok());
        assert!(post(&[]).is_ok());
        // A cross-origin sign-in form carries no cookie and is refused all the same.
        assert!(post(&[("host", "a:1"), ("origin", "http://evil:1")]).is_err());
    }

    #[test]
    fn reads_pass() {
        let h = req(&[
            ("cookie", "devpulse_access=x"),
            ("sec-fetch-site", "cross-site"),
        ]);
        for m in [Method::GET, Method::HEAD, Method::OPTIONS] {
            assert!(check(&m, &h, SessionCookies { secure: false }, PUBLIC).is_ok());
        }
        for m in [Method::PUT, Method::DELETE, Method::PATCH] {
            assert!(check(&m, &h, SessionCookies { secure: false }, PUBLIC).is_err());
        }
    }
}
