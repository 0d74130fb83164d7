-- 007_deliveries.sql: retries with back-off. A pending delivery waits until
-- next_attempt_at; one that ran out of attempts is 'failed' and its event
-- goes to the ums:events:dead stream.
ALTER TABLE deliveries ADD COLUMN next_attempt_at timestamptz;
