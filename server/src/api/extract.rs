//! The extractors every API handler reads its input with: errors become problem+json that
//! names the bad field, and the caller the gate let in.

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
    Extension,
};
use serde::de::DeserializeOwned;

use crate::{
    auth::Caller,
    error::{json_pointer, ApiError, FieldError},
};

/// A JSON body whose errors become problem+json naming the bad field by JSON pointer.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !is_json {
            return Err(ApiError::field(
                "",
                "send a JSON body with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| ApiError::PayloadTooLarge)?;
        // serde reads a struct from a JSON array by position too (`[null, null]` would fill
        // two optional fields); every body read through here is an object (or null), never an
        // array (the batch API, which takes arrays, reads its body itself).
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
            return Err(ApiError::field("", "send a JSON object, not an array"));
        }
        if let Some(pointer) = holds_nul(&bytes) {
            return Err(nul_at(pointer));
        }
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(de)
            .map(JsonBody)
            .map_err(|e| {
                ApiError::Validation(vec![FieldError {
                    pointer: json_pointer(e.path()),
                    detail: e.inner().to_string(),
                }])
            })
    }
}

/// A query string whose errors become problem+json naming the bad parameter (as `/name`),
/// instead of axum's plain-text 400.
pub struct ApiQuery<T>(pub T);

pub(super) const NUL: &str = "must not contain the NUL character (\\u0000)";

/// The JSON pointer of the first string or key in `body` holding a NUL character, which
/// PostgreSQL stores in neither text nor jsonb: refused here, naming the field, instead of
/// failing in the database as a 500. Only a body that spells `\u0000` is parsed twice.
fn holds_nul(body: &[u8]) -> Option<String> {
    fn find(v: &serde_json::Value, at: &str) -> Option<String> {
        let escape = |s: &str| s.replace('~', "~0").replace('/', "~1");
        match v {
            serde_json::Value::String(s) => s.contains('\0').then(|| at.to_string()),
            serde_json::Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, v)| find(v, &format!("{at}/{i}"))),
            serde_json::Value::Object(m) => m.iter().find_map(|(k, v)| {
                let here = format!("{at}/{}", escape(k));
                if k.contains('\0') {
                    Some(here)
                } else {
                    find(v, &here)
                }
            }),
            _ => None,
        }
    }
    if !body.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    find(&value, "")
}

fn nul_at(pointer: String) -> ApiError {
    ApiError::Validation(vec![FieldError {
        pointer,
        detail: NUL.into(),
    }])
}

/// A path segment or query parameter holding a NUL character (see [`holds_nul`]), refused
/// naming the parameter (`/name`) or, for the path, `/path`.
pub(super) fn uri_holds_nul(uri: &axum::http::Uri) -> Result<(), ApiError> {
    if uri.path().contains("%00") {
        return Err(nul_at("/path".into()));
    }
    let Some(query) = uri.query().filter(|q| q.contains("%00")) else {
        return Ok(());
    };
    match form_urlencoded::parse(query.as_bytes())
        .find(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        Some((key, _)) => Err(nul_at(format!(
            "/{}",
            key.replace('~', "~0").replace('/', "~1")
        ))),
        None => Ok(()),
    }
}

impl<T: DeserializeOwned> ApiQuery<T> {
    pub fn parse(query: &str) -> Result<Self, ApiError> {
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| {
                ApiError::Validation(vec![FieldError {
                    pointer: json_pointer(e.path()),
                    detail: e.inner().to_string(),
                }])
            })
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, ApiError> {
        Self::parse(parts.uri.query().unwrap_or(""))
    }
}

pub type Me = Extension<Caller>;

/// Whether the request is an HTML form's post: it is answered with a redirect, not JSON.
pub fn is_form(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}
