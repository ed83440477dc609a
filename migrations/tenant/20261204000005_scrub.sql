-- Erasure (store::gdpr) rewrites what names a person inside JSON values: only in strings (keys
-- and values), decoded, so escapes and the document's structure are never touched.
CREATE FUNCTION scrub_jsonb(j jsonb, pattern text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    CASE jsonb_typeof(j)
        WHEN 'string' THEN
            RETURN to_jsonb(regexp_replace(j #>> '{}', pattern, '[erased]', 'gi'));
        WHEN 'array' THEN
            RETURN coalesce((SELECT jsonb_agg(scrub_jsonb(e, pattern) ORDER BY i)
                             FROM jsonb_array_elements(j) WITH ORDINALITY AS t(e, i)), '[]'::jsonb);
        WHEN 'object' THEN
            RETURN coalesce((SELECT jsonb_object_agg(regexp_replace(k, pattern, '[erased]', 'gi'),
                                                     scrub_jsonb(v, pattern))
                             FROM jsonb_each(j) AS t(k, v)), '{}'::jsonb);
        ELSE
            RETURN j;
    END CASE;
END
$$;
