-- A single sign-on in progress, between the redirect to the provider and its callback: kept
-- on the server (never in the browser) and keyed by a hash of the `state` it was sent with.
-- The callback takes it (DELETE … RETURNING), so a replayed callback finds nothing.
-- In the registry: the callback names no workspace; this row says which one began it.
CREATE TABLE sso_pending (
    state_hash     bytea PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    nonce          text NOT NULL,
    pkce_verifier  text NOT NULL,
    return_to      text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL
);
CREATE INDEX sso_pending_expiry ON sso_pending (expires_at);
