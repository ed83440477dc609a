//! The shape of every API error: RFC 9457 `application/problem+json`, with the JSON pointer of
//! each bad field. The server writes it; the browser and API clients read it.

use serde::{Deserialize, Serialize};

/// One bad field: its JSON pointer in the request (body or query) and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    pub pointer: String,
    pub detail: String,
}

impl FieldError {
    pub fn new(pointer: impl Into<String>, detail: impl Into<String>) -> FieldError {
        FieldError {
            pointer: pointer.into(),
            detail: detail.into(),
        }
    }
}

/// The body of every error response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// A stable, relative type such as `/problems/validation`.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl Problem {
    /// `detail`, then each bad field as `; <pointer> <detail>`: one line for a log or a CLI.
    pub fn summary(&self) -> String {
        let mut s = self.detail.clone();
        for e in &self.errors {
            s.push_str(&format!("; {} {}", e.pointer, e.detail));
        }
        s
    }
}

/// A value that is not one of the allowed ones, named by the field it came from. The parsers of
/// this crate return it; each crate's error enum takes it with `From`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    pub field: &'static str,
    pub reason: String,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.field, self.reason)
    }
}

impl std::error::Error for Invalid {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_reads_as_one_line_naming_its_fields() {
        let p: Problem = serde_json::from_str(
            r#"{"type":"https://devpulse.dev/problems/validation","title":"Invalid request",
                "status":422,"detail":"invalid request","errors":[{"pointer":"/0/session_id","detail":"is required"}]}"#,
        )
        .unwrap();
        assert_eq!(p.summary(), "invalid request; /0/session_id is required");
        let bare: Problem = serde_json::from_str(
            r#"{"type":"x","title":"Busy","status":503,"detail":"busy; retry in 1 s"}"#,
        )
        .unwrap();
        assert!(bare.errors.is_empty());
        assert_eq!(bare.summary(), "busy; retry in 1 s");
    }
}
