-- A placement batch that planned ahead of its calendars' locks writes its
-- entries ahead of the locks too, and bumps its calendars' entries
-- generations itself, under the locks (see `calendar::batch`). Its insert
-- must not bump them through the trigger: the trigger's UPDATE takes the
-- calendar rows' locks at insert time, behind the batch ahead, which is
-- what writing ahead is for avoiding. The batch says so for its own
-- transaction (`SET LOCAL allot.entries_gen = 'caller'`, undone with the
-- savepoint it is set after); every other writer leaves it unset, and the
-- trigger bumps as before.
CREATE OR REPLACE FUNCTION calendars_bump_entries_gen() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('allot.entries_gen', true) = 'caller' THEN
        RETURN NULL;
    END IF;
    UPDATE calendars c SET entries_gen = c.entries_gen + 1
    WHERE c.id IN (SELECT DISTINCT system_id FROM changed);
    RETURN NULL;
END
$$;
