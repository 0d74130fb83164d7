-- 010_outbox_done.sql: an outbox row records when the notifier finished
-- with its event (every channel sent or failed for good). A published row
-- that is not done after [notifier] redeliver_after seconds is put on the
-- stream again (its entry may have been lost with Redis's last second of
-- writes); done rows older than [notifier] keep_days are pruned.
ALTER TABLE outbox ADD COLUMN done_at timestamptz;
-- Rows published before this migration are taken as done unless a delivery
-- still waits for a retry.
UPDATE outbox o SET done_at = o.published_at
 WHERE o.published_at IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = o.id AND d.state = 'pending');
CREATE INDEX outbox_not_done ON outbox (published_at) WHERE done_at IS NULL;
CREATE INDEX outbox_done ON outbox (done_at) WHERE done_at IS NOT NULL;
-- Deliveries waiting for a retry are few among many final ones.
CREATE INDEX deliveries_waiting ON deliveries (event_id) WHERE state = 'pending';
