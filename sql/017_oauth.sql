-- 017_oauth.sql: sign-in with Google and GitHub (core/oauth*.c).
--
-- One row per /authorize: the state sent to the provider (only its SHA-256
-- is kept), ums's own PKCE verifier towards the provider, the OpenID nonce,
-- the client's PKCE challenge (NULL: the implicit flow), where the browser
-- goes back to, and the user an identity is being linked to. The callback
-- takes the state once (used_at); a PKCE flow then carries the ums auth
-- code (hashed), its user and the provider's tokens until POST
-- /token?grant_type=pkce deletes the row. An implicit flow is deleted at
-- the callback. A link finishes only while the session that began it lives. Expired rows are deleted as new ones are made.
CREATE TABLE oauth_flows (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    state_hash            bytea NOT NULL UNIQUE,
    provider              varchar(16) NOT NULL CHECK (provider IN ('google', 'github')),
    provider_verifier     text NOT NULL,
    nonce                 text,
    code_challenge        text,
    code_challenge_method varchar(8) CHECK (code_challenge_method IN ('s256', 'plain')),
    redirect_to           text NOT NULL,
    link_user_id          uuid REFERENCES users (id) ON DELETE CASCADE,
    link_session_id       uuid REFERENCES sessions (id) ON DELETE CASCADE,
    created_at            timestamptz NOT NULL DEFAULT now(),
    expires_at            timestamptz NOT NULL,
    used_at               timestamptz,
    user_id               uuid REFERENCES users (id) ON DELETE CASCADE,
    auth_code_hash        bytea UNIQUE,
    auth_code_expires_at  timestamptz,
    provider_token        text,
    provider_refresh_token text,
    CONSTRAINT oauth_flows_pkce_pair CHECK ((code_challenge IS NULL) = (code_challenge_method IS NULL))
);
CREATE INDEX oauth_flows_expires ON oauth_flows (expires_at);

-- A user made by a provider has no password: '' never verifies (the
-- sign-in route spends the same argon2 work on it as on a wrong password).

-- A provider has just proved the address of an account that never
-- confirmed it: whoever registered it first keeps nothing of theirs. The
-- password, every identity (the new one is added after), pending links and
-- auth codes, one-time tokens, push devices, notification switches, the
-- metadata, name and profile they chose go; the address counts as
-- confirmed. The sessions are revoked after the commit (the Redis cache
-- must not learn of a revocation that could roll back).
CREATE FUNCTION ums_oauth_takeover(p_user uuid, p_name text, p_meta jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM identities WHERE user_id = p_user;
    DELETE FROM oauth_flows WHERE link_user_id = p_user OR user_id = p_user;
    DELETE FROM one_time_tokens WHERE user_id = p_user;
    DELETE FROM devices WHERE user_id = p_user;
    DELETE FROM notification_preferences WHERE user_id = p_user;
    UPDATE user_profiles SET avatar_url = NULL, bio = NULL, timezone = NULL, preferences = '{}'
     WHERE user_id = p_user;
    UPDATE users SET password_hash = '', email_confirmed_at = now(), confirmation_sent_at = NULL,
                     new_email = NULL, email_change_sent_at = NULL, name = p_name,
                     user_metadata = p_meta
     WHERE id = p_user;
END $$;

-- app_metadata.provider is the provider of the user's first identity, as
-- GoTrue reports it; providers lists them all.
CREATE OR REPLACE FUNCTION ums_user_json(u users) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN jsonb_strip_nulls(jsonb_build_object(
               'email_confirmed_at', ums_ts(u.email_confirmed_at),
               'confirmed_at', ums_ts(u.email_confirmed_at),
               'confirmation_sent_at', ums_ts(u.confirmation_sent_at),
               'recovery_sent_at', ums_ts(u.recovery_sent_at),
               'new_email', u.new_email,
               'email_change_sent_at', ums_ts(u.email_change_sent_at),
               'last_sign_in_at', ums_ts(u.last_sign_in_at),
               'banned_until', ums_ts(u.banned_until)))
        || jsonb_build_object(
               'id', u.id,
               'aud', 'authenticated',
               'role', 'authenticated',
               'email', u.email,
               'phone', '',
               'app_metadata', u.app_metadata || jsonb_build_object(
                   'provider', coalesce((SELECT i.provider FROM identities i WHERE i.user_id = u.id
                                          ORDER BY i.created_at, i.id LIMIT 1), 'email'),
                   'providers', coalesce((SELECT jsonb_agg(DISTINCT i.provider)
                                            FROM identities i WHERE i.user_id = u.id),
                                         '["email"]'::jsonb),
                   'role', u.role),
               'user_metadata', u.user_metadata,
               'identities', coalesce((SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                                   'identity_id', i.id,
                                   'id', i.provider_subject,
                                   'user_id', i.user_id,
                                   'provider', i.provider,
                                   'identity_data', i.data,
                                   'email', i.email,
                                   'last_sign_in_at', ums_ts(i.last_sign_in_at),
                                   'created_at', ums_ts(i.created_at),
                                   'updated_at', ums_ts(i.updated_at))) ORDER BY i.created_at, i.id)
                                 FROM identities i WHERE i.user_id = u.id), '[]'::jsonb),
               'created_at', ums_ts(u.created_at),
               'updated_at', ums_ts(u.updated_at),
               'is_anonymous', false)
;
END $$;
