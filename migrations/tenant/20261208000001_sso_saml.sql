-- SAML 2.0 beside OpenID Connect: the workspace's one provider speaks either. For SAML the
-- issuer is the IdP's entity ID (taken from its metadata), the client id our own entity ID,
-- and there is no client secret: the IdP's signing certificates in its metadata are the trust.
ALTER TABLE sso_providers
    ADD COLUMN protocol text NOT NULL DEFAULT 'oidc' CHECK (protocol IN ('oidc', 'saml')),
    -- The IdP's metadata document as last fetched or uploaded.
    ADD COLUMN saml_metadata text CHECK (length(saml_metadata) <= 200000),
    -- Where it was fetched from (NULL: uploaded).
    ADD COLUMN saml_metadata_url text,
    -- Which assertion attributes carry the e-mail, the name and the groups.
    ADD COLUMN saml_email_attribute text NOT NULL DEFAULT 'email',
    ADD COLUMN saml_name_attribute text NOT NULL DEFAULT 'name',
    ADD COLUMN saml_groups_attribute text NOT NULL DEFAULT 'groups',
    ADD CONSTRAINT sso_providers_saml_metadata CHECK (protocol <> 'saml' OR saml_metadata IS NOT NULL);
