-- 003_notify.sql: one row per (event, channel) makes every delivery idempotent.
CREATE TABLE deliveries (
    event_id   bigint NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    channel    varchar(16) NOT NULL CHECK (channel IN ('email', 'push', 'in_app')),
    state      varchar(16) NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts   integer NOT NULL DEFAULT 0,
    last_error text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, channel)
);
