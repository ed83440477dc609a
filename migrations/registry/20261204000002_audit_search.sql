-- The audit viewer finds entries by what they are about and by action, newest first (the
-- same indexes as each workspace's log).
CREATE INDEX audit_log_target ON audit_log (target, id DESC);
CREATE INDEX audit_log_action ON audit_log (action, id DESC);
