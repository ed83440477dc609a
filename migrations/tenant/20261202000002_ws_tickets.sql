-- Single-use tickets for opening `/ws/metrics?token=…`: browsers cannot put a header on a
-- WebSocket request, and a long-lived token in a URL ends up in logs. A ticket is asked for
-- with a session (POST), lives 30 seconds and opens one socket. Only its hash is kept.
CREATE TABLE ws_tickets (
    hash       bytea PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL
);
