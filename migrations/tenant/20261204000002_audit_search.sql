-- Runs with search_path = the tenant's schema; never name a schema here.
-- The audit viewer finds entries by what they are about and by action, newest first.
CREATE INDEX audit_log_target ON audit_log (target, id DESC);
CREATE INDEX audit_log_action ON audit_log (action, id DESC);
