-- jobs: tasks, their executions and the counters the counter kind increments.

CREATE TABLE tasks (
    id                   TEXT PRIMARY KEY,
    name                 TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind                 TEXT NOT NULL CHECK (kind IN ('sleep', 'counter', 'http', 'webhook')),
    params               TEXT NOT NULL,
    schedule             TEXT NOT NULL,
    timeout_ms           INTEGER NOT NULL CHECK (timeout_ms > 0),
    overlap              TEXT NOT NULL CHECK (overlap IN ('skip', 'queue_one')),
    misfire              TEXT NOT NULL CHECK (misfire IN ('run_once', 'skip', 'run_all')),
    state                TEXT NOT NULL CHECK (state IN ('active', 'paused', 'completed')),
    next_run_at          TEXT,
    queued_for           TEXT,
    backlog_until        TEXT,
    claim_at             TEXT,
    running_execution_id TEXT,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    deleted_at           TEXT
);

CREATE INDEX tasks_claim_at ON tasks (claim_at) WHERE claim_at IS NOT NULL;

CREATE TABLE executions (
    id            TEXT PRIMARY KEY,
    task_id       TEXT NOT NULL REFERENCES tasks (id),
    scheduled_for TEXT NOT NULL,
    trigger       TEXT NOT NULL CHECK (trigger IN ('schedule', 'manual')),
    status        TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'timed_out', 'skipped', 'interrupted')),
    started_at    TEXT,
    finished_at   TEXT,
    output        TEXT,
    error         TEXT,
    attempt       INTEGER NOT NULL DEFAULT 1,
    node_id       TEXT,
    CONSTRAINT executions_once UNIQUE (task_id, scheduled_for)
);

CREATE INDEX executions_newest ON executions (scheduled_for DESC, id DESC);
CREATE INDEX executions_running ON executions (node_id) WHERE status = 'running';

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
