-- The tenant registry: what must be known before a tenant's own schema is entered.
CREATE TABLE tenants (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    slug             text NOT NULL UNIQUE CHECK (slug ~ '^[a-z][a-z0-9_]{1,40}$'),
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    schema_name      text NOT NULL UNIQUE,
    role_name        text NOT NULL UNIQUE,
    plan             text NOT NULL DEFAULT 'free',
    status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    -- The newest tenant migration applied to this tenant's schema.
    migrated_version bigint NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
