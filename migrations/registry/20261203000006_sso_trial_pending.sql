-- A pending sign-in may be an admin's "try sign-in": the callback then reports what came
-- back instead of signing anyone in.
ALTER TABLE sso_pending ADD COLUMN trial_by uuid;
