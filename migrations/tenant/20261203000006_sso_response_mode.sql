-- How the provider sends people back: a redirect carrying the code in its address (`query`,
-- the default) or a form the browser posts (`form_post`).
ALTER TABLE sso_providers
    ADD COLUMN response_mode text NOT NULL DEFAULT 'query'
        CHECK (response_mode IN ('query', 'form_post'));
