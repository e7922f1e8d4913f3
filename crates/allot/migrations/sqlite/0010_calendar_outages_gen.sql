-- A calendar's entries generation also moves with its outages, as on
-- PostgreSQL (where a placement batch plans before it locks and relies on
-- it). Here it only makes the busy-span cache read the calendar again.
CREATE TRIGGER booking_outages_inserted_bump AFTER INSERT ON booking_outages
BEGIN
    UPDATE calendars SET entries_gen = entries_gen + 1 WHERE id = NEW.system_id;
END;
CREATE TRIGGER booking_outages_updated_bump AFTER UPDATE ON booking_outages
BEGIN
    UPDATE calendars SET entries_gen = entries_gen + 1 WHERE id = NEW.system_id;
END;
CREATE TRIGGER booking_outages_deleted_bump AFTER DELETE ON booking_outages
BEGIN
    UPDATE calendars SET entries_gen = entries_gen + 1 WHERE id = OLD.system_id;
END;
