-- Every raw event paid for an index on (user_id, occurred_at) that no query reads: dashboards
-- read rollups, a session's events come through events_session, and a user's sessions through
-- sessions_user_started. Dropping it makes each ingested event about a fifth cheaper to store.
-- (A per-user export or erasure is rare enough to scan a month's partition instead.)
DROP INDEX IF EXISTS events_user_time;
