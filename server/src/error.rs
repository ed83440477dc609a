//! The one place where failures become HTTP: RFC 9457 `application/problem+json`.

use axum::{
    http::{header, StatusCode},
    response::{IntoResponse, Response},
};

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("not ready: {0}")]
    NotReady(String),
    #[error("sign in first: no valid session or API key")]
    Unauthenticated,
    #[error("wrong workspace, e-mail or password")]
    InvalidCredentials,
    #[error("{0}")]
    Forbidden(String),
    /// The workspace signs in through its identity provider only.
    #[error("this workspace signs in through its identity provider: use Continue with SSO")]
    PasswordsOff,
    #[error("invalid request: {}", .0.iter().map(|e| format!("{} {}", e.pointer, e.detail)).collect::<Vec<_>>().join("; "))]
    Validation(Vec<FieldError>),
    #[error("too many attempts; retry in {} s", .0.as_secs().max(1))]
    TooManyRequests(std::time::Duration),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("request body too large")]
    PayloadTooLarge,
    /// A body that cannot be read at all (not JSON, truncated protobuf, bad gzip).
    #[error("{0}")]
    Malformed(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The write buffer is full: come back shortly instead of us growing memory.
    #[error("busy; retry in {} s", .0.as_secs().max(1))]
    Busy(std::time::Duration),
    #[error(transparent)]
    Store(#[from] store::Error),
}

pub use types::{FieldError, Problem};

/// RFC 6901 pointer of a serde path: `~` and `/` inside a key are escaped as `~0` and `~1`.
pub fn json_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(format!("/{index}")),
            Segment::Map { key } => Some(format!("/{}", key.replace('~', "~0").replace('/', "~1"))),
            Segment::Enum { variant } => Some(format!("/{variant}")),
            Segment::Unknown => None,
        })
        .collect()
}

impl ApiError {
    pub fn field(pointer: &str, detail: impl Into<String>) -> ApiError {
        ApiError::Validation(vec![FieldError {
            pointer: pointer.into(),
            detail: detail.into(),
        }])
    }
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::NotReady(_) => (StatusCode::SERVICE_UNAVAILABLE, "not-ready", "Not ready"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            ApiError::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
            ),
            ApiError::InvalidCredentials => (
                StatusCode::UNAUTHORIZED,
                "invalid-credentials",
                "Invalid credentials",
            ),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            ApiError::PasswordsOff => (
                StatusCode::FORBIDDEN,
                "passwords-off",
                "Single sign-on only",
            ),
            ApiError::Validation(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "Invalid request",
            ),
            ApiError::TooManyRequests(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
            ),
            ApiError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Request body too large",
            ),
            ApiError::Malformed(_) => (StatusCode::BAD_REQUEST, "malformed", "Malformed body"),
            ApiError::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            ApiError::Busy(_) | ApiError::Store(store::Error::Busy(_)) => {
                (StatusCode::SERVICE_UNAVAILABLE, "busy", "Busy")
            }
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
            ApiError::Store(store::Error::Forbidden(_)) => {
                (StatusCode::FORBIDDEN, "forbidden", "Forbidden")
            }
            ApiError::Store(store::Error::Stale { .. }) => (
                StatusCode::CONFLICT,
                "stale-version",
                "Changed since you loaded it",
            ),
            ApiError::Store(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal server error",
            ),
        }
    }
}

impl ApiError {
    /// The same refusal for a server function: its status, the form field at fault (the
    /// pointer's first segment) and the words, never internals.
    pub fn for_page(self) -> app::AppError {
        let (status, _, _) = self.parts();
        if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
            tracing::error!(error = %self, "server function failed");
            return app::AppError::new(
                status,
                "something went wrong on our side; it has been logged",
            );
        }
        let field = match &self {
            ApiError::Validation(errors) => errors
                .first()
                .map(|e| (e.pointer.clone(), e.detail.clone())),
            ApiError::Store(store::Error::Invalid { field, reason }) => {
                Some((format!("/{field}"), reason.to_string()))
            }
            _ => None,
        };
        match field {
            Some((pointer, detail)) => {
                let name = pointer
                    .trim_start_matches('/')
                    .split('/')
                    .next()
                    .unwrap_or_default()
                    .to_string();
                app::AppError::invalid(&name, format!("{}: {detail}", name.replace('_', " ")))
            }
            None => app::AppError::new(status, self.to_string()),
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
        let retry_after = self.retry_after();
        let errors = match self {
            ApiError::Validation(errors) => errors,
            ApiError::Store(store::Error::Invalid { field, reason }) => vec![FieldError {
                pointer: format!("/{field}"),
                detail: reason.into_owned(),
            }],
            _ => Vec::new(),
        };
        let mut response = problem_with(status, kind, title, detail, errors);
        if let Some(secs) = retry_after {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                secs.to_string().parse().expect("number"),
            );
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, "Bearer".parse().expect("ascii"));
        }
        response
    }
}

impl ApiError {
    /// Seconds a refused caller should wait before trying again, when waiting helps.
    fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::TooManyRequests(wait) | ApiError::Busy(wait) => Some(wait.as_secs().max(1)),
            // Overload passes quickly or needs an operator; either way, not a hot retry loop.
            ApiError::Store(store::Error::Busy(_) | store::Error::Unavailable(_)) => Some(1),
            _ => None,
        }
    }

    /// The same error for a gRPC caller (OTLP/gRPC): its status, derived from the HTTP one so
    /// both stay in step. Throttling and a full write buffer are `UNAVAILABLE`, which OTLP
    /// exporters retry with back-off; bad input is `INVALID_ARGUMENT`, which they drop.
    pub fn grpc_status(&self) -> tonic::Status {
        use tonic::Code;
        if let ApiError::Malformed(why) = self {
            // gRPC's status guide: a message that cannot be parsed is INTERNAL (tonic says
            // the same of those it parses itself).
            return tonic::Status::new(Code::Internal, why.clone());
        }
        let (status, _, _) = self.parts();
        let code = match status {
            StatusCode::UNAUTHORIZED => Code::Unauthenticated,
            StatusCode::FORBIDDEN => Code::PermissionDenied,
            StatusCode::NOT_FOUND => Code::NotFound,
            StatusCode::CONFLICT => Code::Aborted,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => Code::Unavailable,
            StatusCode::PAYLOAD_TOO_LARGE => Code::ResourceExhausted,
            s if s.is_client_error() => Code::InvalidArgument,
            _ => Code::Internal,
        };
        let message = if code == Code::Internal {
            tracing::error!(error = %self, "request failed");
            "an internal error occurred; it has been logged".to_string()
        } else {
            self.to_string()
        };
        tonic::Status::new(code, message)
    }

    /// As a gRPC status when `grpc` (see [`is_grpc`]), else as problem+json.
    pub fn in_protocol(self, grpc: bool) -> Response {
        if grpc {
            self.into_grpc_response()
        } else {
            self.into_response()
        }
    }

    /// A gRPC answer carrying only the status (HTTP 200, status in the headers), with the
    /// wait a refused caller should keep (see [`grpc_with_retry`]).
    pub fn into_grpc_response(self) -> Response {
        let wait = self.retry_after();
        grpc_with_retry(self.grpc_status(), wait)
    }
}

/// A gRPC status as a response, saying how long to wait when that is known: a
/// `google.rpc.RetryInfo` in the status details, which OTLP exporters honour before retrying;
/// `grpc-retry-pushback-ms`, which gRPC's own retry policies read (gRFC A6); and `Retry-After`,
/// as HTTP callers get it.
pub fn grpc_with_retry(status: tonic::Status, wait_secs: Option<u64>) -> Response {
    use tonic_types::{ErrorDetails, StatusExt};
    let Some(secs) = wait_secs else {
        return status.into_http::<axum::body::Body>();
    };
    let wait = std::time::Duration::from_secs(secs);
    let status = tonic::Status::with_error_details(
        status.code(),
        status.message(),
        ErrorDetails::with_retry_info(Some(wait)),
    );
    let mut response = status.into_http::<axum::body::Body>();
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, secs.into());
    headers.insert("grpc-retry-pushback-ms", secs.saturating_mul(1000).into());
    response
}

/// Whether a request speaks gRPC (`application/grpc`, `application/grpc+proto`, ...), and so
/// reads its refusals as gRPC statuses. gRPC-Web (`application/grpc-web`) is not served here:
/// its callers get HTTP answers like any other.
pub fn is_grpc(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.as_bytes().strip_prefix(b"application/grpc"))
        .is_some_and(|rest| rest.is_empty() || rest[0] == b'+' || rest[0] == b';')
}

pub fn problem(status: StatusCode, kind: &str, title: &'static str, detail: String) -> Response {
    problem_with(status, kind, title, detail, Vec::new())
}

fn problem_with(
    status: StatusCode,
    kind: &str,
    title: &'static str,
    detail: String,
    errors: Vec<FieldError>,
) -> Response {
    let body = Problem {
        type_: format!("https://devpulse.dev/problems/{kind}"),
        title: title.into(),
        status: status.as_u16(),
        detail,
        errors,
    };
    (
        status,
        [(header::CONTENT_TYPE, PROBLEM_JSON)],
        serde_json::to_string(&body).expect("problem serialises"),
    )
        .into_response()
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::Store(e.into())
    }
}

/// A value the shared vocabulary refused (a role, a scope): the same answer as the store's.
impl From<types::Invalid> for ApiError {
    fn from(e: types::Invalid) -> Self {
        ApiError::Store(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_and_retry(e: ApiError) -> (u16, Option<String>) {
        let r = e.into_response();
        let retry = r
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_string());
        (r.status().as_u16(), retry)
    }

    #[test]
    fn overload_is_a_503_that_says_when_to_retry_never_a_500() {
        // What a pool with no free connection within its timeout reports.
        assert_eq!(
            status_and_retry(sqlx::Error::PoolTimedOut.into()),
            (503, Some("1".into()))
        );
        assert_eq!(
            status_and_retry(ApiError::Store(store::Error::Busy("password checks"))),
            (503, Some("1".into()))
        );
        assert_eq!(
            status_and_retry(sqlx::Error::Protocol("x".into()).into()),
            (500, None)
        );
    }

    #[test]
    fn a_grpc_refusal_keeps_the_wait_it_asks_for() {
        let r = ApiError::TooManyRequests(std::time::Duration::from_secs(3)).into_grpc_response();
        let h = r.headers();
        assert_eq!(r.status(), 200);
        assert_eq!(
            h["grpc-status"],
            (tonic::Code::Unavailable as i32).to_string().as_str()
        );
        assert_eq!(h[header::RETRY_AFTER], "3");
        assert_eq!(h["grpc-retry-pushback-ms"], "3000");
        let status = tonic::Status::from_header_map(h).expect("a gRPC status");
        use tonic_types::StatusExt;
        let retry = status
            .get_details_retry_info()
            .expect("RetryInfo in the details");
        assert_eq!(retry.retry_delay, Some(std::time::Duration::from_secs(3)));
        assert_eq!(status.code(), tonic::Code::Unavailable);
        let r = ApiError::Unauthenticated.into_grpc_response();
        assert!(r.headers().get("grpc-retry-pushback-ms").is_none());
    }

    #[test]
    fn grpc_web_is_not_answered_as_grpc() {
        let with = |t: &'static str| {
            let mut h = axum::http::HeaderMap::new();
            h.insert(header::CONTENT_TYPE, t.parse().unwrap());
            is_grpc(&h)
        };
        assert!(with("application/grpc"));
        assert!(with("application/grpc+proto"));
        assert!(with("application/grpc;charset=utf-8"));
        assert!(!with("application/grpc-web"));
        assert!(!with("application/grpc-web+proto"));
        assert!(!with("application/grpc-web-text"));
        assert!(!with("application/json"));
    }
}
