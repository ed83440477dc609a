-- The dashboard's reads of the sessions table: the sessions table and projects by start time
-- across everyone (sessions_user_started serves one person's), and who is working now by the
-- last report.
CREATE INDEX sessions_started ON sessions (started_at DESC);
CREATE INDEX sessions_last_seen ON sessions (last_seen_at DESC);
