-- The dashboard's mean scores, its project list and its filter choices read four narrow
-- columns of every session in a window; the sessions table's rows are wide (paths, branch,
-- two dozen counters), so reading them from the heap cost three times as long as from an
-- index that carries the four. It replaces the plain index on the start time, which it
-- serves as well; a session's update already touches every index (its last report time is
-- indexed), so the write path pays one index, as before.
DROP INDEX sessions_started;
CREATE INDEX sessions_started ON sessions (started_at DESC)
    INCLUDE (user_id, model, project, productivity_score);
