-- Background work for every instance: a row is claimed with FOR UPDATE SKIP LOCKED under a
-- lease that its worker keeps renewing, so a job whose instance dies is taken up again when
-- the lease runs out (at least once; every job is written to be safe to repeat). A failed
-- attempt waits longer each time; after max_attempts the job is dead and stays visible.
CREATE TABLE jobs (
    id           bigserial PRIMARY KEY,
    -- The workspace the job works in; NULL for installation-wide upkeep.
    tenant_id    uuid REFERENCES tenants (id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (length(kind) BETWEEN 1 AND 100),
    payload      jsonb NOT NULL DEFAULT '{}',
    -- A scheduled run is `<schedule>@<fire time>`: unique, so each fire time runs once
    -- whichever instance schedules it.
    dedupe_key   text UNIQUE,
    state        text NOT NULL DEFAULT 'queued'
                 CHECK (state IN ('queued', 'running', 'done', 'dead')),
    attempts     int NOT NULL DEFAULT 0,
    max_attempts int NOT NULL DEFAULT 8 CHECK (max_attempts > 0),
    run_at       timestamptz NOT NULL DEFAULT now(),
    locked_by    text,
    locked_until timestamptz,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);
CREATE INDEX jobs_due ON jobs (run_at) WHERE state = 'queued';
CREATE INDEX jobs_leased ON jobs (locked_until) WHERE state = 'running';
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state IN ('done', 'dead');
