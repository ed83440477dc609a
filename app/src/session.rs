//! Who is looking at the page. The server authenticates (cookie or Bearer) through the
//! `Authenticator` it provides, so the app never sees keys or tokens and every permission
//! decision comes from the server's one matrix.

use leptos::prelude::*;
pub use types::Viewer;

use crate::AppError;

#[cfg(feature = "ssr")]
pub mod ssr {
    use std::{future::Future, pin::Pin, sync::Arc};

    use leptos::prelude::*;
    use types::{Access, Permission};

    use super::Viewer;
    use crate::AppError;

    /// The signed-in person plus what server functions need to act for them.
    #[derive(Clone, Debug)]
    pub struct Session {
        pub viewer: Viewer,
        pub user_id: store::UserId,
        /// The tenant to enter with a `TenantTx`; `None` for super admins.
        pub scope: Option<store::TenantScope>,
        pub actor: store::audit::Actor,
    }

    pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

    pub trait Authenticator: Send + Sync + std::fmt::Debug {
        /// `None` when the request carries no valid session (API keys do not count).
        /// The request's parts: its headers, and the extensions where the server keeps what
        /// it resolved about the connection (the client's address).
        fn session<'a>(
            &'a self,
            request: &'a http::request::Parts,
        ) -> BoxFuture<'a, Option<Session>>;

        /// [`Authenticator::session`] for a request that reads the dashboard next: with a
        /// workspace member's session, the read transaction it was checked in, left open
        /// for those reads (see `store::Store::read_tx_after`).
        fn session_for_reads<'a>(
            &'a self,
            request: &'a http::request::Parts,
        ) -> BoxFuture<'a, Option<(Session, Option<store::TenantTx>)>>;
    }

    pub type SharedAuthenticator = Arc<dyn Authenticator>;

    /// The request's session, worked out once: a page render calls a dozen server
    /// functions, and each would otherwise authenticate the same cookie again. The server
    /// provides a fresh one for every request.
    #[derive(Clone, Default)]
    pub struct RequestSession(Arc<tokio::sync::OnceCell<Option<Session>>>);

    /// The session of the request being served, if any.
    pub async fn current() -> Option<Session> {
        let cx = crate::ssr::server_context().ok()?;
        let parts = use_context::<http::request::Parts>()?;
        match use_context::<RequestSession>() {
            Some(cached) => cached
                .0
                .get_or_init(|| cx.auth.session(&parts))
                .await
                .clone(),
            None => cx.auth.session(&parts).await,
        }
    }

    /// Works out the request's session, as [`current`] would, for a server function that
    /// reads the dashboard next; answers the transaction the check ran in when this call
    /// was the one that checked (a server function's own request). A page render has
    /// usually asked already (its top bar), and its reads share one transaction of their
    /// own; a read that arrives while another caller is checking waits for that check.
    pub async fn sign_in_for_reads() -> Option<store::TenantTx> {
        let cx = crate::ssr::server_context().ok()?;
        let parts = use_context::<http::request::Parts>()?;
        let cached = use_context::<RequestSession>()?;
        // Filled only by the initializer below, i.e. only when this call checked.
        let checked = std::sync::Mutex::new(None);
        cached
            .0
            .get_or_init(|| async {
                let (session, open) = cx.auth.session_for_reads(&parts).await?;
                *checked.lock().expect("not poisoned") = open;
                Some(session)
            })
            .await;
        checked.into_inner().expect("not poisoned")
    }

    /// The session of a caller the rule `crate::access` declares for server function `F`
    /// lets through, or the error the page shows. Every server function that needs a session
    /// starts here, so none can check less than its row (and its REST twin) says.
    pub async fn require_fn<F: leptos::server_fn::ServerFn>() -> Result<Session, AppError> {
        let endpoint = F::PATH.trim_start_matches("/api/");
        let session = require_rule(endpoint).await?;
        // A support access only reads: the functions whose REST twins are all GETs.
        if session.viewer.support.is_some() && !crate::access::only_reads(endpoint) {
            return Err(AppError::new(
                http::StatusCode::FORBIDDEN,
                "support access is read-only",
            ));
        }
        Ok(session)
    }

    async fn require_rule(endpoint: &str) -> Result<Session, AppError> {
        match crate::access::rule_for(endpoint) {
            Some(Access::Authenticated) => require(None).await,
            Some(Access::Permission(p)) => require(Some(p)).await,
            Some(Access::Read(any)) => {
                let session = require(None).await?;
                if any.iter().any(|p| session.viewer.can(*p)) {
                    Ok(session)
                } else {
                    Err(AppError::new(
                        http::StatusCode::FORBIDDEN,
                        format!("your role ({}) cannot read this", session.viewer.role),
                    ))
                }
            }
            // Public functions have no session to ask for, and API-key rules do not fit a
            // page's caller: either means the function or its row is wrong.
            rule => Err(AppError::new(
                http::StatusCode::INTERNAL_SERVER_ERROR,
                format!("server function {endpoint} has no session rule in app::access ({rule:?})"),
            )),
        }
    }

    /// The session, or an error the page shows; with `permission`, also that the role holds it.
    async fn require(permission: Option<Permission>) -> Result<Session, AppError> {
        let session = current()
            .await
            .ok_or_else(|| AppError::new(http::StatusCode::UNAUTHORIZED, "sign in first"))?;
        if let Some(p) = permission {
            if !session.viewer.can(p) {
                return Err(AppError::new(
                    http::StatusCode::FORBIDDEN,
                    format!(
                        "your role ({}) lacks the {p} permission",
                        session.viewer.role
                    ),
                ));
            }
        }
        Ok(session)
    }
}

/// The signed-in person, for the top bar and the pages; `None` when signed out.
#[server(endpoint = "whoami")]
pub async fn whoami() -> Result<Option<Viewer>, AppError> {
    Ok(ssr::current().await.map(|s| s.viewer))
}
