-- From now on only domains a workspace has proven (a DNS record) are in the discovery index;
-- the ones published before proofs existed are withdrawn until their workspace proves them.
DELETE FROM sso_domains;
