-- Scheduled reports and each sending, with the files it attached (`store::reports`).
CREATE TABLE reports (
    id uuid PRIMARY KEY,
    -- The report reads what its owner sees; it goes with them.
    owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    cadence text NOT NULL CHECK (cadence IN ('weekly', 'monthly')),
    team_id uuid REFERENCES teams (id) ON DELETE CASCADE,
    board_id uuid,
    recipients uuid[] NOT NULL,
    enabled boolean NOT NULL DEFAULT true,
    next_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reports_due ON reports (next_at) WHERE enabled;

-- One sending: the period, and the PDF and CSV every recipient's e-mail attaches (kept so a
-- retried e-mail attaches the same files, and so the owner can download them again).
CREATE TABLE report_runs (
    id uuid PRIMARY KEY,
    report_id uuid NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    first_day date NOT NULL,
    last_day date NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    recipients int NOT NULL DEFAULT 0,
    pdf bytea,
    pdf_error text,
    csv text NOT NULL,
    -- The job that made it: a retried job finds its sending made and does not send twice.
    job_id bigint UNIQUE
);
CREATE INDEX report_runs_by_report ON report_runs (report_id, at DESC);
