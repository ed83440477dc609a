-- Second factors. The registry has the same tables for super admins (one set of queries).
-- A person's authenticator app: the seed sealed with DEVPULSE_SECRET_KEY (bound to the user),
-- unconfirmed until they type a code from it. `last_step` is the last accepted 30-second
-- step: a code is good once (RFC 6238 §5.2).
CREATE TABLE mfa_totp (
    user_id      uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret       bytea NOT NULL,
    confirmed_at timestamptz,
    last_step    bigint,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Single-use recovery codes, kept as SHA-256 hashes (they are random, 50 bits, and throttled).
CREATE TABLE mfa_recovery_codes (
    user_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash bytea NOT NULL,
    used_at   timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

-- A password accepted, a second step owed: the browser holds the token, this row the rest.
-- `enrol`: the workspace requires a second factor the person has not set up yet.
CREATE TABLE mfa_challenges (
    token_hash bytea PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('verify', 'enrol')),
    attempts   int NOT NULL DEFAULT 0,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX mfa_challenges_user ON mfa_challenges (user_id);
