-- 002_auth.sql: sessions, rotating refresh tokens, identities, one-time tokens,
-- the transactional outbox, the audit log and the per-email lockout counter.

CREATE TABLE sessions (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    refreshed_at timestamptz,
    expires_at   timestamptz NOT NULL,          -- absolute lifetime
    revoked_at   timestamptz,
    user_agent   text,
    ip           inet,
    aal          varchar(8) NOT NULL DEFAULT 'aal1',
    amr          jsonb NOT NULL DEFAULT '[]'
);
CREATE INDEX sessions_user_live ON sessions (user_id) WHERE revoked_at IS NULL;

-- Only the SHA-256 of a refresh token is stored.
CREATE TABLE refresh_tokens (
    id         bigserial PRIMARY KEY,
    session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE,
    parent_id  bigint REFERENCES refresh_tokens (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_parent ON refresh_tokens (parent_id);

CREATE TABLE identities (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider         varchar(32) NOT NULL,
    provider_subject text NOT NULL,
    email            varchar(255),
    data             jsonb NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    last_sign_in_at  timestamptz,
    UNIQUE (provider, provider_subject)
);
CREATE INDEX identities_user ON identities (user_id);

-- Confirmation, recovery, email change and magic-link tokens: the OTP and the
-- link token are stored hashed; a newer token of a kind voids the older ones.
CREATE TABLE one_time_tokens (
    id         bigserial PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       varchar(16) NOT NULL
               CHECK (kind IN ('confirmation', 'recovery', 'email_change', 'magiclink', 'invite')),
    token_hash bytea NOT NULL,
    otp_hash   bytea NOT NULL,
    target     varchar(255) NOT NULL,            -- the address the token was sent to
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE UNIQUE INDEX one_time_tokens_hash ON one_time_tokens (token_hash);
CREATE INDEX one_time_tokens_user_kind ON one_time_tokens (user_id, kind) WHERE used_at IS NULL;

CREATE TABLE outbox (
    id           bigserial PRIMARY KEY,
    event        jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (created_at) WHERE published_at IS NULL;

CREATE TABLE audit_log (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    actor_id  uuid,
    action    varchar(64) NOT NULL,
    target_id uuid,
    ip        inet,
    details   jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at, id);

-- Failed sign-ins per normalised email, whether or not the account exists.
CREATE TABLE login_attempts (
    email_hash        bytea PRIMARY KEY,
    failures          integer NOT NULL DEFAULT 0,
    window_started_at timestamptz NOT NULL DEFAULT now(),
    locked_until      timestamptz
);

ALTER TABLE users
    ADD COLUMN confirmation_sent_at timestamptz,
    ADD COLUMN recovery_sent_at     timestamptz,
    ADD COLUMN new_email            varchar(255),
    ADD COLUMN email_change_sent_at timestamptz,
    ADD COLUMN banned_until         timestamptz;

-- RFC 3339 UTC with microseconds, as GoTrue prints timestamps.
CREATE FUNCTION ums_ts(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

-- The user object of the /auth/v1 wire protocol (GoTrue's shape). Null
-- timestamps are left out; email and phone are "" when unset.
CREATE FUNCTION ums_user_json(u users) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
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
                   'provider', 'email',
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
                                   'updated_at', ums_ts(i.updated_at))) ORDER BY i.created_at)
                                 FROM identities i WHERE i.user_id = u.id), '[]'::jsonb),
               'created_at', ums_ts(u.created_at),
               'updated_at', ums_ts(u.updated_at),
               'is_anonymous', false)
$$;
