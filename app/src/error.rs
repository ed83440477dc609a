//! The error every server function returns. It carries the HTTP status the refusal deserves and,
//! for a bad input, the form field at fault, so a page can show the message beside that field.
//! `store::Error` becomes one in exactly one place (`From`, server side), as REST's `ApiError`
//! does for the JSON API.

use leptos::{
    prelude::{FromServerFnError, ServerFnErrorErr},
    server_fn::codec::JsonEncoding,
};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub status: u16,
    /// What the person should read: never internals.
    pub message: String,
    /// The input at fault (its form field name, e.g. `email`), when one is.
    pub field: Option<String>,
}

impl AppError {
    /// The message, when `field` is the input at fault, as it reads beside that input: without
    /// the field's (programmer's) name in front, from a capital.
    pub fn for_field(&self, field: &str) -> Option<String> {
        if self.field.as_deref() != Some(field) {
            return None;
        }
        let m = self.message.as_str();
        let rest = m
            .strip_prefix(field)
            .and_then(|r| r.strip_prefix(": ").or_else(|| r.strip_prefix(' ')))
            .unwrap_or(m);
        let mut chars = rest.chars();
        Some(match chars.next() {
            Some(c) => c.to_uppercase().chain(chars).collect(),
            None => m.to_string(),
        })
    }

    /// The message, when no single input is at fault (shown above a form).
    pub fn general(&self) -> Option<&str> {
        self.field.is_none().then_some(self.message.as_str())
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    /// Failures of the call itself (network, encoding), never of what it asked for.
    fn from_server_fn_error(e: ServerFnErrorErr) -> Self {
        let status = match &e {
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => 503,
            ServerFnErrorErr::Args(_)
            | ServerFnErrorErr::MissingArg(_)
            | ServerFnErrorErr::Deserialization(_) => 400,
            _ => 500,
        };
        let message = match &e {
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => {
                "devpulse cannot be reached right now; try again shortly".to_string()
            }
            ServerFnErrorErr::Args(m)
            | ServerFnErrorErr::MissingArg(m)
            | ServerFnErrorErr::Deserialization(m) => format!("bad request: {m}"),
            _ => "something went wrong on our side; it has been logged".to_string(),
        };
        AppError {
            status,
            message,
            field: None,
        }
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use http::StatusCode;

    use super::AppError;

    impl AppError {
        /// A refusal with its status, which also becomes the response's status (a server
        /// function's `Err` is otherwise a 500).
        pub fn new(status: StatusCode, message: impl std::fmt::Display) -> AppError {
            if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
                // A page that sent its reader elsewhere stays a redirect whatever its other
                // reads found (the browser follows a Location only with a 3xx).
                let redirected = response
                    .0
                    .read()
                    .is_ok_and(|p| p.status.is_some_and(|s| s.is_redirection()));
                if !redirected {
                    response.set_status(status);
                }
            }
            AppError {
                status: status.as_u16(),
                message: message.to_string(),
                field: None,
            }
        }

        /// A bad value in the form field `field`.
        pub fn invalid(field: &str, message: impl std::fmt::Display) -> AppError {
            AppError {
                field: Some(field.to_string()),
                ..AppError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
            }
        }

        pub fn not_found(what: &str) -> AppError {
            AppError::new(StatusCode::NOT_FOUND, format!("no such {what}"))
        }
    }

    impl From<store::Error> for AppError {
        fn from(e: store::Error) -> AppError {
            match &e {
                store::Error::Invalid { field, reason } => {
                    AppError::invalid(field, format!("{field}: {reason}"))
                }
                store::Error::NotFound(what) => AppError::not_found(what),
                store::Error::Conflict(_) | store::Error::Stale { .. } => {
                    AppError::new(StatusCode::CONFLICT, e)
                }
                store::Error::Forbidden(_) => AppError::new(StatusCode::FORBIDDEN, e),
                store::Error::Busy(_) => AppError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the server is busy; try again in a moment",
                ),
                store::Error::Unavailable(_) => AppError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the database is not reachable right now; try again shortly",
                ),
                _ => {
                    // Internal details go to the log, never to the page.
                    tracing::error!(error = %e, "server function failed");
                    AppError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "something went wrong on our side; it has been logged",
                    )
                }
            }
        }
    }

    impl From<types::Invalid> for AppError {
        fn from(e: types::Invalid) -> AppError {
            AppError::invalid(e.field, e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_failures_are_not_blamed_on_the_input() {
        let e = AppError::from_server_fn_error(ServerFnErrorErr::Request("offline".into()));
        assert_eq!((e.status, e.field.as_deref()), (503, None));
        assert!(e.general().is_some());
        let e = AppError::from_server_fn_error(ServerFnErrorErr::MissingArg("email".into()));
        assert_eq!(e.status, 400);
    }

    #[test]
    fn field_errors_show_beside_their_field_only() {
        let e = AppError {
            status: 422,
            message: "email: is not an e-mail address".into(),
            field: Some("email".into()),
        };
        assert_eq!(
            e.for_field("email").as_deref(),
            Some("Is not an e-mail address")
        );
        let e = AppError {
            message: "hour_days must keep at least as long as minute rollups".into(),
            field: Some("hour_days".into()),
            ..e
        };
        assert_eq!(
            e.for_field("hour_days").as_deref(),
            Some("Must keep at least as long as minute rollups")
        );
        let e = AppError {
            message: "Wrong workspace, e-mail or password.".into(),
            field: Some("password".into()),
            ..e
        };
        assert_eq!(
            e.for_field("password").as_deref(),
            Some("Wrong workspace, e-mail or password.")
        );
        assert_eq!(e.for_field("role"), None);
        assert_eq!(e.general(), None);
    }
}
