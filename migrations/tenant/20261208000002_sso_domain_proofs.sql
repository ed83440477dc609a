-- Proof that the workspace controls an e-mail domain: a TXT record with `token` in the
-- domain's DNS. Only proven domains send people who type an address there to the
-- workspace's provider ("Continue with SSO"). Kept when a domain leaves the provider's list,
-- so putting it back needs no new record.
CREATE TABLE sso_domain_proofs (
    domain       text PRIMARY KEY CHECK (domain = lower(domain) AND length(domain) BETWEEN 3 AND 253),
    token        text NOT NULL,
    verified_at  timestamptz,
    checked_at   timestamptz,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
