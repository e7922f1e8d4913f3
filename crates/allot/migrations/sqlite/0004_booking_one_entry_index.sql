-- Entries had two indexes on (system_id, start_at): one over active entries
-- for the overlap check, one over all for listing. Every insert then wrote
-- two random index pages instead of one, and on a large table that was the
-- main cost of an insert. The listing index serves the overlap check as
-- well: the check reads the few non-active rows in its range and skips them.
DROP INDEX booking_entries_active;
