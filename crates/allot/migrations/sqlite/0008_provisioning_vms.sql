-- provisioning: the executor's VM ledger, one row per start() attempt.
--
-- The row is written (state 'requesting') and committed BEFORE start() is
-- called, with the idempotency key the call carries, and completed with the
-- provider's id afterwards. A crash between the two leaves a 'requesting'
-- row: the next executor repeats the call under the same key (the provider
-- answers with the VM it already made) and reports the VM as possibly
-- leaked. No row is ever deleted; a slot whose VM failed gets a new row
-- with the next attempt number.
--
-- state: requesting (intent written, no id yet) -> pending (id known, not
-- ready) -> ready -> stopping (stop intent written) -> stopped; or failed
-- (start() definitely made nothing: the slot is free again).

CREATE TABLE provisioning_vms (
    id                 TEXT PRIMARY KEY,
    exam_id            TEXT NOT NULL,   -- no foreign key: a deleted exam's VMs must still be stopped
    slot               INTEGER NOT NULL CHECK (slot >= 0),
    attempt            INTEGER NOT NULL CHECK (attempt >= 1),
    idempotency_key    TEXT NOT NULL UNIQUE,
    state              TEXT NOT NULL CHECK (state IN ('requesting', 'pending', 'ready', 'stopping', 'stopped', 'failed')),
    vm_id              TEXT UNIQUE,
    requested_at       TEXT NOT NULL,
    expected_ready_at  TEXT,
    ready_at           TEXT,
    stop_requested_at  TEXT,
    stopped_at         TEXT,
    start_calls        INTEGER NOT NULL DEFAULT 0,
    stop_calls         INTEGER NOT NULL DEFAULT 0,
    maybe_leaked       INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT,
    updated_at         TEXT NOT NULL,
    UNIQUE (exam_id, slot, attempt),
    CHECK (state IN ('requesting', 'failed') OR vm_id IS NOT NULL)
);

-- One live VM per slot, whatever runs the executor: a second intent for a
-- slot that has one fails here instead of starting a second VM.
CREATE UNIQUE INDEX provisioning_vms_one_live_per_slot ON provisioning_vms (exam_id, slot)
    WHERE state IN ('requesting', 'pending', 'ready');

-- The executor loads what is not finished; the API lists by exam.
CREATE INDEX provisioning_vms_open ON provisioning_vms (state) WHERE state IN ('requesting', 'pending', 'ready', 'stopping');
CREATE INDEX provisioning_vms_by_exam ON provisioning_vms (exam_id, slot, attempt);

-- The last shortfall notified per exam, so that a notification is written
-- once per change, whichever replica leads.
CREATE TABLE provisioning_forecasts (
    exam_id     TEXT PRIMARY KEY,
    shortfall   INTEGER NOT NULL,
    updated_at  TEXT NOT NULL
);
