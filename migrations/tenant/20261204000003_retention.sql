-- Retention (store::retention) removes old raw events and the rows derived from them. A batch
-- that lost some of its rows can no longer be rolled back exactly, so it is marked.
ALTER TABLE import_batches ADD COLUMN trimmed_at timestamptz;
