//! The price of a model's tokens. [`Prices::shipped`] is the table in `prices.json`, kept in
//! the repository; a tenant's overrides go on top of it with [`Prices::with`]. Both the server
//! (requests that arrive without a cost) and the collector (offline reports) price through
//! [`Prices::cost`], so the two always agree.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// USD per million tokens.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Price {
    pub input: f64,
    pub output: f64,
    /// A 5-minute cache write; a 1-hour write costs 2x `input`.
    pub cache_write: f64,
    pub cache_read: f64,
}

/// Tokens of one request, by kind. `cache_creation_1h` is the part of `cache_creation` written
/// to the 1-hour cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tokens {
    pub input: i64,
    pub output: i64,
    pub cache_creation: i64,
    pub cache_creation_1h: i64,
    pub cache_read: i64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Prices {
    by_model: BTreeMap<String, Price>,
}

const SHIPPED: &str = include_str!("../prices.json");

impl Prices {
    pub fn shipped() -> Prices {
        let raw: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(SHIPPED).expect("prices.json is valid JSON");
        let by_model = raw
            .into_iter()
            .filter(|(k, _)| !k.starts_with('_'))
            .map(|(k, v)| {
                let p: [f64; 4] = serde_json::from_value(v).expect("four prices per model");
                (k, Price::from(p))
            })
            .collect();
        Prices { by_model }
    }

    /// This table with `overrides` replacing or adding models.
    pub fn with(mut self, overrides: impl IntoIterator<Item = (String, Price)>) -> Prices {
        self.by_model.extend(overrides);
        self
    }

    /// The model's price: an exact match, else the longest listed name the model starts with
    /// (so `claude-sonnet-4-5-20991231` finds `claude-sonnet-4-5`).
    pub fn get(&self, model: &str) -> Option<Price> {
        if let Some(p) = self.by_model.get(model) {
            return Some(*p);
        }
        self.by_model
            .iter()
            .filter(|(name, _)| model.starts_with(name.as_str()))
            .max_by_key(|(name, _)| name.len())
            .map(|(_, p)| *p)
    }

    /// Cost in USD; `None` for a model the table does not know.
    pub fn cost(&self, model: &str, t: &Tokens) -> Option<f64> {
        let p = self.get(model)?;
        let five_minute = (t.cache_creation - t.cache_creation_1h).max(0);
        let micro = t.input as f64 * p.input
            + t.output as f64 * p.output
            + five_minute as f64 * p.cache_write
            + t.cache_creation_1h as f64 * p.input * 2.0
            + t.cache_read as f64 * p.cache_read;
        Some(micro / 1_000_000.0)
    }

    pub fn models(&self) -> impl Iterator<Item = (&str, &Price)> {
        self.by_model.iter().map(|(k, v)| (k.as_str(), v))
    }
}

impl From<[f64; 4]> for Price {
    fn from(p: [f64; 4]) -> Price {
        Price {
            input: p[0],
            output: p[1],
            cache_write: p[2],
            cache_read: p[3],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_prefix_and_unknown() {
        let p = Prices::shipped();
        let t = Tokens {
            input: 1_000_000,
            output: 1_000_000,
            cache_creation: 2_000_000,
            cache_creation_1h: 1_000_000,
            cache_read: 1_000_000,
        };
        // 3 + 15 + 3.75 (5 min) + 6 (1 h = 2x input) + 0.3
        let c = p.cost("claude-sonnet-4-5-20250929", &t).unwrap();
        assert!((c - 28.05).abs() < 1e-9, "{c}");
        assert_eq!(
            p.get("claude-sonnet-4-5-20991231"),
            p.get("claude-sonnet-4-5")
        );
        assert_eq!(p.cost("gpt-4", &t), None);
        let cheap = p.with([("gpt-4".to_string(), Price::from([1.0, 1.0, 1.0, 1.0]))]);
        // 1 + 1 + 1 (5-minute writes) + 2 (1-hour writes) + 1
        assert!((cheap.cost("gpt-4", &t).unwrap() - 6.0).abs() < 1e-9);
    }
}
