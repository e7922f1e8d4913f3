-- A calendar's entries generation: bumped for every entry of the calendar
-- inserted, changed or deleted, whoever writes it. The placement batch
-- keeps the busy spans it has read in memory, stamped with the generation
-- it read them at, and reuses them only while the generation is unchanged.
-- (SQLite triggers run per row: a statement writing n entries of a
-- calendar adds n.)
ALTER TABLE calendars ADD COLUMN entries_gen INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER booking_entries_inserted_bump AFTER INSERT ON booking_entries
BEGIN
    UPDATE calendars SET entries_gen = entries_gen + 1 WHERE id = NEW.system_id;
END;
CREATE TRIGGER booking_entries_updated_bump AFTER UPDATE ON booking_entries
BEGIN
    UPDATE calendars SET entries_gen = entries_gen + 1 WHERE id = NEW.system_id;
END;
CREATE TRIGGER booking_entries_deleted_bump AFTER DELETE ON booking_entries
BEGIN
    UPDATE calendars SET entries_gen = entries_gen + 1 WHERE id = OLD.system_id;
END;
