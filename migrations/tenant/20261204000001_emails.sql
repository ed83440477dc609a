-- Runs with search_path = the tenant's schema; never name a schema here.
-- Every e-mail the workspace sends (invitations, password links; later alerts and reports):
-- queued in the transaction that decides to send it, delivered by a job. The template's
-- values are sealed (they may hold a link that sets a password) and cleared once sent.
CREATE TABLE emails (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    to_address    text NOT NULL,
    template      text NOT NULL,
    sealed        bytea,
    subject       text,
    status        text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed')),
    attempts      int NOT NULL DEFAULT 0,
    last_error    text,
    -- `smtp`, or the outbox file it was written to when no SMTP server is configured.
    delivered_via text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz
);
CREATE INDEX emails_recent ON emails (created_at DESC);
