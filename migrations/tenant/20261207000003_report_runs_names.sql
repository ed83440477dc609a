-- Whether a sending's files name people: those who see only totals never download one that
-- does, even if they receive the report now.
ALTER TABLE report_runs ADD COLUMN names_people boolean NOT NULL DEFAULT true;
