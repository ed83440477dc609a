-- The rollups once more, per person only: no tool or model split, no duration histogram.
-- A person's day holds a dozen or so rollup rows (one per tool and per model they used); the
-- dashboard's overview, heatmap, trends and per-person or per-team breakdowns ask none of
-- those splits, and summing twenty counters over every split row was most of a month's
-- overview (21,859 day rows for 50 people over two periods; 1,871 here).
--
-- Kept by triggers on the rollups, so every change to them, whoever makes it (the writer, an
-- import's rollback, retention, erasure, or an instance still running the release before
-- this one during a rolling upgrade), changes these sums in the same statement: the two
-- cannot disagree. A person's row exists exactly while some rollup row of theirs does (no
-- writer changes a rollup row's key; every store test's snapshot checks the two agree).
-- Nothing else may change them: see the last trigger below.
CREATE TABLE person_rollups (
    grain                 "char" NOT NULL CHECK (grain IN ('m', 'h', 'd')),
    bucket                timestamptz NOT NULL,
    user_id               uuid NOT NULL,
    sessions              bigint NOT NULL DEFAULT 0,
    tool_executions       bigint NOT NULL DEFAULT 0,
    tool_failures         bigint NOT NULL DEFAULT 0,
    agent_invocations     bigint NOT NULL DEFAULT 0,
    api_requests          bigint NOT NULL DEFAULT 0,
    input_tokens          bigint NOT NULL DEFAULT 0,
    output_tokens         bigint NOT NULL DEFAULT 0,
    cache_creation_tokens bigint NOT NULL DEFAULT 0,
    cache_read_tokens     bigint NOT NULL DEFAULT 0,
    cost_usd              numeric(20, 10) NOT NULL DEFAULT 0,
    lines_added           bigint NOT NULL DEFAULT 0,
    lines_removed         bigint NOT NULL DEFAULT 0,
    duration_count        bigint NOT NULL DEFAULT 0,
    duration_sum_ms       bigint NOT NULL DEFAULT 0,
    prompts               bigint NOT NULL DEFAULT 0,
    api_errors            bigint NOT NULL DEFAULT 0,
    commits               bigint NOT NULL DEFAULT 0,
    pull_requests         bigint NOT NULL DEFAULT 0,
    active_user_ms        bigint NOT NULL DEFAULT 0,
    active_cli_ms         bigint NOT NULL DEFAULT 0,
    edits_accepted        bigint NOT NULL DEFAULT 0,
    edits_rejected        bigint NOT NULL DEFAULT 0,
    -- Its first columns serve the reads by grain and time, as `rollups_time` does theirs.
    PRIMARY KEY (grain, bucket, user_id)
);

-- Statement-level, with the changed rows as transition tables: one grouped upsert per kind
-- of change a statement makes, however many rows it changed, in key order (so two statements
-- changing the same people's sums wait for each other rather than deadlock). The search path
-- is this schema's, whatever the caller's.
CREATE FUNCTION person_rollups_follow() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    -- An update adds the difference in one step: adding the new values and then taking the
    -- old ones away would pass through twice the total, which the columns may not hold.
    IF TG_OP = 'INSERT' THEN
        INSERT INTO person_rollups AS p (grain, bucket, user_id,
        sessions, tool_executions, tool_failures, agent_invocations, api_requests, input_tokens,
        output_tokens, cache_creation_tokens, cache_read_tokens, cost_usd, lines_added,
        lines_removed, duration_count, duration_sum_ms, prompts, api_errors, commits,
        pull_requests, active_user_ms, active_cli_ms, edits_accepted, edits_rejected)
        SELECT grain, bucket, user_id,
           sum(sessions), sum(tool_executions), sum(tool_failures), sum(agent_invocations),
           sum(api_requests), sum(input_tokens), sum(output_tokens), sum(cache_creation_tokens),
           sum(cache_read_tokens), sum(cost_usd), sum(lines_added), sum(lines_removed),
           sum(duration_count), sum(duration_sum_ms), sum(prompts), sum(api_errors),
           sum(commits), sum(pull_requests), sum(active_user_ms), sum(active_cli_ms),
           sum(edits_accepted), sum(edits_rejected)
        FROM new_rows GROUP BY grain, bucket, user_id ORDER BY grain, bucket, user_id
        ON CONFLICT (grain, bucket, user_id) DO UPDATE SET
            sessions = p.sessions + EXCLUDED.sessions,
            tool_executions = p.tool_executions + EXCLUDED.tool_executions,
            tool_failures = p.tool_failures + EXCLUDED.tool_failures,
            agent_invocations = p.agent_invocations + EXCLUDED.agent_invocations,
            api_requests = p.api_requests + EXCLUDED.api_requests,
            input_tokens = p.input_tokens + EXCLUDED.input_tokens,
            output_tokens = p.output_tokens + EXCLUDED.output_tokens,
            cache_creation_tokens = p.cache_creation_tokens + EXCLUDED.cache_creation_tokens,
            cache_read_tokens = p.cache_read_tokens + EXCLUDED.cache_read_tokens,
            cost_usd = p.cost_usd + EXCLUDED.cost_usd,
            lines_added = p.lines_added + EXCLUDED.lines_added,
            lines_removed = p.lines_removed + EXCLUDED.lines_removed,
            duration_count = p.duration_count + EXCLUDED.duration_count,
            duration_sum_ms = p.duration_sum_ms + EXCLUDED.duration_sum_ms,
            prompts = p.prompts + EXCLUDED.prompts,
            api_errors = p.api_errors + EXCLUDED.api_errors,
            commits = p.commits + EXCLUDED.commits,
            pull_requests = p.pull_requests + EXCLUDED.pull_requests,
            active_user_ms = p.active_user_ms + EXCLUDED.active_user_ms,
            active_cli_ms = p.active_cli_ms + EXCLUDED.active_cli_ms,
            edits_accepted = p.edits_accepted + EXCLUDED.edits_accepted,
            edits_rejected = p.edits_rejected + EXCLUDED.edits_rejected;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO person_rollups AS p (grain, bucket, user_id,
        sessions, tool_executions, tool_failures, agent_invocations, api_requests, input_tokens,
        output_tokens, cache_creation_tokens, cache_read_tokens, cost_usd, lines_added,
        lines_removed, duration_count, duration_sum_ms, prompts, api_errors, commits,
        pull_requests, active_user_ms, active_cli_ms, edits_accepted, edits_rejected)
        SELECT grain, bucket, user_id,
           sum(sessions), sum(tool_executions), sum(tool_failures), sum(agent_invocations),
           sum(api_requests), sum(input_tokens), sum(output_tokens), sum(cache_creation_tokens),
           sum(cache_read_tokens), sum(cost_usd), sum(lines_added), sum(lines_removed),
           sum(duration_count), sum(duration_sum_ms), sum(prompts), sum(api_errors),
           sum(commits), sum(pull_requests), sum(active_user_ms), sum(active_cli_ms),
           sum(edits_accepted), sum(edits_rejected)
        FROM (SELECT grain, bucket, user_id,
                         sessions, tool_executions, tool_failures, agent_invocations,
                         api_requests, input_tokens, output_tokens, cache_creation_tokens,
                         cache_read_tokens, cost_usd, lines_added, lines_removed,
                         duration_count, duration_sum_ms, prompts, api_errors, commits,
                         pull_requests, active_user_ms, active_cli_ms, edits_accepted,
                         edits_rejected
                  FROM new_rows
                  UNION ALL
                  SELECT grain, bucket, user_id,
                         -sessions AS sessions, -tool_executions AS tool_executions,
                         -tool_failures AS tool_failures,
                         -agent_invocations AS agent_invocations, -api_requests AS api_requests,
                         -input_tokens AS input_tokens, -output_tokens AS output_tokens,
                         -cache_creation_tokens AS cache_creation_tokens,
                         -cache_read_tokens AS cache_read_tokens, -cost_usd AS cost_usd,
                         -lines_added AS lines_added, -lines_removed AS lines_removed,
                         -duration_count AS duration_count, -duration_sum_ms AS duration_sum_ms,
                         -prompts AS prompts, -api_errors AS api_errors, -commits AS commits,
                         -pull_requests AS pull_requests, -active_user_ms AS active_user_ms,
                         -active_cli_ms AS active_cli_ms, -edits_accepted AS edits_accepted,
                         -edits_rejected AS edits_rejected
                  FROM old_rows) d GROUP BY grain, bucket, user_id ORDER BY grain, bucket, user_id
        ON CONFLICT (grain, bucket, user_id) DO UPDATE SET
            sessions = p.sessions + EXCLUDED.sessions,
            tool_executions = p.tool_executions + EXCLUDED.tool_executions,
            tool_failures = p.tool_failures + EXCLUDED.tool_failures,
            agent_invocations = p.agent_invocations + EXCLUDED.agent_invocations,
            api_requests = p.api_requests + EXCLUDED.api_requests,
            input_tokens = p.input_tokens + EXCLUDED.input_tokens,
            output_tokens = p.output_tokens + EXCLUDED.output_tokens,
            cache_creation_tokens = p.cache_creation_tokens + EXCLUDED.cache_creation_tokens,
            cache_read_tokens = p.cache_read_tokens + EXCLUDED.cache_read_tokens,
            cost_usd = p.cost_usd + EXCLUDED.cost_usd,
            lines_added = p.lines_added + EXCLUDED.lines_added,
            lines_removed = p.lines_removed + EXCLUDED.lines_removed,
            duration_count = p.duration_count + EXCLUDED.duration_count,
            duration_sum_ms = p.duration_sum_ms + EXCLUDED.duration_sum_ms,
            prompts = p.prompts + EXCLUDED.prompts,
            api_errors = p.api_errors + EXCLUDED.api_errors,
            commits = p.commits + EXCLUDED.commits,
            pull_requests = p.pull_requests + EXCLUDED.pull_requests,
            active_user_ms = p.active_user_ms + EXCLUDED.active_user_ms,
            active_cli_ms = p.active_cli_ms + EXCLUDED.active_cli_ms,
            edits_accepted = p.edits_accepted + EXCLUDED.edits_accepted,
            edits_rejected = p.edits_rejected + EXCLUDED.edits_rejected;
    ELSE
        INSERT INTO person_rollups AS p (grain, bucket, user_id,
        sessions, tool_executions, tool_failures, agent_invocations, api_requests, input_tokens,
        output_tokens, cache_creation_tokens, cache_read_tokens, cost_usd, lines_added,
        lines_removed, duration_count, duration_sum_ms, prompts, api_errors, commits,
        pull_requests, active_user_ms, active_cli_ms, edits_accepted, edits_rejected)
        SELECT grain, bucket, user_id,
           sum(sessions), sum(tool_executions), sum(tool_failures), sum(agent_invocations),
           sum(api_requests), sum(input_tokens), sum(output_tokens), sum(cache_creation_tokens),
           sum(cache_read_tokens), sum(cost_usd), sum(lines_added), sum(lines_removed),
           sum(duration_count), sum(duration_sum_ms), sum(prompts), sum(api_errors),
           sum(commits), sum(pull_requests), sum(active_user_ms), sum(active_cli_ms),
           sum(edits_accepted), sum(edits_rejected)
        FROM (SELECT grain, bucket, user_id,
                         -sessions AS sessions, -tool_executions AS tool_executions,
                         -tool_failures AS tool_failures,
                         -agent_invocations AS agent_invocations, -api_requests AS api_requests,
                         -input_tokens AS input_tokens, -output_tokens AS output_tokens,
                         -cache_creation_tokens AS cache_creation_tokens,
                         -cache_read_tokens AS cache_read_tokens, -cost_usd AS cost_usd,
                         -lines_added AS lines_added, -lines_removed AS lines_removed,
                         -duration_count AS duration_count, -duration_sum_ms AS duration_sum_ms,
                         -prompts AS prompts, -api_errors AS api_errors, -commits AS commits,
                         -pull_requests AS pull_requests, -active_user_ms AS active_user_ms,
                         -active_cli_ms AS active_cli_ms, -edits_accepted AS edits_accepted,
                         -edits_rejected AS edits_rejected
                  FROM old_rows) d GROUP BY grain, bucket, user_id ORDER BY grain, bucket, user_id
        ON CONFLICT (grain, bucket, user_id) DO UPDATE SET
            sessions = p.sessions + EXCLUDED.sessions,
            tool_executions = p.tool_executions + EXCLUDED.tool_executions,
            tool_failures = p.tool_failures + EXCLUDED.tool_failures,
            agent_invocations = p.agent_invocations + EXCLUDED.agent_invocations,
            api_requests = p.api_requests + EXCLUDED.api_requests,
            input_tokens = p.input_tokens + EXCLUDED.input_tokens,
            output_tokens = p.output_tokens + EXCLUDED.output_tokens,
            cache_creation_tokens = p.cache_creation_tokens + EXCLUDED.cache_creation_tokens,
            cache_read_tokens = p.cache_read_tokens + EXCLUDED.cache_read_tokens,
            cost_usd = p.cost_usd + EXCLUDED.cost_usd,
            lines_added = p.lines_added + EXCLUDED.lines_added,
            lines_removed = p.lines_removed + EXCLUDED.lines_removed,
            duration_count = p.duration_count + EXCLUDED.duration_count,
            duration_sum_ms = p.duration_sum_ms + EXCLUDED.duration_sum_ms,
            prompts = p.prompts + EXCLUDED.prompts,
            api_errors = p.api_errors + EXCLUDED.api_errors,
            commits = p.commits + EXCLUDED.commits,
            pull_requests = p.pull_requests + EXCLUDED.pull_requests,
            active_user_ms = p.active_user_ms + EXCLUDED.active_user_ms,
            active_cli_ms = p.active_cli_ms + EXCLUDED.active_cli_ms,
            edits_accepted = p.edits_accepted + EXCLUDED.edits_accepted,
            edits_rejected = p.edits_rejected + EXCLUDED.edits_rejected;
        DELETE FROM person_rollups p
        USING (SELECT DISTINCT grain, bucket, user_id FROM old_rows) o
        WHERE p.grain = o.grain AND p.bucket = o.bucket AND p.user_id = o.user_id
          AND NOT EXISTS (SELECT 1 FROM rollups r
                          WHERE r.grain = o.grain AND r.bucket = o.bucket
                            AND r.user_id = o.user_id);
    END IF;
    RETURN NULL;
END
$$;

-- (A trigger with transition tables has one event.) Creating them locks the rollups against
-- writes until the migration commits, so the sums below miss no write.
CREATE TRIGGER person_rollups_on_insert AFTER INSERT ON rollups
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION person_rollups_follow();
CREATE TRIGGER person_rollups_on_update AFTER UPDATE ON rollups
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION person_rollups_follow();
CREATE TRIGGER person_rollups_on_delete AFTER DELETE ON rollups
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION person_rollups_follow();

INSERT INTO person_rollups
SELECT grain, bucket, user_id,
       sum(sessions), sum(tool_executions), sum(tool_failures), sum(agent_invocations),
       sum(api_requests), sum(input_tokens), sum(output_tokens), sum(cache_creation_tokens),
       sum(cache_read_tokens), sum(cost_usd), sum(lines_added), sum(lines_removed),
       sum(duration_count), sum(duration_sum_ms), sum(prompts), sum(api_errors), sum(commits),
       sum(pull_requests), sum(active_user_ms), sum(active_cli_ms), sum(edits_accepted),
       sum(edits_rejected)
FROM rollups
GROUP BY grain, bucket, user_id;

-- What the dashboard's reads select from: the per-person rows (`per_person`, tool and model
-- '') or the split ones, never both (every read names which). Asked with `per_person = $n`,
-- PostgreSQL plans only the branch asked for. It reads the two tables of its own schema.
CREATE VIEW rollup_rows AS
SELECT grain, bucket, user_id, ''::text AS tool, ''::text AS model, true AS per_person,
       sessions, tool_executions, tool_failures, agent_invocations, api_requests, input_tokens,
       output_tokens, cache_creation_tokens, cache_read_tokens, cost_usd, lines_added,
       lines_removed, duration_count, duration_sum_ms, prompts, api_errors, commits,
       pull_requests, active_user_ms, active_cli_ms, edits_accepted, edits_rejected
FROM person_rollups
UNION ALL
SELECT grain, bucket, user_id, tool, model, false,
       sessions, tool_executions, tool_failures, agent_invocations, api_requests, input_tokens,
       output_tokens, cache_creation_tokens, cache_read_tokens, cost_usd, lines_added,
       lines_removed, duration_count, duration_sum_ms, prompts, api_errors, commits,
       pull_requests, active_user_ms, active_cli_ms, edits_accepted, edits_rejected
FROM rollups;

-- Only the triggers above change the sums. The previous release's erasure deletes a person's
-- rows from every table with a user_id that it does not know to keep, which would take these
-- away while their rollups stay; refused, its job fails and runs again on this release.
CREATE FUNCTION person_rollups_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'person_rollups follow the rollups; change those instead'
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER person_rollups_only_by_rollups
    BEFORE INSERT OR UPDATE OR DELETE ON person_rollups
    FOR EACH STATEMENT WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION person_rollups_refuse();
