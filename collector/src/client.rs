//! The devpulse server's HTTP API, as the collector uses it.

use std::{io::Write, time::Duration};

use reqwest::{header, StatusCode};
use serde_json::Value;

use crate::config::Config;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Worth trying again later: unreachable, 429, 5xx.
    #[error("{why}")]
    Retry {
        why: String,
        after: Option<Duration>,
    },
    /// Trying again will not help: a bad key, a refused request.
    #[error("{0}")]
    Fatal(String),
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Client {
    pub fn new(config: &Config) -> Client {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("devpulse-collector/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("HTTP client");
        Client {
            http,
            base: config.server.trim_end_matches('/').to_string(),
            key: config.key.clone(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends NDJSON items gzip-compressed to the batch endpoint. The Idempotency-Key makes a
    /// retry after a lost answer replay the first answer instead of writing again.
    pub async fn send_batch(
        &self,
        ndjson: &[u8],
        idempotency_key: &str,
        import_batch: Option<&str>,
    ) -> Result<Value, ClientError> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(ndjson).expect("in-memory gzip");
        let body = gz.finish().expect("in-memory gzip");
        let mut req = self
            .http
            .post(self.url("/api/v1/ingest/batch"))
            .bearer_auth(&self.key)
            .header(header::CONTENT_TYPE, "application/x-ndjson")
            .header(header::CONTENT_ENCODING, "gzip")
            .header("idempotency-key", idempotency_key)
            .body(body);
        if let Some(b) = import_batch {
            req = req.header("devpulse-import-batch", b);
        }
        answer(req.send().await).await
    }

    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, ClientError> {
        let req = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.key)
            .query(query);
        answer(req.send().await).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        let req = self
            .http
            .post(self.url(path))
            .bearer_auth(&self.key)
            .json(body);
        answer(req.send().await).await
    }

    pub async fn delete(&self, path: &str) -> Result<Value, ClientError> {
        let req = self.http.delete(self.url(path)).bearer_auth(&self.key);
        answer(req.send().await).await
    }

    /// `GET /readyz` without the key: is the server there at all?
    pub async fn ready(&self) -> Result<(), ClientError> {
        answer(self.http.get(self.url("/readyz")).send().await)
            .await
            .map(drop)
    }
}

async fn answer(sent: reqwest::Result<reqwest::Response>) -> Result<Value, ClientError> {
    let resp = sent.map_err(|e| ClientError::Retry {
        why: format!("server unreachable: {e}"),
        after: None,
    })?;
    let status = resp.status();
    let after = resp
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs);
    let text = resp.text().await.unwrap_or_default();
    if status.is_success() {
        return Ok(serde_json::from_str(&text).unwrap_or(Value::Null));
    }
    // A proxy in between may answer with anything; the server itself answers problem+json.
    let detail = serde_json::from_str::<types::Problem>(&text)
        .map(|p| p.summary())
        .unwrap_or(text);
    let why = format!("server answered {status}: {detail}");
    if status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::CONFLICT
        || status.is_server_error()
    {
        Err(ClientError::Retry { why, after })
    } else {
        Err(ClientError::Fatal(why))
    }
}
