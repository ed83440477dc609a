-- Where the workspace's alerts are posted, and every attempt (`store::webhooks`).
CREATE TABLE webhooks (
    id uuid PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    url text NOT NULL CHECK (length(url) BETWEEN 1 AND 2000),
    format text NOT NULL CHECK (format IN ('json', 'slack', 'teams')),
    -- The signing secret, sealed by the server (bound to the webhook's id).
    secret_sealed bytea NOT NULL,
    enabled boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
    id uuid PRIMARY KEY,
    webhook_id uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id uuid REFERENCES alert_events (id) ON DELETE SET NULL,
    test boolean NOT NULL DEFAULT false,
    attempt int NOT NULL,
    status int,
    error text,
    duration_ms int NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_by_hook ON webhook_deliveries (webhook_id, at DESC);
