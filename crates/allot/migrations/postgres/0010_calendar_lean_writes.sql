-- A 10-attendee placement writes ten holds, and each hold's foreign key
-- check (a FOR KEY SHARE lookup of the event row inserted by the same
-- statement) cost as much as the hold itself: half of a batch's hold
-- writes. Holds are only ever written together with their event (in the
-- event's insert statement, or while the event row is locked to move it),
-- so the check repeats what the writes ensure. What the key also did, drop
-- an event's holds with the event, is kept by a statement trigger: deletes
-- are rare, inserts are the hot path. SQLite keeps its foreign key: there
-- the check is an in-process index lookup.
ALTER TABLE calendar_holds DROP CONSTRAINT calendar_holds_event_id_fkey;

CREATE FUNCTION calendar_holds_follow_events() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM calendar_holds h USING gone g WHERE h.event_id = g.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER calendar_events_drop_holds AFTER DELETE ON calendar_events
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION calendar_holds_follow_events();

-- The change feed is written once and read back as written: `json` keeps
-- each event's document as the text the service produced (its own key
-- order), where `jsonb` parsed it, sorted its keys and rebuilt it on every
-- insert (a third of the cost of writing an entry with its event).
ALTER TABLE booking_events ALTER COLUMN data TYPE json USING data::json;

-- A calendar's entries generation: bumped by every statement that inserts,
-- changes or deletes entries of the calendar, whoever runs it (a booking
-- request, the sweeper, another replica). The placement batch keeps the
-- busy spans it has read in memory, stamped with the generation it read
-- them at, and reuses them only while the generation is unchanged: the
-- busy read was a third of a batch. Entries of systems that are not
-- calendars cost an index probe here, no write.
ALTER TABLE calendars ADD COLUMN entries_gen bigint NOT NULL DEFAULT 0;

CREATE FUNCTION calendars_bump_entries_gen() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE calendars c SET entries_gen = c.entries_gen + 1
    WHERE c.id IN (SELECT DISTINCT system_id FROM changed);
    RETURN NULL;
END
$$;

CREATE TRIGGER booking_entries_inserted_bump AFTER INSERT ON booking_entries
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION calendars_bump_entries_gen();
-- An entry never changes system, so the new rows name every system touched.
CREATE TRIGGER booking_entries_updated_bump AFTER UPDATE ON booking_entries
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION calendars_bump_entries_gen();
CREATE TRIGGER booking_entries_deleted_bump AFTER DELETE ON booking_entries
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION calendars_bump_entries_gen();
