-- 008_push_devices.sql: push is recorded per device as well. The 'push' row
-- of an event holds its attempts and back-off; a 'push:<device id>' row
-- says that device got it, so a retry goes only to the devices that did not.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_channel_check;
ALTER TABLE deliveries ALTER COLUMN channel TYPE varchar(48);
ALTER TABLE deliveries ADD CONSTRAINT deliveries_channel_check
    CHECK (channel IN ('email', 'push', 'in_app')
           OR channel ~ '^push:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$');
