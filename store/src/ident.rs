//! SQL identifiers we build from user input (schema and role names) never reach SQL
//! unless they match a strict pattern, so quoting can never be escaped.

use crate::{Error, Result};

/// `[a-z][a-z0-9_]{1,62}`: safe to interpolate inside double quotes.
pub(crate) fn check(name: &str, field: &'static str) -> Result<()> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if first_ok && rest_ok && (2..=63).contains(&name.len()) {
        Ok(())
    } else {
        Err(Error::Invalid {
            field,
            reason: format!("{name:?} is not a safe SQL identifier").into(),
        })
    }
}

/// Double-quotes an identifier that [`check`] accepted.
pub(crate) fn quote(name: &str) -> String {
    debug_assert!(!name.contains('"'));
    format!("\"{name}\"")
}
