-- The legacy hooks' baselines arrive with an import as `other` events; this small index finds
-- them without reading every event (`store::baselines`). The predicate is the query's own.
CREATE INDEX events_baselines ON events (user_id, occurred_at)
    WHERE kind = 'other' AND source = 'import'
      AND attrs -> 'attributes' ->> 'origin' IN
          ('legacy/historical-baseline.json', 'legacy/current-baseline.json');
