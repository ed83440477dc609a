-- A workspace may sign in through its provider only: passwords are then refused, except for
-- one tenant admin it names (break glass), so a provider outage cannot lock everyone out.
ALTER TABLE sso_providers
    ADD COLUMN sso_only    boolean NOT NULL DEFAULT false,
    ADD COLUMN break_glass uuid REFERENCES users (id) ON DELETE SET NULL;
