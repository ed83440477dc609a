-- The theme a person picked (light or dark); NULL follows their system. Kept per person so
-- that it follows them to every browser they sign in on.
ALTER TABLE users ADD COLUMN theme text CHECK (theme IN ('light', 'dark'));
