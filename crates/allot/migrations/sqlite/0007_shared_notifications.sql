-- notifications: the calendar's notification feed becomes the feed of
-- every module. Rows carry the module that wrote them and the exam they
-- concern (provisioning), and need not concern a calendar.
--
-- SQLite cannot drop a NOT NULL, so the table is rebuilt, in this
-- migration's transaction and with foreign keys enforced. Nothing may
-- reference the old table when it is dropped (the implicit DELETE of a
-- DROP would cascade into calendar_deliveries), so the deliveries are
-- copied aside, dropped, and recreated afterwards referencing the new
-- table. Rows keep their seq, txid and id, so cursors handed out before
-- stay valid; the AUTOINCREMENT counter carries over, so no seq is reused.

CREATE TABLE calendar_deliveries_copy AS SELECT * FROM calendar_deliveries;
DROP TABLE calendar_deliveries;

CREATE TABLE notifications (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    txid        INTEGER NOT NULL DEFAULT 0,
    id          TEXT NOT NULL UNIQUE,
    module      TEXT NOT NULL DEFAULT 'calendar',
    calendar_id TEXT,
    event_id    TEXT,
    exam_id     TEXT,
    kind        TEXT NOT NULL,
    at          TEXT NOT NULL,
    data        TEXT NOT NULL
);

INSERT INTO notifications (seq, txid, id, module, calendar_id, event_id, exam_id, kind, at, data)
SELECT seq, txid, id, 'calendar', calendar_id, event_id, NULL, kind, at, data
FROM calendar_notifications ORDER BY seq;

-- The counter of the old table (above every seq it ever gave out, also
-- those of rows since deleted), unless the copied rows went further.
DELETE FROM sqlite_sequence WHERE name = 'notifications';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'notifications', top FROM (
    SELECT max(s) AS top FROM (
        SELECT seq AS s FROM sqlite_sequence WHERE name = 'calendar_notifications'
        UNION ALL
        SELECT max(seq) AS s FROM notifications
    )
) WHERE top IS NOT NULL;

DROP TABLE calendar_notifications;

CREATE INDEX notifications_order ON notifications (txid, seq);
-- Reads of one exam's notifications, in feed order.
CREATE INDEX notifications_by_exam ON notifications (exam_id, txid, seq) WHERE exam_id IS NOT NULL;

-- As in 0005_calendar, referencing the new table.
CREATE TABLE calendar_deliveries (
    notification_id TEXT PRIMARY KEY REFERENCES notifications (id) ON DELETE CASCADE,
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

INSERT INTO calendar_deliveries (notification_id, calendar_id, url, state, attempts,
    next_attempt_at, last_status, last_error, delivered_at, created_at)
SELECT notification_id, calendar_id, url, state, attempts,
    next_attempt_at, last_status, last_error, delivered_at, created_at
FROM calendar_deliveries_copy;

DROP TABLE calendar_deliveries_copy;
