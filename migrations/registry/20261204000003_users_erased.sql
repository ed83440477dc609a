-- Super admins live in the registry's `users`, read by the same code as a workspace's people
-- (store::accounts), which skips erased rows; super admins are never erased, but the column
-- keeps the two tables alike.
ALTER TABLE users ADD COLUMN erased_at timestamptz;
