-- Spending limits per period for the workspace, a team or a person (`store::budgets`).
CREATE TABLE budgets (
    id uuid PRIMARY KEY,
    scope text NOT NULL CHECK (scope IN ('workspace', 'team', 'person')),
    team_id uuid REFERENCES teams (id) ON DELETE CASCADE,
    user_id uuid REFERENCES users (id) ON DELETE CASCADE,
    period text NOT NULL CHECK (period IN ('month', 'week')),
    usd double precision CHECK (usd > 0),
    tokens bigint CHECK (tokens > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (usd IS NOT NULL OR tokens IS NOT NULL),
    CHECK ((scope = 'workspace' AND team_id IS NULL AND user_id IS NULL)
        OR (scope = 'team' AND team_id IS NOT NULL AND user_id IS NULL)
        OR (scope = 'person' AND user_id IS NOT NULL AND team_id IS NULL))
);

-- One budget per scope and period: a second is a change of the first.
CREATE UNIQUE INDEX budgets_one_per_scope ON budgets
    (scope, coalesce(team_id, '00000000-0000-0000-0000-000000000000'),
     coalesce(user_id, '00000000-0000-0000-0000-000000000000'), period);
