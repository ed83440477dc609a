-- Super admins and their sessions live in the registry. The tables have the same shape as a
-- tenant's `users`, `refresh_tokens` and `audit_log`, so one set of queries serves both; only
-- the role differs.
CREATE TABLE users (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email                 text NOT NULL UNIQUE
                          CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 320),
    name                  text NOT NULL DEFAULT '' CHECK (length(name) <= 200),
    role                  text NOT NULL CHECK (role = 'super_admin'),
    password_hash         text,
    status                text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deactivated')),
    sessions_valid_after  timestamptz NOT NULL DEFAULT now(),
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE refresh_tokens (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    family_id         uuid NOT NULL,
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash        bytea NOT NULL UNIQUE,
    created_at        timestamptz NOT NULL DEFAULT now(),
    family_expires_at timestamptz NOT NULL,
    rotated_at        timestamptz,
    revoked_at        timestamptz,
    ip                text,
    user_agent        text
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE audit_log (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    actor_id   uuid,
    actor      text,
    action     text NOT NULL,
    target     text,
    ip         text,
    user_agent text,
    details    jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at DESC);
