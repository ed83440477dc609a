-- The rest of what Claude Code reports, each counted once like the rest: prompts (one per
-- prompt id, whether a hook, OTLP or both reported it), API errors, commits and pull
-- requests, active time (the user's and the CLI's), and accepted or rejected edits. Sessions
-- also keep where they were first reported from, their agent invocations and distinct
-- subagent types, their token and cost counters when they send no api_request events, and
-- the productivity score.

ALTER TABLE rollups
    ADD COLUMN prompts        bigint NOT NULL DEFAULT 0,
    ADD COLUMN api_errors     bigint NOT NULL DEFAULT 0,
    ADD COLUMN commits        bigint NOT NULL DEFAULT 0,
    ADD COLUMN pull_requests  bigint NOT NULL DEFAULT 0,
    ADD COLUMN active_user_ms bigint NOT NULL DEFAULT 0,
    ADD COLUMN active_cli_ms  bigint NOT NULL DEFAULT 0,
    ADD COLUMN edits_accepted bigint NOT NULL DEFAULT 0,
    ADD COLUMN edits_rejected bigint NOT NULL DEFAULT 0;

ALTER TABLE sessions
    -- hook, otlp, api, mcp or import: whichever reported the session first.
    ADD COLUMN source            text,
    ADD COLUMN agent_invocations bigint NOT NULL DEFAULT 0,
    -- Distinct subagent types its agent tools started (Task's `subagent_type`).
    ADD COLUMN agents            text[] NOT NULL DEFAULT '{}',
    ADD COLUMN prompts           bigint NOT NULL DEFAULT 0,
    ADD COLUMN api_errors        bigint NOT NULL DEFAULT 0,
    ADD COLUMN commits           bigint NOT NULL DEFAULT 0,
    ADD COLUMN pull_requests     bigint NOT NULL DEFAULT 0,
    ADD COLUMN active_user_ms    bigint NOT NULL DEFAULT 0,
    ADD COLUMN active_cli_ms     bigint NOT NULL DEFAULT 0,
    ADD COLUMN edits_accepted    bigint NOT NULL DEFAULT 0,
    ADD COLUMN edits_rejected    bigint NOT NULL DEFAULT 0;

-- Sessions from before this migration: their agent runs are in tool_runs.
UPDATE sessions s SET agent_invocations = (
    SELECT count(*) FROM tool_runs t WHERE t.session_id = s.id AND t.tool IN ('Task', 'Agent'));
UPDATE sessions SET source = 'import' WHERE import_batch IS NOT NULL;

-- The legacy hooks' score (0 to 10), from the session's own counters, so it is current
-- whenever they are: 2 x (velocity + output + success + focus + agents), where velocity is
-- tool executions per hour against a baseline of 15 (at most 2), output lines changed per
-- hour against 120 (at most 2), success the share of tool executions that succeeded, focus
-- the session's hours (at most 2) and agents a third of its distinct subagent types (at
-- most 2). The baselines are the legacy hooks' defaults.
ALTER TABLE sessions ADD COLUMN productivity_score double precision GENERATED ALWAYS AS (
    round(least(10, greatest(0, 2 * (
        CASE WHEN coalesce(ended_at, last_seen_at) > started_at
             THEN least(2, tool_executions
                           / (extract(epoch FROM coalesce(ended_at, last_seen_at) - started_at)
                              / 3600) / 15)
                + least(2, (lines_added + lines_removed)
                           / (extract(epoch FROM coalesce(ended_at, last_seen_at) - started_at)
                              / 3600) / 120)
                + least(2, extract(epoch FROM coalesce(ended_at, last_seen_at) - started_at)
                           / 3600)
             ELSE 0 END
        + CASE WHEN tool_executions > 0
               THEN greatest(0, tool_executions - tool_failures)::numeric / tool_executions
               ELSE 0 END
        + least(2, greatest(cardinality(agents), least(agent_invocations, 1)) / 3.0)
    ))), 1)::double precision
) STORED;

-- One row per prompt: keyed by its prompt id (hooks' `prompt_id`, OTLP's `prompt.id`), or by
-- the raw event's key for prompts that carry none.
CREATE TABLE prompts (
    prompt_id    text PRIMARY KEY,
    session_id   text,
    user_id      uuid NOT NULL,
    at           timestamptz NOT NULL,
    import_batch uuid
);
CREATE INDEX prompts_batch ON prompts (import_batch) WHERE import_batch IS NOT NULL;

-- The subagent type an agent run started, so a session's types can be recounted after a
-- rollback.
ALTER TABLE tool_runs ADD COLUMN agent text;

-- Sessions that count their usage from OTLP counters now carry it themselves.
UPDATE sessions s
SET input_tokens = s.input_tokens + c.i, output_tokens = s.output_tokens + c.o,
    cache_creation_tokens = s.cache_creation_tokens + c.cc,
    cache_read_tokens = s.cache_read_tokens + c.cr, cost_usd = s.cost_usd + c.c
FROM (SELECT session_id, sum(input_tokens) AS i, sum(output_tokens) AS o,
             sum(cache_creation_tokens) AS cc, sum(cache_read_tokens) AS cr, sum(cost_usd) AS c
      FROM counter_usage GROUP BY session_id) c
WHERE s.id = c.session_id AND NOT s.usage_from_events;
