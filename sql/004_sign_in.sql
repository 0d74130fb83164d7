-- 004_sign_in.sql: a password sign-in in one round trip. After the password
-- was checked, ums_sign_in clears the failure counter, creates the session
-- and its first refresh token, records the sign-in and the audit row, and
-- returns what the access token and the response need (the columns of
-- user_for_token, then the session id). One statement, so one transaction.
CREATE FUNCTION ums_sign_in(p_user uuid, p_email_hash bytea, p_life int, p_ua text, p_ip text,
                            p_method text, p_token_hash bytea, p_rt_ttl int, p_rehash text)
RETURNS TABLE (id uuid, email text, role text, status text, banned boolean, user_json text,
               app_metadata text, user_metadata text, session_id uuid)
LANGUAGE plpgsql AS $$
DECLARE
    sid uuid;
    addr inet := CASE WHEN p_ip ~ '^[0-9a-fA-F:.]+$' THEN p_ip::inet END;
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
    RETURN QUERY
        SELECT u.id, u.email::text, u.role::text, u.status::text,
               coalesce(u.banned_until > now(), false), j::text, (j->'app_metadata')::text,
               u.user_metadata::text, sid
          FROM users u, ums_user_json(u) j WHERE u.id = p_user;
END $$;
