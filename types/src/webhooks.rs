//! Webhooks: where a workspace's alerts are posted (a JSON body signed with HMAC-SHA256 over
//! a timestamp and the body), as plain JSON or as a Slack or Microsoft Teams message, and the
//! log of every attempt.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Invalid;

/// The header carrying the seconds since the Unix epoch the signature covers.
pub const TIMESTAMP_HEADER: &str = "x-devpulse-timestamp";
/// The header carrying `sha256=<hex HMAC-SHA256 of "{timestamp}.{body}">`.
pub const SIGNATURE_HEADER: &str = "x-devpulse-signature";

/// The shape of the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// devpulse's own: the event, the rule and the workspace.
    Json,
    /// A Slack incoming webhook's `{"text", "blocks"}`.
    Slack,
    /// A Microsoft Teams incoming webhook's message card.
    Teams,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Json, Format::Slack, Format::Teams];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Slack => "slack",
            Format::Teams => "teams",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Format::Json => "JSON (devpulse)",
            Format::Slack => "Slack",
            Format::Teams => "Microsoft Teams",
        }
    }

    pub fn parse(s: &str) -> Result<Format, Invalid> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s.trim())
            .ok_or_else(|| Invalid {
                field: "format",
                reason: "must be json, slack or teams".into(),
            })
    }
}

/// A webhook to create.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewWebhook {
    pub name: String,
    pub url: String,
    #[serde(default = "json")]
    pub format: Format,
}

fn json() -> Format {
    Format::Json
}

impl NewWebhook {
    /// Name and shape checked; whether the address may be reached is the server's to say.
    pub fn checked(mut self) -> Result<NewWebhook, Invalid> {
        self.name = self.name.trim().to_string();
        self.url = self.url.trim().to_string();
        if self.name.is_empty() || self.name.chars().count() > 120 {
            return Err(Invalid {
                field: "name",
                reason: "must be 1 to 120 characters".into(),
            });
        }
        if self.url.is_empty() || self.url.len() > 2000 {
            return Err(Invalid {
                field: "url",
                reason: "must be an address of at most 2,000 characters".into(),
            });
        }
        Ok(self)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Webhook {
    pub id: Uuid,
    pub name: String,
    pub url: String,
    pub format: Format,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    /// The latest attempts, newest first (at most [`RECENT`]).
    pub recent: Vec<Delivery>,
}

/// How many attempts a webhook's listing carries.
pub const RECENT: i64 = 10;

/// A webhook just made, with its signing secret: shown this once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Created {
    #[serde(flatten)]
    pub webhook: Webhook,
    pub secret: String,
}

/// One attempt to deliver.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Delivery {
    pub id: Uuid,
    pub webhook_id: Uuid,
    /// The alert event delivered; none for a test.
    pub event_id: Option<Uuid>,
    pub test: bool,
    pub attempt: i32,
    /// The receiver's status code; none when no answer came.
    pub status: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i32,
    pub at: DateTime<Utc>,
}

impl Delivery {
    pub fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}
