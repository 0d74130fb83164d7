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
