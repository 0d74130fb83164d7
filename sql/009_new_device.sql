-- 009_new_device.sql: "new sign-in from a new device" alerts. A device is
-- the User-Agent a session starts from, with its version numbers removed
-- (a browser update is not a new device). A user's first device is just
-- noted; a device not seen before, once the user has others, adds a
-- user.new_sign_in outbox event in the same transaction as the session.
CREATE TABLE sign_in_devices (
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_hash   bytea NOT NULL,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, device_hash)
);

-- Notes the device of a new session. When p_alert and the device is new
-- to a user who has others, returns the outbox event it added (id and
-- text, for publishing after commit); otherwise NULLs.
CREATE FUNCTION ums_note_device(p_user uuid, p_ua text, p_ip inet, p_alert boolean,
                                OUT event_id bigint, OUT event text)
LANGUAGE plpgsql AS $$
DECLARE
    h bytea := sha256(convert_to(regexp_replace(coalesce(p_ua, ''), '[0-9]+', '', 'g'), 'UTF8'));
BEGIN
    INSERT INTO sign_in_devices (user_id, device_hash) VALUES (p_user, h)
        ON CONFLICT (user_id, device_hash) DO NOTHING;
    IF NOT FOUND THEN
        UPDATE sign_in_devices SET last_seen_at = now()
         WHERE user_id = p_user AND device_hash = h AND last_seen_at < now() - interval '1 hour';
        RETURN;
    END IF;
    IF p_alert AND EXISTS (SELECT 1 FROM sign_in_devices s
                            WHERE s.user_id = p_user AND s.device_hash <> h) THEN
        INSERT INTO outbox (event) VALUES (jsonb_build_object(
            'type', 'user.new_sign_in', 'user_id', p_user,
            'device', left(coalesce(nullif(p_ua, ''), 'an unknown device'), 200),
            'ip', coalesce(host(p_ip), 'an unknown address'),
            'at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"')))
            RETURNING outbox.id, outbox.event::text INTO event_id, event;
    END IF;
END $$;

-- ums_sign_in (004) also notes the device, and returns the alert event.
DROP FUNCTION ums_sign_in(uuid, bytea, int, text, text, text, bytea, int, text);
CREATE FUNCTION ums_sign_in(p_user uuid, p_email_hash bytea, p_life int, p_ua text, p_ip text,
                            p_method text, p_token_hash bytea, p_rt_ttl int, p_rehash text)
RETURNS TABLE (id uuid, email text, role text, status text, banned boolean, user_json text,
               app_metadata text, user_metadata text, session_id uuid, event_id bigint,
               event text)
LANGUAGE plpgsql AS $$
DECLARE
    sid uuid;
    addr inet := CASE WHEN p_ip ~ '^[0-9a-fA-F:.]+$' THEN p_ip::inet END;
    alert record;
BEGIN
    DELETE FROM login_attempts WHERE email_hash = p_email_hash;
    INSERT INTO sessions (user_id, expires_at, user_agent, ip, amr)
        VALUES (p_user, now() + make_interval(secs => p_life), left(p_ua, 512), addr,
                jsonb_build_array(jsonb_build_object('method', p_method,
                                                     'timestamp', extract(epoch from now())::bigint)))
        RETURNING sessions.id INTO sid;
    INSERT INTO refresh_tokens (session_id, token_hash, expires_at)
        VALUES (sid, p_token_hash, now() + make_interval(secs => p_rt_ttl));
    UPDATE users SET last_sign_in_at = now(), password_hash = coalesce(p_rehash, password_hash)
        WHERE users.id = p_user;
    INSERT INTO audit_log (actor_id, action, target_id, ip) VALUES (p_user, 'user.login', p_user, addr);
    SELECT * INTO alert FROM ums_note_device(p_user, p_ua, addr, true);
    RETURN QUERY
        SELECT u.id, u.email::text, u.role::text, u.status::text,
               coalesce(u.banned_until > now(), false), j::text, (j->'app_metadata')::text,
               u.user_metadata::text, sid, alert.event_id, alert.event
          FROM users u, ums_user_json(u) j WHERE u.id = p_user;
END $$;
