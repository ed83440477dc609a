-- An Idempotency-Key belongs to whoever sent it: two people using the same key (collectors
-- derive keys from the body they send) must never get each other's answers. Keys are kept
-- for 24 hours (pruned by the server's hourly upkeep), as long as a client may retry.
ALTER TABLE idempotency_keys
    ADD COLUMN user_id uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000';
ALTER TABLE idempotency_keys ALTER COLUMN user_id DROP DEFAULT;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (user_id, key);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
