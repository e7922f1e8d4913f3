-- A calendar's entries generation now also moves with its outages. A
-- placement batch on PostgreSQL plans before it takes the calendars' locks
-- (on the busy spans cached at a generation) and, under the locks, writes
-- only if each calendar is still at that generation. An outage committed
-- between its read of the outages and its locks must therefore show in the
-- generation too, even one that evicts nothing (and so writes no entry).
CREATE TRIGGER booking_outages_inserted_bump AFTER INSERT ON booking_outages
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION calendars_bump_entries_gen();
CREATE TRIGGER booking_outages_updated_bump AFTER UPDATE ON booking_outages
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION calendars_bump_entries_gen();
CREATE TRIGGER booking_outages_deleted_bump AFTER DELETE ON booking_outages
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION calendars_bump_entries_gen();
