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
