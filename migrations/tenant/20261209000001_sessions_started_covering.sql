-- The dashboard's mean scores, its project list and its filter choices read four narrow
-- columns of every session in a window; the sessions table's rows are wide (paths, branch,
-- two dozen counters), so reading them from the heap cost three times as long as from an
-- index that carries the four. It replaces the plain index on the start time, which it
-- serves as well. A session's update already touches every index (its last report time is
-- indexed), so the write path touches as many as before, one of them wider.
--
-- Built before the old one is dropped: building takes a lock that lets reads go on, and the
-- lock that stops everything is held only for the drop and the rename at the end.
CREATE INDEX sessions_started_covering ON sessions (started_at DESC)
    INCLUDE (user_id, model, project, productivity_score);
DROP INDEX IF EXISTS sessions_started;
ALTER INDEX sessions_started_covering RENAME TO sessions_started;
