-- 016_reauthentication.sql: changing the password or the address, or
-- deleting one's own account, from a session whose last real sign-in is
-- older than [auth] reauthentication_window needs the current password or
-- a code mailed by GET /auth/v1/reauthenticate. A session records when its
-- user last proved it was them, beyond its sign-in.
ALTER TABLE sessions ADD COLUMN reauthenticated_at timestamptz;
ALTER TABLE one_time_tokens DROP CONSTRAINT one_time_tokens_kind_check;
ALTER TABLE one_time_tokens ADD CONSTRAINT one_time_tokens_kind_check
    CHECK (kind IN ('confirmation', 'recovery', 'email_change', 'magiclink', 'invite',
                    'reauthentication'));
