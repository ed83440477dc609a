-- A person's data on request (GDPR articles 15, 17 and 20): an export archive, or erasure.
-- Each request is carried out by a job, step by step, so a crash resumes where it stopped.
CREATE TABLE gdpr_requests (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind         text NOT NULL CHECK (kind IN ('export', 'erasure')),
    user_id      uuid NOT NULL,
    -- Erasure only: what happens to the person's activity.
    mode         text CHECK (mode IN ('delete', 'pseudonymise')),
    requested_by uuid,
    state        text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
    -- The next step to run (erasure), so a retried job carries on from there.
    step         int NOT NULL DEFAULT 0,
    -- Rows written or removed, per table.
    counts       jsonb NOT NULL DEFAULT '{}',
    error        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    -- Export archives are kept for a week, then removed by upkeep.
    expires_at   timestamptz
);
CREATE INDEX gdpr_requests_recent ON gdpr_requests (created_at DESC);
CREATE INDEX gdpr_requests_user ON gdpr_requests (user_id);

-- An export's archive (.tar.gz), in parts so no single value grows past a few megabytes.
CREATE TABLE gdpr_archives (
    request_id uuid NOT NULL REFERENCES gdpr_requests (id) ON DELETE CASCADE,
    part       int NOT NULL,
    data       bytea NOT NULL,
    PRIMARY KEY (request_id, part)
);

-- An erased person's row stays, emptied of who they were, so what refers to it stays whole.
ALTER TABLE users ADD COLUMN erased_at timestamptz;
