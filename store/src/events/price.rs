//! Pricing requests that came without a cost.

use sqlx::PgConnection;

use super::Event;
use crate::Result;

/// Costs requests that came without one, from the shipped price table and the tenant's
/// overrides. A model neither knows costs 0 and says so in the event's attributes.
pub(super) async fn price(conn: &mut PgConnection, events: &mut [Event]) -> Result<()> {
    if events.iter().all(|e| e.unpriced.is_none()) {
        return Ok(());
    }
    let prices = crate::prices::table(conn).await?;
    for e in events.iter_mut() {
        // Kept, not taken: pricing the same event again gives the same cost.
        let (Some(hint), Some(usage)) = (e.unpriced, e.usage.as_mut()) else {
            continue;
        };
        let tokens = pricing::Tokens {
            input: usage.input_tokens,
            output: usage.output_tokens,
            cache_creation: usage.cache_creation_tokens,
            cache_creation_1h: hint.cache_creation_1h_tokens,
            cache_read: usage.cache_read_tokens,
        };
        match prices.cost(e.model.as_deref().unwrap_or(""), &tokens) {
            Some(cost) => usage.cost_usd = cost,
            None => {
                if let serde_json::Value::Object(map) = &mut e.attrs {
                    map.insert("_unpriced".into(), true.into());
                }
            }
        }
    }
    Ok(())
}
