//! The dashboard's server functions: one per query shape (not per widget), each taking the
//! page's filters as the query string its URL carries. Every one reads through
//! `store::dashboard`, scoped by the caller's role exactly as the REST twins listed in
//! `crate::access` are.

use leptos::prelude::*;
use types::dashboard::{
    Activity, Breakdown, Dimension, Heatmap, Insights, Measure, Overview, Series, SessionDetail,
    SessionPage, SessionSort, Split,
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

    /// `a=1&b=x%20y` as decoded pairs.
    pub fn parse_query(q: &str) -> Vec<(String, String)> {
        q.trim_start_matches('?')
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (decode(k), decode(v))
            })
            .collect()
    }

    fn decode(s: &str) -> String {
        let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let escaped = match bytes[i] {
                b'%' if i + 2 < bytes.len() => hex(bytes[i + 1]).zip(hex(bytes[i + 2])),
                _ => None,
            };
            match (bytes[i], escaped) {
                (_, Some((hi, lo))) => {
                    out.push(hi << 4 | lo);
                    i += 3;
                }
                (b'+', _) => {
                    out.push(b' ');
                    i += 1;
                }
                (b, _) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// A read's transaction, reader and window for server function `F`'s caller.
    pub async fn begin<F: leptos::server_fn::ServerFn>(
        f: &Filters,
    ) -> Result<(store::TenantTx, store::dashboard::Reader, Window), AppError> {
        let s = crate::session::ssr::require_fn::<F>().await?;
        let scope = s.scope.as_ref().ok_or_else(|| {
            AppError::new(
                http::StatusCode::FORBIDDEN,
                "super admins read a workspace's dashboard through support access",
            )
        })?;
        let cx = crate::ssr::server_context()?;
        let mut tx = cx.store.tenant_tx(scope).await?;
        let reader = store::dashboard::Reader::of(&mut tx, s.user_id, s.viewer.role)
            .await?
            .ok_or_else(|| {
                AppError::new(
                    http::StatusCode::FORBIDDEN,
                    format!("your role ({}) has no dashboard", s.viewer.role),
                )
            })?;
        let window = store::dashboard::window(&mut tx, f, chrono::Utc::now()).await?;
        Ok((tx, reader, window))
    }
}

#[server(endpoint = "dashboard/overview")]
pub async fn get_overview(q: String) -> Result<Overview, AppError> {
    let f = ssr::filters(&q)?;
    let (mut tx, reader, w) = ssr::begin::<GetOverview>(&f).await?;
    let o = store::dashboard::overview(&mut tx, &reader, &w, &f).await?;
    tx.commit().await?;
    Ok(o)
}

#[server(endpoint = "dashboard/series")]
pub async fn get_series(q: String, split: Split, measure: Measure) -> Result<Series, AppError> {
    let f = ssr::filters(&q)?;
    let (mut tx, reader, w) = ssr::begin::<GetSeries>(&f).await?;
    let s = store::dashboard::series(&mut tx, &reader, &w, &f, split, measure).await?;
    tx.commit().await?;
    Ok(s)
}

#[server(endpoint = "dashboard/breakdown")]
pub async fn get_breakdown(q: String, by: Dimension) -> Result<Breakdown, AppError> {
    let f = ssr::filters(&q)?;
    let (mut tx, reader, w) = ssr::begin::<GetBreakdown>(&f).await?;
    let b = store::dashboard::breakdown(&mut tx, &reader, &w, &f, by).await?;
    tx.commit().await?;
    Ok(b)
}

#[server(endpoint = "dashboard/heatmap")]
pub async fn get_heatmap(q: String) -> Result<Heatmap, AppError> {
    let f = ssr::filters(&q)?;
    let (mut tx, reader, w) = ssr::begin::<GetHeatmap>(&f).await?;
    let h = store::dashboard::heatmap(&mut tx, &reader, &w, &f).await?;
    tx.commit().await?;
    Ok(h)
}

#[server(endpoint = "dashboard/sessions")]
pub async fn get_sessions(
    q: String,
    sort: SessionSort,
    page: i64,
) -> Result<SessionPage, AppError> {
    let f = ssr::filters(&q)?;
    let (mut tx, reader, w) = ssr::begin::<GetSessions>(&f).await?;
    let p = store::dashboard::sessions_page(&mut tx, &reader, &w, &f, sort, page).await?;
    tx.commit().await?;
    Ok(p)
}

#[server(endpoint = "dashboard/session")]
pub async fn get_session(id: String) -> Result<SessionDetail, AppError> {
    let (mut tx, reader, _) = ssr::begin::<GetSession>(&Default::default()).await?;
    let d = store::dashboard::session_detail(&mut tx, &reader, &id).await?;
    tx.commit().await?;
    Ok(d)
}

#[server(endpoint = "dashboard/activity")]
pub async fn get_activity() -> Result<Activity, AppError> {
    let (mut tx, reader, _) = ssr::begin::<GetActivity>(&Default::default()).await?;
    let a = store::dashboard::activity(&mut tx, &reader, chrono::Utc::now()).await?;
    tx.commit().await?;
    Ok(a)
}

#[server(endpoint = "dashboard/insights")]
pub async fn get_insights(q: String) -> Result<Insights, AppError> {
    let f = ssr::filters(&q)?;
    let (mut tx, reader, w) = ssr::begin::<GetInsights>(&f).await?;
    let i = store::dashboard::insights(&mut tx, &reader, &w, &f).await?;
    tx.commit().await?;
    Ok(i)
}
