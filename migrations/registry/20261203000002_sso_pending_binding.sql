-- A sign-in in flight belongs to the browser that began it (a hash of a random value in a
-- short-lived cookie), and to the provider configuration it began with: a callback from
-- another browser (login CSRF) or after the configuration changed finds nothing.
DELETE FROM sso_pending;
ALTER TABLE sso_pending
    ADD COLUMN browser_hash bytea NOT NULL,
    ADD COLUMN issuer text NOT NULL,
    ADD COLUMN client_id text NOT NULL;
