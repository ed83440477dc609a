//! The dashboard's server functions: one per query shape (not per widget), each taking the
//! page's filters as the query string its URL carries. Every one reads through
//! `store::dashboard`, scoped by the caller's role exactly as the REST twins listed in
//! `crate::access` are.

use leptos::prelude::*;
use types::dashboard::{
    Activity, Breakdown, Choices, Dimension, Heatmap, Insights, Measure, Overview, Series,
    SessionDetail, SessionPage, SessionSort, Split,
};

use crate::AppError;

#[cfg(feature = "ssr")]
pub mod ssr {
    use types::dashboard::{Filters, Window};

    use crate::AppError;

    /// The filters in `q`; a bad one is the caller's error, naming its field (the page only
    /// sends filters it has already read back).
    pub fn filters(q: &str) -> Result<Filters, AppError> {
        let pairs = parse_query(q);
        let (f, errors) = Filters::from_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        match errors.into_iter().next() {
            Some(e) => Err(AppError::invalid(
                e.pointer.trim_start_matches('/'),
                format!("{}: {}", e.pointer.trim_start_matches('/'), e.detail),
            )),
            None => Ok(f),
        }
    }

    /// `a=1&b=x%20y` as decoded pairs (the same decoder the REST twins use).
    pub fn parse_query(q: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(q.trim_start_matches('?').as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// What one request's dashboard reads share: one connection and transaction for the
    /// whole page (a page render reads a dozen widgets; a connection each would take a dozen
    /// from the pool per visitor), and the reader and windows already worked out. The
    /// server provides a fresh one for every request.
    #[derive(Clone, Default)]
    pub struct PageReads(std::sync::Arc<tokio::sync::Mutex<Option<Shared>>>);

    pub struct Shared {
        user: store::UserId,
        tx: store::TenantTx,
        reader: store::dashboard::Reader,
        windows: std::collections::HashMap<Filters, Window>,
    }

    /// One server function's read: the connection (the page's, or its own outside a page
    /// render), the caller's reader and the filters' window.
    pub struct Read {
        shared: Option<tokio::sync::OwnedMutexGuard<Option<Shared>>>,
        own: Option<store::TenantTx>,
        reader: store::dashboard::Reader,
        window: Window,
        scope: store::TenantScope,
        answers: store::dashboard::Answers,
    }

    impl Read {
        /// The connection, and the asker through which reads use the kept answers.
        pub fn parts(&mut self) -> (&mut sqlx_conn::PgConnection, store::dashboard::Asker<'_>) {
            let tx: &mut store::TenantTx = match (&mut self.shared, &mut self.own) {
                (Some(guard), _) => &mut guard.as_mut().expect("opened").tx,
                (None, Some(tx)) => tx,
                (None, None) => unreachable!("a read has a connection"),
            };
            let ask = store::dashboard::Asker {
                answers: &self.answers,
                scope: &self.scope,
                reader: &self.reader,
                window: &self.window,
                as_of: tx.as_of(),
            };
            let conn: &mut sqlx_conn::PgConnection = tx;
            (conn, ask)
        }

        /// Ends the read: its own transaction commits; the page's stays open for the next.
        pub async fn done(self) -> Result<(), AppError> {
            if let Some(tx) = self.own {
                tx.commit().await?;
            }
            Ok(())
        }
    }

    /// A page's dashboard reads share one transaction, opened in a render task that the
    /// server's `x-devpulse-read` middleware does not reach: the page sets the header itself
    /// (its response is sent once the whole page has rendered).
    fn say_where_served(served: store::replica::Served) {
        let value = http::HeaderValue::from_str(&served.header_value());
        if let (Some(res), Ok(value)) = (
            leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
            value,
        ) {
            res.insert_header(http::HeaderName::from_static("x-devpulse-read"), value);
        }
    }

    /// Names the connection type without a direct sqlx dependency.
    mod sqlx_conn {
        pub type PgConnection = <store::TenantTx as std::ops::Deref>::Target;
    }

    /// A read for server function `F`'s caller, with `f`'s window.
    pub async fn begin<F: leptos::server_fn::ServerFn>(f: &Filters) -> Result<Read, AppError> {
        // Dropped unused (rolled back, nothing written) if the rule below refuses.
        let checked_in = crate::session::ssr::sign_in_for_reads().await;
        let s = crate::session::ssr::require_fn::<F>().await?;
        let scope = s.scope.clone().ok_or_else(|| {
            AppError::new(
                http::StatusCode::FORBIDDEN,
                "super admins read a workspace's dashboard through support access",
            )
        })?;
        let cx = crate::ssr::server_context()?;
        let no_dashboard = || {
            AppError::new(
                http::StatusCode::FORBIDDEN,
                format!("your role ({}) has no dashboard", s.viewer.role),
            )
        };
        if let Some(page) = leptos::prelude::use_context::<PageReads>() {
            // Never hold the sign-in's connection while waiting: the read holding the page's
            // lock may be waiting for a connection itself.
            let mut checked_in = checked_in;
            let mut guard = match page.0.clone().try_lock_owned() {
                Ok(guard) => guard,
                Err(_) => {
                    drop(checked_in.take());
                    page.0.clone().lock_owned().await
                }
            };
            if guard.as_ref().is_some_and(|sh| sh.user != s.user_id) {
                *guard = None;
            }
            if guard.is_some() {
                drop(checked_in.take());
            } else {
                let mut tx = match checked_in {
                    Some(tx) => cx.store.read_tx_after(tx, &scope).await?,
                    None => cx.store.read_tx(&scope).await?,
                };
                if let Some(served) = tx.served() {
                    say_where_served(served);
                }
                let reader = store::dashboard::Reader::of(&mut tx, s.user_id, s.viewer.role)
                    .await?
                    .ok_or_else(no_dashboard)?;
                *guard = Some(Shared {
                    user: s.user_id,
                    tx,
                    reader,
                    windows: Default::default(),
                });
            }
            let shared = guard.as_mut().expect("opened");
            let window = match shared.windows.get(f) {
                Some(w) => w.clone(),
                None => {
                    let w = cx
                        .store
                        .answers()
                        .window(&mut shared.tx, f, chrono::Utc::now())
                        .await?;
                    shared.windows.insert(f.clone(), w.clone());
                    w
                }
            };
            let reader = shared.reader.clone();
            return Ok(Read {
                shared: Some(guard),
                own: None,
                reader,
                window,
                scope,
                answers: cx.store.answers().clone(),
            });
        }
        let mut tx = match checked_in {
            Some(tx) => cx.store.read_tx_after(tx, &scope).await?,
            None => cx.store.read_tx(&scope).await?,
        };
        let reader = store::dashboard::Reader::of(&mut tx, s.user_id, s.viewer.role)
            .await?
            .ok_or_else(no_dashboard)?;
        let window = cx
            .store
            .answers()
            .window(&mut tx, f, chrono::Utc::now())
            .await?;
        Ok(Read {
            shared: None,
            own: Some(tx),
            reader,
            window,
            scope,
            answers: cx.store.answers().clone(),
        })
    }
}

#[server(endpoint = "dashboard/overview")]
pub async fn get_overview(q: String) -> Result<Overview, AppError> {
    let f = ssr::filters(&q)?;
    let mut r = ssr::begin::<GetOverview>(&f).await?;
    let (conn, ask) = r.parts();
    let o = ask.overview(conn, &f).await?;
    r.done().await?;
    Ok(o)
}

#[server(endpoint = "dashboard/series")]
pub async fn get_series(q: String, split: Split, measure: Measure) -> Result<Series, AppError> {
    let f = ssr::filters(&q)?;
    let mut r = ssr::begin::<GetSeries>(&f).await?;
    let (conn, ask) = r.parts();
    let s = ask.series(conn, &f, split, measure).await?;
    r.done().await?;
    Ok(s)
}

#[server(endpoint = "dashboard/breakdown")]
pub async fn get_breakdown(q: String, by: Dimension) -> Result<Breakdown, AppError> {
    let f = ssr::filters(&q)?;
    let mut r = ssr::begin::<GetBreakdown>(&f).await?;
    let (conn, ask) = r.parts();
    let b = ask.breakdown(conn, &f, by).await?;
    r.done().await?;
    Ok(b)
}

#[server(endpoint = "dashboard/heatmap")]
pub async fn get_heatmap(q: String) -> Result<Heatmap, AppError> {
    let f = ssr::filters(&q)?;
    let mut r = ssr::begin::<GetHeatmap>(&f).await?;
    let (conn, ask) = r.parts();
    let h = ask.heatmap(conn, &f).await?;
    r.done().await?;
    Ok(h)
}

#[server(endpoint = "dashboard/sessions")]
pub async fn get_sessions(
    q: String,
    sort: SessionSort,
    page: i64,
) -> Result<SessionPage, AppError> {
    let f = ssr::filters(&q)?;
    let mut r = ssr::begin::<GetSessions>(&f).await?;
    let (conn, ask) = r.parts();
    let p = ask.sessions(conn, &f, sort, page).await?;
    r.done().await?;
    Ok(p)
}

#[server(endpoint = "dashboard/session")]
pub async fn get_session(id: String) -> Result<SessionDetail, AppError> {
    let mut r = ssr::begin::<GetSession>(&Default::default()).await?;
    let (conn, ask) = r.parts();
    let d = store::dashboard::session_detail(conn, ask.reader, &id).await?;
    r.done().await?;
    Ok(d)
}

#[server(endpoint = "dashboard/activity")]
pub async fn get_activity() -> Result<Activity, AppError> {
    let mut r = ssr::begin::<GetActivity>(&Default::default()).await?;
    let (conn, ask) = r.parts();
    let a = store::dashboard::activity(conn, ask.reader, chrono::Utc::now()).await?;
    r.done().await?;
    Ok(a)
}

#[server(endpoint = "dashboard/insights")]
pub async fn get_insights(q: String) -> Result<Insights, AppError> {
    let f = ssr::filters(&q)?;
    let mut r = ssr::begin::<GetInsights>(&f).await?;
    let (conn, ask) = r.parts();
    let i = ask.insights(conn, &f).await?;
    r.done().await?;
    Ok(i)
}

#[server(endpoint = "dashboard/choices")]
pub async fn get_choices(q: String) -> Result<Choices, AppError> {
    let f = ssr::filters(&q)?;
    let mut r = ssr::begin::<GetChoices>(&f).await?;
    let (conn, ask) = r.parts();
    let c = ask.choices(conn).await?;
    r.done().await?;
    Ok(c)
}
