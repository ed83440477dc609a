//! Model prices: the table shipped in the repository (`pricing/prices.json`) with the tenant's
//! own prices on top. Requests that arrive without a cost are priced with [`table`].

use sqlx::PgConnection;

use crate::{audit::Actor, Error, Result};
pub use pricing::{Price, Prices};

/// The shipped table with this tenant's overrides.
pub async fn table(conn: &mut PgConnection) -> Result<Prices> {
    Ok(Prices::shipped().with(overrides(conn).await?))
}

/// Only the tenant's own prices.
pub async fn overrides(conn: &mut PgConnection) -> Result<Vec<(String, Price)>> {
    Ok(sqlx::query!(
        "SELECT model, input, output, cache_write, cache_read FROM model_prices ORDER BY model"
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| {
        (
            r.model,
            Price {
                input: r.input,
                output: r.output,
                cache_write: r.cache_write,
                cache_read: r.cache_read,
            },
        )
    })
    .collect())
}

/// Sets (or with `None` removes; not found if there was none) the tenant's price for a model. Applies to requests priced
/// from now on; stored costs do not change. Records who did it (`price.set`, `price.reset`).
pub async fn set(
    conn: &mut PgConnection,
    actor: &Actor,
    model: &str,
    price: Option<Price>,
) -> Result<()> {
    if model.is_empty() || model.chars().count() > 200 {
        return Err(Error::Invalid {
            field: "model",
            reason: "must be 1 to 200 characters".into(),
        });
    }
    let Some(p) = price else {
        let gone = sqlx::query!("DELETE FROM model_prices WHERE model = $1", model)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        if gone == 0 {
            return Err(Error::NotFound("price override"));
        }
        let details = serde_json::json!({});
        return crate::audit::record(conn, actor, "price.reset", Some(model), details).await;
    };
    for (field, v) in [
        ("input", p.input),
        ("output", p.output),
        ("cache_write", p.cache_write),
        ("cache_read", p.cache_read),
    ] {
        if !(0.0..=1_000_000.0).contains(&v) {
            return Err(Error::Invalid {
                field,
                reason: "must be a price from 0 to 1000000 USD per million tokens".into(),
            });
        }
    }
    sqlx::query!(
        "INSERT INTO model_prices (model, input, output, cache_write, cache_read)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (model) DO UPDATE SET input = EXCLUDED.input, output = EXCLUDED.output,
             cache_write = EXCLUDED.cache_write, cache_read = EXCLUDED.cache_read,
             updated_at = now()",
        model,
        p.input,
        p.output,
        p.cache_write,
        p.cache_read
    )
    .execute(&mut *conn)
    .await?;
    crate::audit::record(conn, actor, "price.set", Some(model), serde_json::json!(p)).await
}
