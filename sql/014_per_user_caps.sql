-- 014_per_user_caps.sql: no account can grow its rows without bound.
-- A user keeps at most 100 live sessions, 50 noted sign-in devices and 20
-- push devices; each new one pushes out the oldest. The triggers hold for
-- every path that adds a row (sign-in, sign-up, email links, admin tools).

-- Sessions beyond the 100 newest are revoked, and noted as cache faults so
-- every worker stops trusting their cached "live" at once (sql/012).
CREATE FUNCTION ums_cap_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH old AS (
        UPDATE sessions SET revoked_at = now()
         WHERE id IN (SELECT id FROM sessions
                       WHERE user_id = NEW.user_id AND revoked_at IS NULL
                       ORDER BY created_at DESC, id DESC OFFSET 100)
        RETURNING id)
    INSERT INTO session_cache_faults (session_id) SELECT id FROM old;
    RETURN NULL;
END $$;
CREATE TRIGGER sessions_cap AFTER INSERT ON sessions
    FOR EACH ROW EXECUTE FUNCTION ums_cap_sessions();

CREATE FUNCTION ums_cap_sign_in_devices() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM sign_in_devices
     WHERE user_id = NEW.user_id
       AND device_hash IN (SELECT device_hash FROM sign_in_devices
                            WHERE user_id = NEW.user_id
                            ORDER BY last_seen_at DESC, device_hash OFFSET 50);
    RETURN NULL;
END $$;
CREATE TRIGGER sign_in_devices_cap AFTER INSERT ON sign_in_devices
    FOR EACH ROW EXECUTE FUNCTION ums_cap_sign_in_devices();

CREATE FUNCTION ums_cap_devices() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM devices
     WHERE id IN (SELECT id FROM devices WHERE user_id = NEW.user_id
                   ORDER BY last_seen_at DESC, created_at DESC, id OFFSET 20);
    RETURN NULL;
END $$;
CREATE TRIGGER devices_cap AFTER INSERT OR UPDATE OF user_id ON devices
    FOR EACH ROW EXECUTE FUNCTION ums_cap_devices();

-- What is over the caps now goes too.
WITH old AS (
    UPDATE sessions SET revoked_at = now()
     WHERE id IN (SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY user_id
                                          ORDER BY created_at DESC, id DESC) AS n
                                    FROM sessions WHERE revoked_at IS NULL) s WHERE n > 100)
    RETURNING id)
INSERT INTO session_cache_faults (session_id) SELECT id FROM old;
DELETE FROM sign_in_devices d USING (
    SELECT user_id, device_hash, row_number() OVER (PARTITION BY user_id
                                   ORDER BY last_seen_at DESC, device_hash) AS n
      FROM sign_in_devices) x
 WHERE d.user_id = x.user_id AND d.device_hash = x.device_hash AND x.n > 50;
DELETE FROM devices d USING (
    SELECT id, row_number() OVER (PARTITION BY user_id
                                  ORDER BY last_seen_at DESC, created_at DESC, id) AS n
      FROM devices) x
 WHERE d.id = x.id AND x.n > 20;
