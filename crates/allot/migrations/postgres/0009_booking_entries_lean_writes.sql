-- Entries are written only under their system's row lock (SELECT ... FOR
-- UPDATE in the same transaction), and a system is deleted only under that
-- lock, together with its entries. The foreign key's check on every
-- inserted entry (a FOR KEY SHARE lookup of the system row the transaction
-- already holds) repeated what the lock ensures, and was a third of the
-- database's CPU on the insert path. SQLite keeps its foreign key: there
-- the check is an in-process index lookup.
ALTER TABLE booking_entries DROP CONSTRAINT booking_entries_system_id_fkey;

-- The overlap reads (booking's batch check, calendar's busy spans) want
-- (start, end, status) of the entries of a system in a start range. With
-- end_at and status in the index, a calendar's read of ten busy days is an
-- index-only scan where the table is vacuumed (half the time of visiting a
-- heap page per entry). Still one index on (system_id, start_at): a second
-- one made every insert write two random index pages (migration 0004).
CREATE INDEX booking_entries_spans ON booking_entries (system_id, start_at, id) INCLUDE (end_at, status);
DROP INDEX booking_entries_by_start;
