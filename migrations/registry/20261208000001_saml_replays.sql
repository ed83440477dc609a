-- SAML assertions already used, by their ID, until they would have expired anyway: an
-- assertion captured on its way to us cannot sign anyone in a second time.
CREATE TABLE saml_replays (
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    assertion_id  text NOT NULL,
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, assertion_id)
);
CREATE INDEX saml_replays_expiry ON saml_replays (expires_at);
