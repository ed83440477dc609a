-- What the write path refused, per day and reason, for the workspace's usage page. Counted in
-- memory and added here every few seconds, so a flood of bad requests costs no write each.
CREATE TABLE ingest_rejections (
    day     date NOT NULL,
    reason  text NOT NULL CHECK (length(reason) BETWEEN 1 AND 80),
    count   bigint NOT NULL CHECK (count >= 0),
    PRIMARY KEY (day, reason)
);
