-- 015_outbox_secrets.sql: the code and the link of a mail are no longer in
-- the event. The event (in the outbox, on the Redis stream, in Redis's
-- append-only file and, after its last attempt, in ums:events:dead) carries
-- only a reference, its outbox id; the secrets wait here until the mail is
-- sent or has failed for good, then they are deleted.
CREATE TABLE outbox_secrets (
    event_id bigint PRIMARY KEY REFERENCES outbox (id) ON DELETE CASCADE,
    otp      text,
    link     text
);
INSERT INTO outbox_secrets (event_id, otp, link)
SELECT id, event->>'otp', event->>'token_hash' FROM outbox
 WHERE event ? 'otp' OR event ? 'token_hash';
UPDATE outbox SET event = event - 'otp' - 'token_hash'
 WHERE event ? 'otp' OR event ? 'token_hash';
