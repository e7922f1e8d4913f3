-- provisioning: the exams VMs are provisioned for, one row per exam.
--
-- Other applications write this table directly, so every rule the service
-- relies on is a constraint here, and the text forms are fixed:
--
-- - id: a lowercase hyphenated UUID; leave it out and a random (version 4)
--   one is made.
-- - start_at, end_at: UTC with exactly six fractional digits and a Z,
--   2030-06-03T08:00:00.000000Z (as every time in allot's SQLite schema).
--   The fixed width makes text order time order, which end_at > start_at,
--   listing and paging rely on. A text of the right shape that is no time
--   (2030-02-30T...) is accepted here but cannot be read: allot skips such
--   a row and logs it.
-- - students: an integer, at least 1.

CREATE TABLE exams (
    id       TEXT PRIMARY KEY NOT NULL DEFAULT (lower(
                 hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' ||
                 substr(hex(randomblob(2)), 2) || '-' ||
                 substr('89ab', 1 + (random() & 3), 1) || substr(hex(randomblob(2)), 2) || '-' ||
                 hex(randomblob(6)))),
    name     TEXT NOT NULL CHECK (typeof(name) = 'text'),
    start_at TEXT NOT NULL,
    end_at   TEXT NOT NULL,
    students INTEGER NOT NULL CHECK (typeof(students) = 'integer'),
    CHECK (id GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]'),
    CHECK (start_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    CHECK (end_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    CHECK (end_at > start_at),
    CHECK (students >= 1)
);

CREATE INDEX exams_by_start ON exams (start_at, id);
