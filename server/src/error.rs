//! The one place where failures become HTTP: RFC 9457 `application/problem+json`.

use axum::{
    http::{header, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Serialize;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("not ready: {0}")]
    NotReady(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("request body too large")]
    PayloadTooLarge,
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// The body of every error response.
#[derive(Debug, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::NotReady(_) => (StatusCode::SERVICE_UNAVAILABLE, "not-ready", "Not ready"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            ApiError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Request body too large",
            ),
            ApiError::Store(store::Error::Unavailable(_)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
            ApiError::Store(store::Error::NotFound(_)) => {
                (StatusCode::NOT_FOUND, "not-found", "Not found")
            }
            ApiError::Store(store::Error::Invalid { .. }) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "Invalid request",
            ),
            ApiError::Store(store::Error::Conflict(_)) => {
                (StatusCode::CONFLICT, "conflict", "Conflict")
            }
            ApiError::Store(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal server error",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind, title) = self.parts();
        // Internal details go to the log, never to the client.
        let detail = if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
            tracing::error!(error = %self, "request failed");
            "an internal error occurred; it has been logged".to_string()
        } else {
            self.to_string()
        };
        problem(status, kind, title, detail)
    }
}

pub fn problem(status: StatusCode, kind: &str, title: &'static str, detail: String) -> Response {
    let body = Problem {
        type_: format!("https://devpulse.dev/problems/{kind}"),
        title,
        status: status.as_u16(),
        detail,
    };
    (
        status,
        [(header::CONTENT_TYPE, PROBLEM_JSON)],
        serde_json::to_string(&body).expect("problem serialises"),
    )
        .into_response()
}
