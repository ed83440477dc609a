-- Runs with search_path = the tenant's schema; never name a schema here.
-- Per-tenant settings (retention, prices, SSO, ...), one JSON value per key.
CREATE TABLE settings (
    key        text PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 100),
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
