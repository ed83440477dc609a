-- Saved dashboards ("boards", the TRD's dashboard_configs). A board is one person's
-- (owner_id) or the workspace's (owner_id NULL: made by dashboard.manage holders, shared
-- read-only with teams, and the default home of the roles in default_for). `version`
-- counts saves: a save names the version it started from, and a stale one is refused.
CREATE TABLE dashboard_configs (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id       uuid REFERENCES users (id) ON DELETE CASCADE,
    dashboard_name text NOT NULL CHECK (length(dashboard_name) BETWEEN 1 AND 100),
    widget_layout  jsonb NOT NULL,
    version        integer NOT NULL DEFAULT 1,
    default_for    text[] NOT NULL DEFAULT '{}'
        CHECK (default_for <@ ARRAY['tenant_admin', 'manager', 'developer', 'viewer']),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    -- Only workspace boards are anyone's default.
    CHECK (owner_id IS NULL OR default_for = '{}')
);
CREATE INDEX dashboard_configs_owner ON dashboard_configs (owner_id);

CREATE TABLE dashboard_shares (
    dashboard_id uuid NOT NULL REFERENCES dashboard_configs (id) ON DELETE CASCADE,
    team_id      uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    PRIMARY KEY (dashboard_id, team_id)
);
CREATE INDEX dashboard_shares_team ON dashboard_shares (team_id);

-- The board a person chose as their home; NULL: their role's default, else the built-in one.
ALTER TABLE users ADD COLUMN home_dashboard uuid REFERENCES dashboard_configs (id) ON DELETE SET NULL;
