-- booking: systems with capabilities and a capacity, entries occupying
-- half-open spans [start_at, end_at) on them, outages, and the event feed.

CREATE TABLE booking_systems (
    id             uuid PRIMARY KEY,
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    capabilities   text[] NOT NULL,
    capacity       integer NOT NULL CHECK (capacity >= 1),
    timezone       text,
    -- The longest span any entry on this system has had, in microseconds.
    -- Overlap searches read entries starting in [from - this, to) only, so
    -- they walk an index range instead of the system's whole history.
    max_entry_us   bigint NOT NULL DEFAULT 0,
    version        bigint NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);

CREATE TABLE booking_entries (
    id           uuid PRIMARY KEY,
    system_id    uuid NOT NULL REFERENCES booking_systems (id) ON DELETE CASCADE,
    start_at     timestamptz NOT NULL,
    end_at       timestamptz NOT NULL,
    capabilities text[] NOT NULL,
    label        text NOT NULL DEFAULT '',
    metadata     jsonb NOT NULL DEFAULT '{}',
    status       text NOT NULL CHECK (status IN ('active', 'evicted', 'deleted')),
    version      bigint NOT NULL DEFAULT 1,
    evicted_by   uuid,
    evicted_at   timestamptz,
    evict_reason text,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    CHECK (end_at > start_at)
);

CREATE INDEX booking_entries_active ON booking_entries (system_id, start_at) WHERE status = 'active';
CREATE INDEX booking_entries_by_start ON booking_entries (system_id, start_at, id);

CREATE TABLE booking_outages (
    id             uuid PRIMARY KEY,
    system_id      uuid NOT NULL REFERENCES booking_systems (id) ON DELETE CASCADE,
    kind           text NOT NULL CHECK (kind IN ('planned', 'unplanned')),
    -- NULL: the whole system is out; otherwise only these capabilities.
    capabilities   text[],
    start_at       timestamptz NOT NULL,
    -- planned: when it ends; unplanned: set when resolved.
    end_at         timestamptz,
    expected_end   timestamptz,
    window_seconds bigint,
    reason         text NOT NULL DEFAULT '',
    resolved_at    timestamptz,
    version        bigint NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    CHECK ((kind = 'planned' AND end_at IS NOT NULL AND end_at > start_at AND window_seconds IS NULL)
        OR (kind = 'unplanned' AND window_seconds > 0))
);

CREATE INDEX booking_outages_system ON booking_outages (system_id, start_at);
CREATE INDEX booking_outages_open_unplanned ON booking_outages (system_id)
    WHERE kind = 'unplanned' AND resolved_at IS NULL;

-- The durable feed behind GET /v1/booking/events. Readers page by
-- (txid, seq) and only see rows of transactions older than every running
-- one, so a row committed late can never appear behind a cursor already
-- handed out (a plain serial can: numbers are taken before commit).
CREATE TABLE booking_events (
    seq        bigserial PRIMARY KEY,
    txid       bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    kind       text NOT NULL,
    system_id  uuid NOT NULL,
    entry_id   uuid,
    outage_id  uuid,
    at         timestamptz NOT NULL,
    data       jsonb NOT NULL
);

CREATE INDEX booking_events_order ON booking_events (txid, seq);
