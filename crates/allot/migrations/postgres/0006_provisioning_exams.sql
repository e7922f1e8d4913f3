-- provisioning: the exams VMs are provisioned for, one row per exam.
-- Other applications write this table directly; every statement that
-- changes it notifies the channel allot_exams, which allot listens on to
-- pick changes up at once (it also re-reads the table every second).

CREATE TABLE exams (
    id       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name     text NOT NULL,
    start_at timestamptz NOT NULL,
    end_at   timestamptz NOT NULL,
    students integer NOT NULL,
    CHECK (end_at > start_at),
    CHECK (students >= 1)
);

CREATE INDEX exams_by_start ON exams (start_at, id);

CREATE FUNCTION allot_exams_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('allot_exams', '');
    RETURN NULL;
END;
$$;

-- Per statement, not per row: one notification however many rows changed.
CREATE TRIGGER exams_notify
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON exams
    FOR EACH STATEMENT EXECUTE FUNCTION allot_exams_notify();
