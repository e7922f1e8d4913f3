-- booking: systems with capabilities and a capacity, entries occupying
-- half-open spans [start_at, end_at) on them, outages, and the event feed.
-- Times are fixed-width UTC text; capability sets are JSON arrays.

CREATE TABLE booking_systems (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    capabilities   TEXT NOT NULL,
    capacity       INTEGER NOT NULL CHECK (capacity >= 1),
    timezone       TEXT,
    -- The longest span any entry on this system has had, in microseconds;
    -- bounds the index range an overlap search reads.
    max_entry_us   INTEGER NOT NULL DEFAULT 0,
    version        INTEGER NOT NULL DEFAULT 1,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

CREATE TABLE booking_entries (
    id           TEXT PRIMARY KEY,
    system_id    TEXT NOT NULL REFERENCES booking_systems (id) ON DELETE CASCADE,
    start_at     TEXT NOT NULL,
    end_at       TEXT NOT NULL,
    capabilities TEXT NOT NULL,
    label        TEXT NOT NULL DEFAULT '',
    metadata     TEXT NOT NULL DEFAULT '{}',
    status       TEXT NOT NULL CHECK (status IN ('active', 'evicted', 'deleted')),
    version      INTEGER NOT NULL DEFAULT 1,
    evicted_by   TEXT,
    evicted_at   TEXT,
    evict_reason TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    CHECK (end_at > start_at)
);

CREATE INDEX booking_entries_active ON booking_entries (system_id, start_at) WHERE status = 'active';
CREATE INDEX booking_entries_by_start ON booking_entries (system_id, start_at, id);

CREATE TABLE booking_outages (
    id             TEXT PRIMARY KEY,
    system_id      TEXT NOT NULL REFERENCES booking_systems (id) ON DELETE CASCADE,
    kind           TEXT NOT NULL CHECK (kind IN ('planned', 'unplanned')),
    capabilities   TEXT,
    start_at       TEXT NOT NULL,
    end_at         TEXT,
    expected_end   TEXT,
    window_seconds INTEGER,
    reason         TEXT NOT NULL DEFAULT '',
    resolved_at    TEXT,
    version        INTEGER NOT NULL DEFAULT 1,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    CHECK ((kind = 'planned' AND end_at IS NOT NULL AND end_at > start_at AND window_seconds IS NULL)
        OR (kind = 'unplanned' AND window_seconds > 0))
);

CREATE INDEX booking_outages_system ON booking_outages (system_id, start_at);

-- SQLite has one writer, so rows commit in seq order; txid is always 0 and
-- exists so that readers page by (txid, seq) on both backends.
CREATE TABLE booking_events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    txid       INTEGER NOT NULL DEFAULT 0,
    kind       TEXT NOT NULL,
    system_id  TEXT NOT NULL,
    entry_id   TEXT,
    outage_id  TEXT,
    at         TEXT NOT NULL,
    data       TEXT NOT NULL
);
