-- notifications: the calendar's notification feed becomes the feed of
-- every module. Rows carry the module that wrote them and the exam they
-- concern (provisioning), and need not concern a calendar. The rows, their
-- (txid, seq) order and the webhook deliveries referencing them stay as
-- they are: calendar_deliveries' foreign key follows the rename.

ALTER TABLE calendar_notifications RENAME TO notifications;
ALTER SEQUENCE calendar_notifications_seq_seq RENAME TO notifications_seq_seq;
ALTER INDEX calendar_notifications_pkey RENAME TO notifications_pkey;
ALTER INDEX calendar_notifications_id_key RENAME TO notifications_id_key;
ALTER INDEX calendar_notifications_order RENAME TO notifications_order;

ALTER TABLE notifications
    ALTER COLUMN calendar_id DROP NOT NULL,
    ADD COLUMN module text NOT NULL DEFAULT 'calendar',
    ADD COLUMN exam_id uuid;

-- Reads of one exam's notifications, in feed order.
CREATE INDEX notifications_by_exam ON notifications (exam_id, txid, seq) WHERE exam_id IS NOT NULL;
