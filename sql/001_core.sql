-- 001_core.sql: the seed's users and user_profiles, with stronger types.
-- schema_migrations is created by `umsctl migrate` itself before this runs.

CREATE EXTENSION IF NOT EXISTS pgcrypto;  -- gen_random_uuid() is core in 13+, digest() is not

CREATE TABLE users (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email              varchar(255) NOT NULL,
    password_hash      varchar(255) NOT NULL,
    name               varchar(100) NOT NULL,
    role               varchar(20)  NOT NULL DEFAULT 'user',
    status             varchar(20)  NOT NULL DEFAULT 'active',
    created_at         timestamptz  NOT NULL DEFAULT now(),
    updated_at         timestamptz  NOT NULL DEFAULT now(),
    email_confirmed_at timestamptz,
    last_sign_in_at    timestamptz,
    failed_logins      integer      NOT NULL DEFAULT 0,
    locked_until       timestamptz,
    user_metadata      jsonb        NOT NULL DEFAULT '{}',
    app_metadata       jsonb        NOT NULL DEFAULT '{}',
    CONSTRAINT users_email_lower CHECK (email = lower(email)),
    CONSTRAINT users_email_shape CHECK (position('@' in email) > 1),
    CONSTRAINT users_status_known CHECK (status IN ('active', 'suspended')),
    CONSTRAINT users_role_shape CHECK (role ~ '^[a-z][a-z0-9_]{0,19}$'),
    CONSTRAINT users_failed_logins_nonneg CHECK (failed_logins >= 0),
    CONSTRAINT users_user_metadata_object CHECK (jsonb_typeof(user_metadata) = 'object'),
    CONSTRAINT users_app_metadata_object CHECK (jsonb_typeof(app_metadata) = 'object')
);
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE user_profiles (
    user_id     uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    avatar_url  text,
    bio         text,
    timezone    varchar(50),
    preferences jsonb NOT NULL DEFAULT '{}',
    CONSTRAINT user_profiles_bio_len CHECK (bio IS NULL OR char_length(bio) <= 500),
    CONSTRAINT user_profiles_preferences_object CHECK (jsonb_typeof(preferences) = 'object')
);

-- updated_at follows every change of a users row.
CREATE FUNCTION ums_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$;

CREATE TRIGGER users_touch BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION ums_touch_updated_at();
