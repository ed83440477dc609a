-- What Claude Code did: raw events (append-only, partitioned by month), the things they
-- describe (sessions, tool runs, API requests) each counted once whatever reported them, and
-- rollups by minute, hour and day that dashboards read instead of raw events.

-- Every accepted item as it came, keyed so that sending it again changes nothing.
CREATE TABLE events (
    occurred_at           timestamptz NOT NULL,
    -- The source's own id where it has one (`pre:<tool_use_id>`, `req:<request_id>`, ...),
    -- else a hash of the content.
    key                   text NOT NULL,
    kind                  text NOT NULL,
    source                text NOT NULL CHECK (source IN ('hook', 'otlp', 'api', 'mcp', 'import')),
    session_id            text,
    user_id               uuid NOT NULL,
    tool                  text,
    model                 text,
    success               boolean,
    duration_ms           bigint,
    input_tokens          bigint,
    output_tokens         bigint,
    cache_creation_tokens bigint,
    cache_read_tokens     bigint,
    cost_usd              numeric(20, 10),
    lines_added           bigint,
    lines_removed         bigint,
    received_at           timestamptz NOT NULL DEFAULT now(),
    import_batch          uuid,
    attrs                 jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (key, occurred_at)
) PARTITION BY RANGE (occurred_at);

-- Anything outside the partitions the server creates ahead of time (very old imports, clocks
-- far off) lands here rather than failing.
CREATE TABLE events_default PARTITION OF events DEFAULT;
CREATE INDEX events_session ON events (session_id, occurred_at);
CREATE INDEX events_user_time ON events (user_id, occurred_at);
CREATE INDEX events_batch ON events (import_batch) WHERE import_batch IS NOT NULL;

CREATE TABLE sessions (
    id                    text PRIMARY KEY,
    user_id               uuid NOT NULL,
    project               text,
    cwd                   text,
    git_branch            text,
    model                 text,
    start_source          text,
    started_at            timestamptz NOT NULL,
    last_seen_at          timestamptz NOT NULL,
    ended_at              timestamptz,
    end_reason            text,
    tool_executions       bigint NOT NULL DEFAULT 0,
    tool_failures         bigint NOT NULL DEFAULT 0,
    api_requests          bigint NOT NULL DEFAULT 0,
    input_tokens          bigint NOT NULL DEFAULT 0,
    output_tokens         bigint NOT NULL DEFAULT 0,
    cache_creation_tokens bigint NOT NULL DEFAULT 0,
    cache_read_tokens     bigint NOT NULL DEFAULT 0,
    cost_usd              numeric(20, 10) NOT NULL DEFAULT 0,
    lines_added           bigint NOT NULL DEFAULT 0,
    lines_removed         bigint NOT NULL DEFAULT 0,
    -- Once a session sends api_request events, its token and cost counters are ignored:
    -- both report the same requests.
    usage_from_events     boolean NOT NULL DEFAULT false
);
CREATE INDEX sessions_user_started ON sessions (user_id, started_at DESC);

-- One row per tool execution, whichever of PreToolUse, PostToolUse(Failure) and the OTLP
-- tool_result reported it.
CREATE TABLE tool_runs (
    tool_use_id  text PRIMARY KEY,
    session_id   text,
    user_id      uuid NOT NULL,
    tool         text NOT NULL,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    success      boolean,
    duration_ms  bigint
);

-- One row per API request (OTLP api_request events, REST, imports).
CREATE TABLE api_requests (
    request_id            text PRIMARY KEY,
    session_id            text,
    user_id               uuid NOT NULL,
    model                 text NOT NULL,
    at                    timestamptz NOT NULL
);

-- Token and cost counters (OTLP metrics) per session, minute and model, kept so they can be
-- taken out of the rollups if the session turns out to send api_request events too.
CREATE TABLE counter_usage (
    session_id            text NOT NULL,
    bucket                timestamptz NOT NULL,
    model                 text NOT NULL,
    user_id               uuid NOT NULL,
    input_tokens          bigint NOT NULL DEFAULT 0,
    output_tokens         bigint NOT NULL DEFAULT 0,
    cache_creation_tokens bigint NOT NULL DEFAULT 0,
    cache_read_tokens     bigint NOT NULL DEFAULT 0,
    cost_usd              numeric(20, 10) NOT NULL DEFAULT 0,
    PRIMARY KEY (session_id, bucket, model)
);

-- The last value of each cumulative OTLP series, to turn cumulative sums into deltas.
CREATE TABLE metric_series (
    series_key  text PRIMARY KEY,
    start_at    timestamptz NOT NULL,
    last_at     timestamptz NOT NULL,
    last_value  double precision NOT NULL
);

-- Dashboards read these. `grain` is m(inute), h(our) or d(ay); tool and model are '' where
-- they do not apply (a session has no tool, a tool run no model).
CREATE TABLE rollups (
    grain                 "char" NOT NULL CHECK (grain IN ('m', 'h', 'd')),
    bucket                timestamptz NOT NULL,
    user_id               uuid NOT NULL,
    tool                  text NOT NULL DEFAULT '',
    model                 text NOT NULL DEFAULT '',
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
    -- Log-scale histogram of tool durations (bucket i holds [2^(i-1), 2^i) ms) for percentiles;
    -- histograms add element-wise, so they merge across buckets and users.
    duration_hist         bigint[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (grain, bucket, user_id, tool, model)
);
CREATE INDEX rollups_time ON rollups (grain, bucket);

CREATE FUNCTION hist_add(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(array_agg(coalesce(x, 0) + coalesce(y, 0) ORDER BY i), '{}')
    FROM unnest(a, b) WITH ORDINALITY AS t(x, y, i)
$$;

-- Idempotency-Key of batch requests: the same key with the same body replays the answer; with
-- another body it is refused; while the first is in flight, a second waits its turn (409).
CREATE TABLE idempotency_keys (
    key          text PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 200),
    request_hash bytea NOT NULL,
    status       smallint,
    response     jsonb,
    created_at   timestamptz NOT NULL DEFAULT now()
);
