//! The workspace's outgoing e-mail as its admins see it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One e-mail: to whom, which message, and how its delivery went.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Sent {
    pub id: Uuid,
    pub to: String,
    /// `invitation`, `password_reset` or `second_factor_changed`.
    pub template: String,
    /// Known once sent (the words are rendered when it goes out).
    pub subject: Option<String>,
    /// `queued`, `sent` or `failed` (no attempt will follow).
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    /// `smtp`, or `outbox:<file>` when no SMTP server is configured.
    pub delivered_via: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl Sent {
    /// The message's name in words.
    pub fn what(&self) -> &str {
        match self.template.as_str() {
            "invitation" => "Invitation",
            "password_reset" => "Password link",
            other => other,
        }
    }
}
