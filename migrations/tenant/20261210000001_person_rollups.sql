-- The rollups once more, per person only: no tool or model split, no duration histogram.
-- A person's day holds about eight rollup rows (one per tool and per model they used); the
-- dashboard's overview, heatmap, trends and per-person or per-team breakdowns ask none of
-- those splits, and summing twenty counters over every split row was most of a month's
-- overview (22,000 day rows for 50 people over two periods; 1,900 here). Written in the
-- same statement as the rollups (see `store::events::deltas`), so the two always agree; a
-- read that filters by tool or model, or splits by them, reads the rollups.
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

INSERT INTO person_rollups
SELECT grain, bucket, user_id, sum(sessions), sum(tool_executions), sum(tool_failures),
       sum(agent_invocations), sum(api_requests), sum(input_tokens), sum(output_tokens),
       sum(cache_creation_tokens), sum(cache_read_tokens), sum(cost_usd), sum(lines_added),
       sum(lines_removed), sum(duration_count), sum(duration_sum_ms), sum(prompts),
       sum(api_errors), sum(commits), sum(pull_requests), sum(active_user_ms),
       sum(active_cli_ms), sum(edits_accepted), sum(edits_rejected)
FROM rollups
GROUP BY grain, bucket, user_id;

-- What the dashboard's reads select from: the per-person rows (`per_person`, tool and model
-- '') or the split ones, never both (every read names which). Asked with `per_person = $n`,
-- PostgreSQL plans only the branch asked for. It reads the two tables of its own schema.
CREATE VIEW rollup_rows AS
SELECT grain, bucket, user_id, ''::text AS tool, ''::text AS model, true AS per_person,
       sessions, tool_executions, tool_failures, agent_invocations, api_requests,
       input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens, cost_usd,
       lines_added, lines_removed, duration_count, duration_sum_ms, prompts, api_errors,
       commits, pull_requests, active_user_ms, active_cli_ms, edits_accepted, edits_rejected
FROM person_rollups
UNION ALL
SELECT grain, bucket, user_id, tool, model, false,
       sessions, tool_executions, tool_failures, agent_invocations, api_requests,
       input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens, cost_usd,
       lines_added, lines_removed, duration_count, duration_sum_ms, prompts, api_errors,
       commits, pull_requests, active_user_ms, active_cli_ms, edits_accepted, edits_rejected
FROM rollups;
