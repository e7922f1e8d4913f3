-- Platform tables shared by every module: API tokens, the nodes (server
-- processes) that hold work, and named leader leases for singletons.

CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    token_hash   text NOT NULL UNIQUE,          -- sha256 hex of the secret; the secret is never stored
    scopes       text[] NOT NULL,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz
);

-- One row per running `allot serve`. Work a node holds (running executions)
-- is considered lost when the node's lease expires.
CREATE TABLE nodes (
    id           uuid PRIMARY KEY,
    hostname     text NOT NULL,
    pid          integer NOT NULL,
    started_at   timestamptz NOT NULL,
    heartbeat_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    stopped_at   timestamptz
);

CREATE TABLE leader_leases (
    name       text PRIMARY KEY,
    holder     uuid NOT NULL,
    expires_at timestamptz NOT NULL
);
