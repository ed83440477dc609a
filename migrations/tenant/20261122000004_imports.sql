-- Historical imports (`devpulse import`): each run is a batch whose events, and the things
-- they created, can be removed again. And the tenant's own model prices.

CREATE TABLE import_batches (
    id             uuid PRIMARY KEY,
    user_id        uuid NOT NULL,
    source         text NOT NULL CHECK (length(source) BETWEEN 1 AND 200),
    host           text CHECK (length(host) <= 200),
    created_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    rolled_back_at timestamptz,
    -- What the importer reported: files, lines, imported, duplicates, skipped.
    stats          jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX import_batches_user ON import_batches (user_id, created_at DESC);

-- The batch that created each thing, so a rollback removes exactly those.
ALTER TABLE sessions ADD COLUMN import_batch uuid;
ALTER TABLE tool_runs ADD COLUMN import_batch uuid;
ALTER TABLE api_requests
    ADD COLUMN import_batch uuid,
    -- A request's usage, so a rollback (and a session's drill-down) need not read raw events.
    ADD COLUMN input_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN output_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN cache_creation_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN cache_read_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN cost_usd numeric(20, 10) NOT NULL DEFAULT 0;
CREATE INDEX sessions_batch ON sessions (import_batch) WHERE import_batch IS NOT NULL;
CREATE INDEX tool_runs_batch ON tool_runs (import_batch) WHERE import_batch IS NOT NULL;
CREATE INDEX api_requests_batch ON api_requests (import_batch) WHERE import_batch IS NOT NULL;

-- Prices that replace the shipped table (pricing/prices.json) for this tenant: USD per
-- million tokens. Requests that arrive without a cost are priced with them.
CREATE TABLE model_prices (
    model        text PRIMARY KEY CHECK (length(model) BETWEEN 1 AND 200),
    input        double precision NOT NULL CHECK (input >= 0),
    output       double precision NOT NULL CHECK (output >= 0),
    cache_write  double precision NOT NULL CHECK (cache_write >= 0),
    cache_read   double precision NOT NULL CHECK (cache_read >= 0),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
