-- Platform tables shared by every module: API tokens, the nodes (server
-- processes) that hold work, and named leader leases for singletons.
-- Times are UTC RFC 3339 text with microseconds (sortable), ids are UUID text.

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    token_hash   TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,                  -- JSON array of scope names
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);

CREATE TABLE nodes (
    id           TEXT PRIMARY KEY,
    hostname     TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    started_at   TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    stopped_at   TEXT
);

CREATE TABLE leader_leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
