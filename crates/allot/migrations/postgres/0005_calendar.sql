-- calendar: a calendar is a booking system of capacity 1 (same id) with an
-- owner, a time zone and working hours; an event holds one booking entry on
-- its own calendar and on each participant calendar (calendar_holds), so
-- the booking engine's locks, capacity check and outages apply unchanged.

CREATE TABLE calendars (
    id                 uuid PRIMARY KEY REFERENCES booking_systems (id) ON DELETE CASCADE,
    owner              text NOT NULL CHECK (length(owner) BETWEEN 1 AND 200),
    timezone           text NOT NULL,
    working_hours      jsonb NOT NULL,
    horizon_days       bigint CHECK (horizon_days >= 1),
    slot_granularity_s bigint NOT NULL CHECK (slot_granularity_s >= 1),
    webhook_url        text,
    webhook_secret     text,
    version            bigint NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);

CREATE TABLE calendar_events (
    id                    uuid PRIMARY KEY,
    calendar_id           uuid NOT NULL REFERENCES calendars (id) ON DELETE CASCADE,
    name                  text NOT NULL,
    -- The requested local date and, for explicit events, local start time.
    date                  text NOT NULL,
    start_time            text,
    duration_us           bigint NOT NULL CHECK (duration_us > 0),
    search_days           bigint NOT NULL DEFAULT 0,
    -- Where the event is; NULL while unplaced.
    start_at              timestamptz,
    end_at                timestamptz,
    attendees             text[] NOT NULL,
    location              text NOT NULL DEFAULT '',
    placement             text NOT NULL CHECK (placement IN ('explicit', 'auto')),
    state                 text NOT NULL CHECK (state IN ('scheduled', 'cancelled', 'unplaced')),
    outside_working_hours boolean NOT NULL DEFAULT false,
    version               bigint NOT NULL DEFAULT 1,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    CHECK ((start_at IS NULL) = (end_at IS NULL)),
    CHECK (state <> 'scheduled' OR start_at IS NOT NULL)
);

CREATE INDEX calendar_events_by_start ON calendar_events (calendar_id, start_at);

-- The booking entries an event holds: one on its own calendar and one on
-- each participant calendar per placement. Moving an event deletes its
-- entries and holds new ones; the rows stay, so any entry (an evicted one
-- too) can be traced back to its event.
CREATE TABLE calendar_holds (
    entry_id    uuid PRIMARY KEY,
    event_id    uuid NOT NULL REFERENCES calendar_events (id) ON DELETE CASCADE,
    calendar_id uuid NOT NULL
);

CREATE INDEX calendar_holds_by_event ON calendar_holds (event_id);
CREATE INDEX calendar_holds_by_calendar ON calendar_holds (calendar_id, event_id);

-- The durable, ordered feed behind GET /v1/notifications: same paging rule
-- as booking_events, by (txid, seq), reading only rows of transactions
-- older than every running one.
CREATE TABLE calendar_notifications (
    seq         bigserial PRIMARY KEY,
    txid        bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    id          uuid NOT NULL UNIQUE,
    calendar_id uuid NOT NULL,
    event_id    uuid,
    kind        text NOT NULL,
    at          timestamptz NOT NULL,
    data        jsonb NOT NULL
);

CREATE INDEX calendar_notifications_order ON calendar_notifications (txid, seq);

-- One row per notification for a calendar with a webhook: written in the
-- same transaction as the notification, so none is lost; retried with
-- backoff until delivered.
CREATE TABLE calendar_deliveries (
    notification_id uuid PRIMARY KEY REFERENCES calendar_notifications (id) ON DELETE CASCADE,
    calendar_id     uuid NOT NULL,
    url             text NOT NULL,
    state           text NOT NULL CHECK (state IN ('pending', 'delivered')),
    attempts        bigint NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_status     bigint,
    last_error      text,
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL
);

CREATE INDEX calendar_deliveries_due ON calendar_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX calendar_deliveries_by_calendar ON calendar_deliveries (calendar_id, created_at);

CREATE TABLE calendar_attachments (
    id           uuid PRIMARY KEY,
    event_id     uuid NOT NULL REFERENCES calendar_events (id) ON DELETE CASCADE,
    filename     text NOT NULL,
    content_type text NOT NULL,
    size         bigint NOT NULL,
    sha256       text NOT NULL,
    data         bytea NOT NULL,
    created_at   timestamptz NOT NULL
);

CREATE INDEX calendar_attachments_by_event ON calendar_attachments (event_id, created_at);
