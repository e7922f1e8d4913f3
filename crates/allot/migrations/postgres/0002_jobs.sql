-- jobs: tasks, their executions and the counters the counter kind increments.

CREATE TABLE tasks (
    id                   uuid PRIMARY KEY,
    name                 text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind                 text NOT NULL CHECK (kind IN ('sleep', 'counter', 'http', 'webhook')),
    params               jsonb NOT NULL,
    schedule             jsonb NOT NULL,         -- as the API shows it, e.g. {"every": "30s", "start_at": ...}
    timeout_ms           bigint NOT NULL CHECK (timeout_ms > 0),
    overlap              text NOT NULL CHECK (overlap IN ('skip', 'queue_one')),
    misfire              text NOT NULL CHECK (misfire IN ('run_once', 'skip', 'run_all')),
    state                text NOT NULL CHECK (state IN ('active', 'paused', 'completed')),
    next_run_at          timestamptz,            -- next schedule time not yet handled
    queued_for           timestamptz,            -- a run waiting for the current one (overlap queue_one)
    backlog_until        timestamptz,            -- misfire run_all: times up to here still to run
    claim_at             timestamptz,            -- when a scheduler should look at the task; NULL = not now
    running_execution_id uuid,                   -- at most one run at a time
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    deleted_at           timestamptz             -- deleted tasks stay for their history
);

-- The scheduler's only hot query: tasks whose claim time has come.
CREATE INDEX tasks_claim_at ON tasks (claim_at) WHERE claim_at IS NOT NULL;

CREATE TABLE executions (
    id            uuid PRIMARY KEY,
    task_id       uuid NOT NULL REFERENCES tasks (id),
    scheduled_for timestamptz NOT NULL,
    trigger       text NOT NULL CHECK (trigger IN ('schedule', 'manual')),
    status        text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'timed_out', 'skipped', 'interrupted')),
    started_at    timestamptz,
    finished_at   timestamptz,
    output        jsonb,
    error         text,
    attempt       integer NOT NULL DEFAULT 1,
    node_id       uuid,                          -- the node that ran (or runs) it
    -- Exactly one execution per task and scheduled time, whatever the number
    -- of replicas and crashes.
    CONSTRAINT executions_once UNIQUE (task_id, scheduled_for)
);

CREATE INDEX executions_newest ON executions (scheduled_for DESC, id DESC);
CREATE INDEX executions_running ON executions (node_id) WHERE status = 'running';

CREATE TABLE counters (
    name  text PRIMARY KEY,
    value bigint NOT NULL
);
