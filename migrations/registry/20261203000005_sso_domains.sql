-- Which workspaces' identity providers vouch for an e-mail domain: the index "Continue with
-- SSO" looks a typed address up in (home-realm discovery). Each workspace's own
-- sso_providers row stays the truth; the sign-in checks it again, so an entry it no longer
-- backs sends nobody anywhere.
CREATE TABLE sso_domains (
    domain    text NOT NULL CHECK (domain = lower(domain) AND domain LIKE '%.%'),
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    PRIMARY KEY (domain, tenant_id)
);
CREATE INDEX sso_domains_tenant ON sso_domains (tenant_id);

-- Providers configured before this index existed.
DO $$
DECLARE t record;
BEGIN
    FOR t IN SELECT id, schema_name FROM tenants LOOP
        IF to_regclass(format('%I.sso_providers', t.schema_name)) IS NOT NULL THEN
            EXECUTE format(
                'INSERT INTO sso_domains (domain, tenant_id)
                 SELECT DISTINCT lower(d), %L::uuid FROM %I.sso_providers, unnest(email_domains) d
                 WHERE enabled AND d LIKE ''%%.%%''
                 ON CONFLICT DO NOTHING',
                t.id, t.schema_name);
        END IF;
    END LOOP;
END $$;
