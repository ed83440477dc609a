-- "Try sign-in": what the provider sent an admin testing it, and what a real sign-in would
-- have done. Read back by the admin who tried, on the page the callback leads to.
CREATE TABLE sso_trials (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tried_by   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    result     jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sso_trials_age ON sso_trials (created_at);
