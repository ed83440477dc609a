-- Alert rules, what they did, who hears of them, and each person's bell (`store::alerts`).
CREATE TABLE alert_rules (
    id uuid PRIMARY KEY,
    -- The rule reads what its owner sees; it goes with them.
    owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    metric text NOT NULL,
    direction text NOT NULL CHECK (direction IN ('above', 'below')),
    threshold double precision NOT NULL,
    clear_at double precision NOT NULL,
    window_minutes int NOT NULL CHECK (window_minutes BETWEEN 5 AND 44640),
    filters jsonb NOT NULL DEFAULT '{}',
    budget_id uuid REFERENCES budgets (id) ON DELETE CASCADE,
    hours jsonb,
    enabled boolean NOT NULL DEFAULT true,
    state text NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'firing')),
    since timestamptz,
    last_value double precision,
    evaluated_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Each firing and resolving, kept with the numbers of the moment (the rule may change later).
CREATE TABLE alert_events (
    id uuid PRIMARY KEY,
    rule_id uuid NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    rule_name text NOT NULL,
    metric text NOT NULL,
    state text NOT NULL CHECK (state IN ('ok', 'firing')),
    value double precision NOT NULL,
    threshold double precision NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_events_by_rule ON alert_events (rule_id, at DESC);

-- Who hears of a rule, and how.
CREATE TABLE alert_subscriptions (
    rule_id uuid NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    in_app boolean NOT NULL DEFAULT true,
    email boolean NOT NULL DEFAULT false,
    PRIMARY KEY (rule_id, user_id)
);

-- The bell: one row per event per person told in the app.
CREATE TABLE notifications (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_id uuid NOT NULL REFERENCES alert_events (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    read_at timestamptz,
    UNIQUE (user_id, event_id)
);
CREATE INDEX notifications_unread ON notifications (user_id, created_at DESC);
