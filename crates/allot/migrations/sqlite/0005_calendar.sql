-- calendar: a calendar is a booking system of capacity 1 (same id) with an
-- owner, a time zone and working hours; an event holds one booking entry on
-- its own calendar and on each participant calendar (calendar_holds), so
-- the booking engine's locks, capacity check and outages apply unchanged.
-- Times are fixed-width UTC text; lists are JSON arrays.

CREATE TABLE calendars (
    id                 TEXT PRIMARY KEY REFERENCES booking_systems (id) ON DELETE CASCADE,
    owner              TEXT NOT NULL CHECK (length(owner) BETWEEN 1 AND 200),
    timezone           TEXT NOT NULL,
    working_hours      TEXT NOT NULL,
    horizon_days       INTEGER CHECK (horizon_days >= 1),
    slot_granularity_s INTEGER NOT NULL CHECK (slot_granularity_s >= 1),
    webhook_url        TEXT,
    webhook_secret     TEXT,
    version            INTEGER NOT NULL DEFAULT 1,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);

CREATE TABLE calendar_events (
    id                    TEXT PRIMARY KEY,
    calendar_id           TEXT NOT NULL REFERENCES calendars (id) ON DELETE CASCADE,
    name                  TEXT NOT NULL,
    -- The requested local date and, for explicit events, local start time.
    date                  TEXT NOT NULL,
    start_time            TEXT,
    duration_us           INTEGER NOT NULL CHECK (duration_us > 0),
    search_days           INTEGER NOT NULL DEFAULT 0,
    -- Where the event is; NULL while unplaced.
    start_at              TEXT,
    end_at                TEXT,
    attendees             TEXT NOT NULL,
    location              TEXT NOT NULL DEFAULT '',
    placement             TEXT NOT NULL CHECK (placement IN ('explicit', 'auto')),
    state                 TEXT NOT NULL CHECK (state IN ('scheduled', 'cancelled', 'unplaced')),
    outside_working_hours INTEGER NOT NULL DEFAULT 0,
    version               INTEGER NOT NULL DEFAULT 1,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL,
    CHECK ((start_at IS NULL) = (end_at IS NULL)),
    CHECK (state <> 'scheduled' OR start_at IS NOT NULL)
);

CREATE INDEX calendar_events_by_start ON calendar_events (calendar_id, start_at);

-- The booking entries an event holds: one on its own calendar and one on
-- each participant calendar per placement. Moving an event deletes its
-- entries and holds new ones; the rows stay, so any entry (an evicted one
-- too) can be traced back to its event.
CREATE TABLE calendar_holds (
    entry_id    TEXT PRIMARY KEY,
    event_id    TEXT NOT NULL REFERENCES calendar_events (id) ON DELETE CASCADE,
    calendar_id TEXT NOT NULL
);

CREATE INDEX calendar_holds_by_event ON calendar_holds (event_id);
CREATE INDEX calendar_holds_by_calendar ON calendar_holds (calendar_id, event_id);

-- The durable, ordered feed behind GET /v1/notifications (same paging rule
-- as booking_events: by (txid, seq); SQLite's single writer makes txid 0).
CREATE TABLE calendar_notifications (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    txid        INTEGER NOT NULL DEFAULT 0,
    id          TEXT NOT NULL UNIQUE,
    calendar_id TEXT NOT NULL,
    event_id    TEXT,
    kind        TEXT NOT NULL,
    at          TEXT NOT NULL,
    data        TEXT NOT NULL
);

CREATE INDEX calendar_notifications_order ON calendar_notifications (txid, seq);

-- One row per notification for a calendar with a webhook: written in the
-- same transaction as the notification, so none is lost; retried with
-- backoff until delivered.
CREATE TABLE calendar_deliveries (
    notification_id TEXT PRIMARY KEY REFERENCES calendar_notifications (id) ON DELETE CASCADE,
    calendar_id     TEXT NOT NULL,
    url             TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_status     INTEGER,
    last_error      TEXT,
    delivered_at    TEXT,
    created_at      TEXT NOT NULL
);

CREATE INDEX calendar_deliveries_due ON calendar_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX calendar_deliveries_by_calendar ON calendar_deliveries (calendar_id, created_at);

CREATE TABLE calendar_attachments (
    id           TEXT PRIMARY KEY,
    event_id     TEXT NOT NULL REFERENCES calendar_events (id) ON DELETE CASCADE,
    filename     TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    data         BLOB NOT NULL,
    created_at   TEXT NOT NULL
);

CREATE INDEX calendar_attachments_by_event ON calendar_attachments (event_id, created_at);
