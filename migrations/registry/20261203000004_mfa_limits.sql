-- Guessing a second factor: wrong codes counted per person (not per source, and not reset by
-- a correct password), and challenges that end with a password, role or status change.
ALTER TABLE mfa_totp
    ADD COLUMN failures  int NOT NULL DEFAULT 0,
    ADD COLUMN failed_at timestamptz;
ALTER TABLE mfa_challenges
    ADD COLUMN created_at timestamptz NOT NULL DEFAULT clock_timestamp();
