-- Support access: a super admin reads one workspace's dashboards, read-only, for a stated
-- reason and a limited time. Each grant is also recorded in that workspace's audit log.
CREATE TABLE support_grants (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reason      text NOT NULL CHECK (length(reason) BETWEEN 10 AND 500),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL CHECK (expires_at > created_at),
    ended_at    timestamptz
);
CREATE INDEX support_grants_open ON support_grants (tenant_id, expires_at) WHERE ended_at IS NULL;
