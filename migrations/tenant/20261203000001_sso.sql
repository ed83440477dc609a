-- Single sign-on through the workspace's OpenID Connect provider. One provider per workspace
-- (the unique index on a constant); its client secret is sealed by the server with a key from
-- its configuration, never stored in the clear.
CREATE TABLE sso_providers (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    preset         text NOT NULL CHECK (preset IN ('generic', 'google', 'entra', 'okta')),
    issuer         text NOT NULL CHECK (length(issuer) BETWEEN 8 AND 500),
    client_id      text NOT NULL CHECK (length(client_id) BETWEEN 1 AND 500),
    client_secret  bytea NOT NULL,
    scopes         text[] NOT NULL DEFAULT ARRAY['openid', 'email', 'profile'],
    -- Empty: any verified e-mail may get an account just in time; else only these domains.
    email_domains  text[] NOT NULL DEFAULT '{}',
    default_role   text NOT NULL DEFAULT 'developer'
                   CHECK (default_role IN ('tenant_admin', 'manager', 'developer', 'viewer')),
    -- {"group name": "role"}: a person in a mapped group gets that role when created.
    group_roles    jsonb NOT NULL DEFAULT '{}',
    enabled        boolean NOT NULL DEFAULT true,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX sso_providers_one ON sso_providers ((true));

-- Who a provider's subject is here: accounts are linked by (issuer, subject), never by e-mail.
CREATE TABLE user_identities (
    issuer         text NOT NULL,
    subject        text NOT NULL,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_login_at  timestamptz,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX user_identities_user ON user_identities (user_id);
