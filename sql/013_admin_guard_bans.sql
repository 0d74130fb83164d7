-- 013_admin_guard_bans.sql: the last-admin guard treats a ban like a
-- suspension. An admin who is banned does not count as an active admin, and
-- banning the last active admin is refused like suspending them.

-- Whether u is an admin who can act: active and not banned.
CREATE FUNCTION ums_admin_active(u users) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT u.role = 'admin' AND u.status = 'active'
       AND (u.banned_until IS NULL OR u.banned_until <= now())
$$;

CREATE OR REPLACE FUNCTION ums_other_admins(p_user uuid) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('ums:admins'));
    RETURN (SELECT count(*) FROM users u WHERE ums_admin_active(u) AND u.id <> p_user);
END $$;

CREATE OR REPLACE FUNCTION ums_set_role(p_user uuid, p_role text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    cur users;
BEGIN
    SELECT * INTO cur FROM users WHERE id = p_user FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'not_found';
    END IF;
    IF ums_admin_active(cur) AND p_role <> 'admin' AND ums_other_admins(p_user) = 0 THEN
        RETURN 'last_admin';
    END IF;
    UPDATE users SET role = p_role,
                     app_metadata = app_metadata || jsonb_build_object('role', p_role)
     WHERE id = p_user;
    RETURN 'ok';
END $$;

CREATE OR REPLACE FUNCTION ums_set_status(p_user uuid, p_status text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    cur users;
BEGIN
    SELECT * INTO cur FROM users WHERE id = p_user FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'not_found';
    END IF;
    IF p_status <> 'active' AND ums_admin_active(cur) AND ums_other_admins(p_user) = 0 THEN
        RETURN 'last_admin';
    END IF;
    UPDATE users SET status = p_status WHERE id = p_user;
    RETURN 'ok';
END $$;

CREATE OR REPLACE FUNCTION ums_delete_user(p_user uuid) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    cur users;
BEGIN
    SELECT * INTO cur FROM users WHERE id = p_user FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'not_found';
    END IF;
    IF ums_admin_active(cur) AND ums_other_admins(p_user) = 0 THEN
        RETURN 'last_admin';
    END IF;
    DELETE FROM users WHERE id = p_user;
    UPDATE audit_log SET details = '{}', ip = NULL WHERE target_id = p_user OR actor_id = p_user;
    RETURN 'ok';
END $$;

-- A ban of p_secs seconds (NULL lifts it): 'ok', 'not_found', 'last_admin'.
CREATE FUNCTION ums_set_ban(p_user uuid, p_secs bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    cur users;
BEGIN
    SELECT * INTO cur FROM users WHERE id = p_user FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'not_found';
    END IF;
    IF p_secs IS NOT NULL AND p_secs > 0 AND ums_admin_active(cur)
       AND ums_other_admins(p_user) = 0 THEN
        RETURN 'last_admin';
    END IF;
    UPDATE users SET banned_until = CASE WHEN p_secs IS NULL THEN NULL
                                         ELSE now() + make_interval(secs => p_secs) END
     WHERE id = p_user;
    RETURN 'ok';
END $$;
