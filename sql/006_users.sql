-- 006_users.sql: the user service (/api/v1): search indexes, devices and the
-- in-app inbox (deleted with their user), and the guarded role, status and
-- delete operations that keep at least one active admin.

CREATE EXTENSION IF NOT EXISTS pg_trgm;  -- trusted: the database owner may create it

-- Prefix search and name/email ordering use the "C" collation, which makes
-- LIKE 'abc%' an index range and gives a byte order the keyset cursor can
-- compare; id breaks ties so every ordering is total.
CREATE INDEX users_email_c ON users ((email COLLATE "C"), id);
CREATE INDEX users_name_c ON users ((lower(name) COLLATE "C"), id);
CREATE INDEX users_created ON users (created_at, id);
CREATE INDEX users_role_created ON users (role, created_at, id);
CREATE INDEX users_status_created ON users (status, created_at, id);
-- Substring search (q=*text*).
CREATE INDEX users_email_trgm ON users USING gin (email gin_trgm_ops);
CREATE INDEX users_name_trgm ON users USING gin (lower(name) gin_trgm_ops);

CREATE INDEX audit_log_actor ON audit_log (actor_id, id);
CREATE INDEX audit_log_target ON audit_log (target_id, id);

-- Push targets (the notification service fills and uses them).
CREATE TABLE devices (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token        text NOT NULL UNIQUE,
    platform     varchar(16) NOT NULL CHECK (platform IN ('android', 'ios', 'web')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_user ON devices (user_id);

-- The in-app inbox.
CREATE TABLE notifications (
    id         bigserial PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       varchar(32) NOT NULL,
    title      text NOT NULL,
    body       text NOT NULL DEFAULT '',
    data       jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    read_at    timestamptz
);
CREATE INDEX notifications_user ON notifications (user_id, id);

CREATE TABLE notification_preferences (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind    varchar(32) NOT NULL,
    channel varchar(16) NOT NULL CHECK (channel IN ('email', 'push', 'in_app')),
    enabled boolean NOT NULL,
    PRIMARY KEY (user_id, kind, channel)
);

-- The public user object of /api/v1, with its profile.
CREATE FUNCTION ums_api_user(u users, p user_profiles) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', u.id, 'email', u.email, 'name', u.name, 'role', u.role, 'status', u.status,
        'email_confirmed_at', ums_ts(u.email_confirmed_at),
        'last_sign_in_at', ums_ts(u.last_sign_in_at),
        'created_at', ums_ts(u.created_at), 'updated_at', ums_ts(u.updated_at),
        'profile', jsonb_build_object(
            'avatar_url', p.avatar_url, 'bio', p.bio, 'timezone', p.timezone,
            'preferences', coalesce(p.preferences, '{}'::jsonb)))
$$;

-- Changes that could leave no active admin take this lock first, so two of
-- them cannot each see "another admin remains". Returns the number of
-- active admins other than p_user.
CREATE FUNCTION ums_other_admins(p_user uuid) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('ums:admins'));
    RETURN (SELECT count(*) FROM users
             WHERE role = 'admin' AND status = 'active' AND id <> p_user);
END $$;

-- Role change: 'ok', 'not_found', 'last_admin'. The caller checked the role
-- name against the configured list and that p_user is not the actor.
CREATE FUNCTION ums_set_role(p_user uuid, p_role text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    cur users;
BEGIN
    SELECT * INTO cur FROM users WHERE id = p_user FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'not_found';
    END IF;
    IF cur.role = 'admin' AND cur.status = 'active' AND p_role <> 'admin'
       AND ums_other_admins(p_user) = 0 THEN
        RETURN 'last_admin';
    END IF;
    UPDATE users SET role = p_role,
                     app_metadata = app_metadata || jsonb_build_object('role', p_role)
     WHERE id = p_user;
    RETURN 'ok';
END $$;

-- Status change: 'ok', 'not_found', 'last_admin'. The caller revokes the
-- sessions of a suspended user after the commit (sess_revoke), which also
-- tells the Redis session cache.
CREATE FUNCTION ums_set_status(p_user uuid, p_status text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    cur users;
BEGIN
    SELECT * INTO cur FROM users WHERE id = p_user FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'not_found';
    END IF;
    IF p_status <> 'active' AND cur.role = 'admin' AND cur.status = 'active'
       AND ums_other_admins(p_user) = 0 THEN
        RETURN 'last_admin';
    END IF;
    UPDATE users SET status = p_status WHERE id = p_user;
    RETURN 'ok';
END $$;

-- Deletion: 'ok', 'not_found', 'last_admin'. Profile, sessions, refresh
-- tokens, identities, one-time tokens, devices, notifications and preferences
-- go with the row (ON DELETE CASCADE); the audit log keeps only the id: the
-- details and addresses of the rows about the user are cleared.
CREATE FUNCTION ums_delete_user(p_user uuid) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    cur users;
BEGIN
    SELECT * INTO cur FROM users WHERE id = p_user FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'not_found';
    END IF;
    IF cur.role = 'admin' AND cur.status = 'active' AND ums_other_admins(p_user) = 0 THEN
        RETURN 'last_admin';
    END IF;
    DELETE FROM users WHERE id = p_user;
    UPDATE audit_log SET details = '{}', ip = NULL WHERE target_id = p_user OR actor_id = p_user;
    RETURN 'ok';
END $$;
