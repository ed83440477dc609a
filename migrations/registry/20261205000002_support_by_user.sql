-- Grants are read by id, and a super admin's open ones are ended when they open another.
DROP INDEX support_grants_open;
CREATE INDEX support_grants_user_open ON support_grants (user_id) WHERE ended_at IS NULL;
