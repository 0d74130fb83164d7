/* db_stmt.c - the statement table (kcaldav's enum sqlstmt + parallel array). */
#include "db.h"
#include "db_stmt.h"

/* The statements are laid out by hand: one per entry, SQL continued in aligned strings. */
/* clang-format off */
const struct db_stmt_def db_stmt_table[STMT__MAX] = {
    [STMT_PING] = {"ping", "SELECT 1", 0, DB_READ},
    /* db_replica.c: where the primary's WAL is, and how far a replica is
     * behind it: 0 when it has replayed up to $1, else the age of the last
     * transaction it replayed (large when it never replayed one). */
    [STMT_WAL_LSN] = {"wal_lsn", "SELECT pg_current_wal_lsn()::text", 0, DB_READ},
    [STMT_REPLICA_LAG] = {"replica_lag",
        "SELECT pg_is_in_recovery(), CASE WHEN NOT pg_is_in_recovery()"
        " OR pg_last_wal_replay_lsn() >= $1::pg_lsn THEN 0"
        " ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 1e9) END"
        "::float8", 1, DB_READ},
    [STMT_MIGRATION_LIST] = {"migration_list",
                             "SELECT version, checksum FROM schema_migrations ORDER BY version", 0,
                             DB_READ},
    [STMT_MIGRATION_RECORD] = {"migration_record",
                               "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)",
                               2},

    /* users.c: $4 user_metadata JSON, $5 confirmed now */
    [STMT_USER_INSERT] = {"user_insert",
        "INSERT INTO users (email, password_hash, name, user_metadata, email_confirmed_at,"
        " confirmation_sent_at)"
        " VALUES ($1, $2, $3, $4::jsonb, CASE WHEN $5::bool THEN now() END,"
        " CASE WHEN $5::bool THEN NULL ELSE now() END)"
        " ON CONFLICT (email) DO NOTHING RETURNING id", 5},
    [STMT_PROFILE_INSERT] = {"profile_insert",
        "INSERT INTO user_profiles (user_id) VALUES ($1)", 1},
    [STMT_IDENTITY_INSERT_EMAIL] = {"identity_insert_email",
        "INSERT INTO identities (user_id, provider, provider_subject, email, data)"
        " VALUES ($1::text::uuid, 'email', $1::text, $2::text, jsonb_build_object('sub', $1::text,"
        " 'email', $2::text, 'email_verified', $3::bool, 'phone_verified', false))", 3},
    /* A sign-in's first round trip: seconds of lock left (NULL when not
     * locked), then the account (NULLs when there is none). $2: email hash. */
    [STMT_LOGIN_LOOKUP] = {"login_lookup",
        "SELECT (SELECT ceil(extract(epoch from a.locked_until - now()))::int"
        " FROM login_attempts a WHERE a.email_hash = decode($2, 'hex')"
        " AND a.locked_until > now()),"
        " u.id, u.password_hash, u.status, u.email_confirmed_at IS NOT NULL,"
        " coalesce(u.banned_until > now(), false)"
        " FROM (VALUES (1)) v LEFT JOIN users u ON u.email = $1", 2, DB_READ},
    /* The second: everything after the password check (004_sign_in.sql). */
    [STMT_SIGN_IN] = {"sign_in",
        "SELECT * FROM ums_sign_in($1::uuid, decode($2, 'hex'), $3::int, $4, $5, $6,"
        " decode($7, 'hex'), $8::int, $9)", 9},
    /* Everything an access token and a session response need, in one row. */
    [STMT_USER_FOR_TOKEN] = {"user_for_token",
        "SELECT u.id, u.email, u.role, u.status, coalesce(u.banned_until > now(), false),"
        " j::text, (j->'app_metadata')::text, u.user_metadata::text, u.password_hash"
        " FROM users u, ums_user_json(u) j WHERE u.id = $1", 1, DB_READ},
    /* The user object of a placeholder account (see lookalike_user in
     * auth.c) showing the address $2: the same function as every real one. */
    [STMT_USER_LOOKALIKE_JSON] = {"user_lookalike_json",
        "SELECT jsonb_set(ums_user_json(u), '{email}', to_jsonb($2::text))::text"
        " FROM users u WHERE u.id = $1", 2, DB_READ},
    [STMT_USER_SIGNED_IN] = {"user_signed_in",
        "UPDATE users SET last_sign_in_at = now(),"
        " password_hash = coalesce($2, password_hash) WHERE id = $1", 2},
    [STMT_USER_SET_PASSWORD] = {"user_set_password",
        "UPDATE users SET password_hash = $2 WHERE id = $1", 2},
    /* Merges $2 into user_metadata; keys whose value is null are removed. */
    /* The merge is refused (no row) when its result would pass 16 KiB. */
    [STMT_USER_MERGE_METADATA] = {"user_merge_metadata",
        "UPDATE users SET user_metadata = jsonb_strip_nulls(user_metadata || $2::jsonb),"
        " name = CASE WHEN jsonb_typeof($2::jsonb->'name') = 'string'"
        " THEN left($2::jsonb->>'name', 100) ELSE name END WHERE id = $1"
        " AND octet_length(jsonb_strip_nulls(user_metadata || $2::jsonb)::text) <= 16384"
        " RETURNING 1", 2},
    /* Admin listing, newest first; $1 limit, $2 offset. */
    [STMT_USER_LIST_PAGE] = {"user_list_page",
        "SELECT coalesce(jsonb_agg(ums_user_json(u) ORDER BY u.created_at DESC, u.id), '[]')::text"
        " FROM (SELECT * FROM users ORDER BY created_at DESC, id"
        " LIMIT $1::int OFFSET $2::bigint) u", 2, DB_LAGGED},
    [STMT_USER_COUNT] = {"user_count", "SELECT count(*) FROM users", 0, DB_LAGGED},
    /* $1 id or NULL, $2 email, $3 hash, $4 name, $5 user_metadata, $6 app_metadata, $7 confirmed */
    [STMT_USER_ADMIN_INSERT] = {"user_admin_insert",
        "INSERT INTO users (id, email, password_hash, name, user_metadata, app_metadata,"
        " email_confirmed_at)"
        " VALUES (coalesce($1::uuid, gen_random_uuid()), $2, $3, $4, $5::jsonb,"
        " $6::jsonb - 'role' - 'provider' - 'providers', CASE WHEN $7::bool THEN now() END)"
        " ON CONFLICT DO NOTHING RETURNING id", 7},
    [STMT_USER_DELETE] = {"user_delete", "DELETE FROM users WHERE id = $1 RETURNING id", 1},
    [STMT_USER_SET_EMAIL] = {"user_set_email",
        "UPDATE users SET email = $2, new_email = NULL, email_change_sent_at = NULL"
        " WHERE id = $1", 2},
    [STMT_USER_SET_CONFIRMED] = {"user_set_confirmed",
        "UPDATE users SET email_confirmed_at = CASE WHEN $2::bool"
        " THEN coalesce(email_confirmed_at, now()) END WHERE id = $1", 2},
    [STMT_USER_MERGE_APP_METADATA] = {"user_merge_app_metadata",
        "UPDATE users SET app_metadata = jsonb_strip_nulls(app_metadata || ($2::jsonb - 'role'"
        " - 'provider' - 'providers')) WHERE id = $1 AND octet_length(jsonb_strip_nulls("
        "app_metadata || ($2::jsonb - 'role' - 'provider' - 'providers'))::text) <= 16384"
        " RETURNING 1", 2},
    [STMT_USER_EXISTS] = {"user_exists", "SELECT 1 FROM users WHERE id = $1", 1, DB_READ},
    [STMT_USER_SET_ROLE] = {"user_set_role", "UPDATE users SET role = $2 WHERE id = $1", 2},

    /* sessions.c */
    /* The session, and its device noted (sql/009_new_device.sql): $6 says
     * whether a new device raises an alert event, returned with the id. */
    [STMT_SESS_INSERT] = {"sess_insert",
        "WITH s AS (INSERT INTO sessions (user_id, expires_at, user_agent, ip, amr)"
        " VALUES ($1, now() + make_interval(secs => $2::int), left($3, 512),"
        " CASE WHEN $4 ~ '^[0-9a-fA-F:.]+$' THEN $4::inet END,"
        " jsonb_build_array(jsonb_build_object('method', $5::text,"
        " 'timestamp', extract(epoch from now())::bigint))) RETURNING id, user_id, ip)"
        " SELECT s.id, d.event_id, d.event FROM s, ums_note_device(s.user_id, $3, s.ip,"
        " $6::boolean) d", 6},
    [STMT_RT_INSERT] = {"rt_insert",
        "INSERT INTO refresh_tokens (session_id, token_hash, parent_id, expires_at)"
        " VALUES ($1, decode($2, 'hex'), $3::bigint, now() + make_interval(secs => $4::int))", 4},
    [STMT_RT_FIND] = {"rt_find",
        "SELECT session_id FROM refresh_tokens WHERE token_hash = decode($1, 'hex')", 1, DB_READ},
    /* Lock order everywhere: the session row, then its tokens. */
    [STMT_SESS_LOCK] = {"sess_lock",
        "SELECT user_id, revoked_at IS NOT NULL, expires_at <= now(), amr::text"
        " FROM sessions WHERE id = $1 FOR UPDATE", 1},
    [STMT_RT_LOCK] = {"rt_lock",
        "SELECT id, revoked_at IS NOT NULL,"
        " coalesce(extract(epoch from now() - revoked_at), 0)::float8, expires_at <= now()"
        " FROM refresh_tokens WHERE token_hash = decode($1, 'hex') FOR UPDATE", 1},
    [STMT_RT_LIVE_CHILD] = {"rt_live_child",
        "SELECT encode(token_hash, 'hex') FROM refresh_tokens"
        " WHERE parent_id = $1::bigint AND revoked_at IS NULL", 1, DB_READ},
    [STMT_RT_REVOKE] = {"rt_revoke",
        "UPDATE refresh_tokens SET revoked_at = now() WHERE id = $1::bigint", 1},
    [STMT_SESS_TOUCH] = {"sess_touch",
        "UPDATE sessions SET refreshed_at = now() WHERE id = $1", 1},
    /* A live session of an existing user: the role, and whether the user may act. */
    [STMT_SESS_LIVE] = {"sess_live",
        "SELECT u.role, u.status = 'active' AND coalesce(u.banned_until <= now(), true),"
        " ceil(extract(epoch FROM s.expires_at - now()))::int"
        " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1 AND s.user_id = $2"
        " AND s.revoked_at IS NULL AND s.expires_at > now()", 2, DB_READ},
    [STMT_SESS_REVOKE_ONE] = {"sess_revoke_one",
        "UPDATE sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL"
        " RETURNING id", 1},
    [STMT_SESS_REVOKE_ALL] = {"sess_revoke_all",
        "UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL"
        " RETURNING id", 1},
    [STMT_SESS_REVOKE_OTHERS] = {"sess_revoke_others",
        "UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND id <> $2"
        " AND revoked_at IS NULL RETURNING id", 2},

    /* A live session's id, and what its cache entry holds ("uid role"). */
    [STMT_SESS_LIST_LIVE] = {"sess_list_live",
        "SELECT s.id, u.id::text || ' ' || u.role FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.user_id = $1 AND s.revoked_at IS NULL AND s.expires_at > now()", 1, DB_READ},
    /* Seconds since the session's user last proved it was them (its sign-in,
     * or a later reauthentication), with the address and password hash. */
    [STMT_SESS_PROOF_AGE] = {"sess_proof_age",
        "SELECT ceil(extract(epoch FROM now() - greatest(s.created_at,"
        " coalesce(s.reauthenticated_at, s.created_at))))::int, u.email, u.password_hash"
        " FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL", 2, DB_READ},
    [STMT_SESS_REAUTHENTICATED] = {"sess_reauthenticated",
        "UPDATE sessions SET reauthenticated_at = now() WHERE id = $1", 1},
    /* Sessions whose cache entry could not be corrected ($1: a uuid[] literal). */
    [STMT_SESS_FAULT_ADD] = {"sess_fault_add",
        "INSERT INTO session_cache_faults (session_id) SELECT unnest($1::uuid[])", 1},
    /* The oldest transaction still running: every row not yet visible
     * has an xid at least this (sql/018). */
    [STMT_SESS_FAULTS_XMIN] = {"sess_faults_xmin",
        "SELECT pg_snapshot_xmin(pg_current_snapshot())::text", 0, DB_READ},
    /* $1: the previous poll's xmin; $2: the page cursor (an id). */
    [STMT_SESS_FAULTS_SINCE] = {"sess_faults_since",
        "SELECT id, session_id, extract(epoch FROM at + interval '900 seconds' - now())::int"
        " FROM session_cache_faults WHERE xid >= $1::xid8 AND id > $2::bigint"
        " AND at > now() - interval '900 seconds' ORDER BY id LIMIT 256", 2, DB_READ},
    [STMT_SESS_FAULTS_PRUNE] = {"sess_faults_prune",
        "DELETE FROM session_cache_faults WHERE at < now() - interval '1 hour'", 0},

    /* lockout.c: $1 email hash (hex) */
    /* One more failure: a stale window or an expired lock starts over at 1;
     * reaching $3 failures locks for $4 seconds. Returns failures, locked. */
    [STMT_LOCK_FAIL] = {"lock_fail",
        "INSERT INTO login_attempts AS a (email_hash, failures, window_started_at, locked_until)"
        " VALUES (decode($1, 'hex'), 1, now(),"
        " CASE WHEN 1 >= $3::int THEN now() + make_interval(secs => $4::int) END)"
        " ON CONFLICT (email_hash) DO UPDATE SET"
        " failures = CASE WHEN a.window_started_at < now() - make_interval(secs => $2::int)"
        "   OR a.locked_until <= now() THEN 1 ELSE a.failures + 1 END,"
        " window_started_at = CASE"
        " WHEN a.window_started_at < now() - make_interval(secs => $2::int)"
        "   OR a.locked_until <= now() THEN now() ELSE a.window_started_at END,"
        " locked_until = CASE WHEN (CASE WHEN a.window_started_at < now()"
        "   - make_interval(secs => $2::int) OR a.locked_until <= now() THEN 1"
        "   ELSE a.failures + 1 END) >= $3::int THEN now() + make_interval(secs => $4::int) END"
        " RETURNING failures, locked_until IS NOT NULL", 4},
    [STMT_LOCK_CLEAR] = {"lock_clear",
        "DELETE FROM login_attempts WHERE email_hash = decode($1, 'hex')", 1},

    /* verify.c */
    /* The account of an address, and whether to send nothing: a recovery
     * mailed within the minute, or an account that is suspended or banned. */
    [STMT_USER_FOR_RECOVERY] = {"user_for_recovery",
        "SELECT id, coalesce(recovery_sent_at > now() - interval '60 seconds', false)"
        " OR status <> 'active' OR coalesce(banned_until > now(), false)"
        " FROM users WHERE email = $1", 1, DB_READ},
    /* Whether the user may be given a session: active and not banned. */
    [STMT_USER_MAY_SIGN_IN] = {"user_may_sign_in",
        "SELECT 1 FROM users WHERE id = $1 AND status = 'active'"
        " AND coalesce(banned_until <= now(), true)", 1, DB_READ},
    [STMT_USER_RECOVERY_SENT] = {"user_recovery_sent",
        "UPDATE users SET recovery_sent_at = now() WHERE id = $1", 1},
    /* A confirmation sent again: only to an unconfirmed address, at most
     * once a minute (the row lock orders concurrent requests). */
    [STMT_USER_CONFIRMATION_SENT] = {"user_confirmation_sent",
        "UPDATE users SET confirmation_sent_at = now() WHERE email = $1"
        " AND email_confirmed_at IS NULL AND status = 'active'"
        " AND coalesce(banned_until <= now(), true) AND (confirmation_sent_at IS NULL"
        " OR confirmation_sent_at < now() - interval '60 seconds') RETURNING id", 1},
    /* Consumes a live token of one of the kinds in $2 (a text[] literal). */
    [STMT_OTP_CONSUME] = {"otp_consume",
        "UPDATE one_time_tokens SET used_at = now() WHERE token_hash = decode($1, 'hex')"
        " AND kind = ANY($2::text[]) AND used_at IS NULL AND expires_at > now()"
        " RETURNING user_id, kind, target", 2},
    /* Returns whether this is the address's first confirmation (the
     * caller then ends every session made before it). */
    [STMT_USER_CONFIRM_EMAIL] = {"user_confirm_email",
        "WITH i AS (UPDATE identities SET data = data || '{\"email_verified\":true}',"
        " updated_at = now() WHERE user_id = $1 AND provider = 'email')"
        " UPDATE users SET email_confirmed_at = now()"
        " WHERE id = $1 AND email_confirmed_at IS NULL RETURNING true", 1},
    [STMT_USER_APPLY_EMAIL_CHANGE] = {"user_apply_email_change",
        "WITH i AS (UPDATE identities SET email = $2::text, data = data || jsonb_build_object("
        "'email', $2::text, 'email_verified', true), updated_at = now()"
        " WHERE user_id = $1::uuid AND provider = 'email')"
        " UPDATE users SET email = $2::text, new_email = NULL, email_change_sent_at = NULL,"
        " email_confirmed_at = now() WHERE id = $1::uuid AND new_email = $2::text RETURNING id", 2},
    /* No row when the last request is less than $3 seconds old. */
    [STMT_USER_REQUEST_EMAIL_CHANGE] = {"user_request_email_change",
        "UPDATE users SET new_email = $2, email_change_sent_at = now() WHERE id = $1"
        " AND (email = $2 OR email_change_sent_at IS NULL"
        " OR email_change_sent_at <= now() - make_interval(secs => $3::int))"
        " RETURNING email", 3},

    /* otp.c: a new token of a kind voids the older unused ones */
    /* A new token of a kind: the user's older ones of that kind go, live,
     * used or expired (so the table holds no dead rows). */
    [STMT_OTP_VOID] = {"otp_void",
        "DELETE FROM one_time_tokens WHERE user_id = $1 AND kind = $2", 2},
    [STMT_OTP_INSERT] = {"otp_insert",
        "INSERT INTO one_time_tokens (user_id, kind, token_hash, otp_hash, target, expires_at)"
        " VALUES ($1, $2, decode($3, 'hex'), decode($4, 'hex'), $5,"
        " now() + make_interval(secs => $6::int))", 6},
    /* The live codes sent to an address, locked: a guess is checked in C. */
    [STMT_OTP_LIVE_CODES] = {"otp_live_codes",
        "SELECT id, user_id, encode(otp_hash, 'hex'), kind, target FROM one_time_tokens"
        " WHERE target = $1 AND kind = ANY($2::text[]) AND used_at IS NULL"
        " AND expires_at > now() ORDER BY id FOR UPDATE", 2},
    [STMT_OTP_USE] = {"otp_use",
        "UPDATE one_time_tokens SET used_at = now() WHERE id = $1::bigint", 1},
    /* A wrong code: counted on every live code of the address and kinds;
     * the $3-th failure voids them. */
    [STMT_OTP_MISS] = {"otp_miss",
        "UPDATE one_time_tokens SET failures = failures + 1,"
        " used_at = CASE WHEN failures + 1 >= $3::int THEN now() END"
        " WHERE target = $1 AND kind = ANY($2::text[]) AND used_at IS NULL"
        " AND expires_at > now()", 3},

    [STMT_OUTBOX_INSERT] = {"outbox_insert",
        "INSERT INTO outbox (event) VALUES ($1::jsonb) RETURNING id", 1},
    /* An event with a code and a link: the event row, and its secrets beside it. */
    /* Codes and links older than $1 seconds ([auth] otp_ttl) opened nothing
     * any more: they go. */
    [STMT_OUTBOX_SECRETS_PRUNE] = {"outbox_secrets_prune",
        "DELETE FROM outbox_secrets s USING outbox o WHERE o.id = s.event_id"
        " AND o.created_at < now() - make_interval(secs => $1::int)", 1},
    [STMT_OUTBOX_INSERT_SECRET] = {"outbox_insert_secret",
        "WITH o AS (INSERT INTO outbox (event) VALUES ($1::jsonb) RETURNING id),"
        " s AS (INSERT INTO outbox_secrets (event_id, otp, link) SELECT id, $2, $3 FROM o)"
        " SELECT id FROM o", 3},
    [STMT_OUTBOX_PUBLISHED] = {"outbox_published",
        "UPDATE outbox SET published_at = now() WHERE id = $1::bigint", 1},
    /* Rows to put on the stream (again): never published and older than $1
     * seconds, or published $3 seconds ago and still not done. */
    [STMT_OUTBOX_UNPUBLISHED] = {"outbox_unpublished",
        "SELECT id, event::text FROM (SELECT id, event FROM outbox WHERE published_at IS NULL"
        "  AND created_at < now() - make_interval(secs => $1::int)"
        " UNION ALL SELECT id, event FROM outbox WHERE done_at IS NULL"
        "  AND published_at < now() - make_interval(secs => $3::int)) o"
        " ORDER BY id LIMIT $2::int", 3, DB_READ},
    /* Every delivery row of a batch of events ($1: '{id,id,...}'): state,
     * attempts, and whether a retry is not due yet; an event still in the
     * outbox without deliveries has one row with NULLs, a pruned one none. */
    /* ..., and the code and link the event's mail carries (columns 5, 6). */
    [STMT_DELIVERY_STATES] = {"delivery_states",
        "SELECT o.id, d.channel, d.state, d.attempts, coalesce(d.next_attempt_at > now(), false),"
        " s.otp, s.link"
        " FROM outbox o LEFT JOIN deliveries d ON d.event_id = o.id"
        " LEFT JOIN outbox_secrets s ON s.event_id = o.id"
        " WHERE o.id = ANY($1::bigint[])", 1, DB_READ},
    /* umsctl events status: unpublished rows, deliveries waiting for a retry
     * (both through partial indexes). */
    [STMT_OUTBOX_STATUS] = {"outbox_status",
        "SELECT (SELECT count(*) FROM outbox WHERE published_at IS NULL),"
        " (SELECT count(*) FROM deliveries WHERE state = 'pending'),"
        " (SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0) FROM outbox"
        "  WHERE done_at IS NULL),"
        " (SELECT coalesce(extract(epoch FROM max(done_at)), 0) FROM outbox"
        "  WHERE done_at IS NOT NULL)", 0, DB_READ},
    /* Deletes up to $2 outbox rows done more than $1 days ago (their
     * deliveries go with them). */
    [STMT_OUTBOX_PRUNE] = {"outbox_prune",
        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox"
        " WHERE done_at < now() - make_interval(days => $1::int)"
        " ORDER BY done_at LIMIT $2::int FOR UPDATE SKIP LOCKED)", 2},
    /* The outcomes of a batch and the events it finished, in one statement
     * (so both or neither): $1 a JSON array of {event_id, channel, state,
     * last_error, retry_ms} (a retry_ms schedules the next attempt), $2 the
     * ids of the events now done ('{id,...}'). A final email, and a done
     * event, take the event's one-time code and link along. */
    [STMT_DELIVERY_RECORDS] = {"delivery_records",
        "WITH r AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(event_id bigint,"
        " channel text, state text, last_error text, retry_ms double precision)),"
        " d AS (INSERT INTO deliveries AS d (event_id, channel, state, attempts, last_error,"
        "  next_attempt_at) SELECT event_id, channel, state, 1, last_error,"
        "  now() + make_interval(secs => retry_ms / 1000) FROM r"
        "  WHERE EXISTS (SELECT 1 FROM outbox o WHERE o.id = r.event_id)"
        "  ON CONFLICT (event_id, channel) DO UPDATE SET state = excluded.state,"
        "  attempts = d.attempts + 1, last_error = excluded.last_error,"
        "  next_attempt_at = excluded.next_attempt_at, updated_at = now())"
        /* A mail that was sent needs its code and link no more (a failed one
         * keeps them for umsctl events retry-dead, until they expire). */
        " , s AS (DELETE FROM outbox_secrets WHERE event_id IN"
        "  (SELECT event_id FROM r WHERE channel = 'email' AND state = 'sent'))"
        " UPDATE outbox SET done_at = coalesce(done_at, now())"
        " WHERE id = ANY($2::bigint[]) AND done_at IS NULL", 2},
    [STMT_DELIVERY_RESET] = {"delivery_reset",
        "DELETE FROM deliveries WHERE event_id = $1::bigint AND channel = $2 AND state = 'failed'",
        2},
    /* The recipients of a batch's user events ($1: [{event_id, user_id,
     * kind}]): address, name, their switches for the kind (NULL: default)
     * and whether they have a device for push. */
    [STMT_NOTIFY_TARGETS] = {"notify_targets",
        "SELECT t.event_id, u.email, u.name,"
        " (SELECT enabled FROM notification_preferences p WHERE p.user_id = u.id"
        "  AND p.kind = t.kind AND p.channel = 'email'),"
        " (SELECT enabled FROM notification_preferences p WHERE p.user_id = u.id"
        "  AND p.kind = t.kind AND p.channel = 'in_app'),"
        " (SELECT enabled FROM notification_preferences p WHERE p.user_id = u.id"
        "  AND p.kind = t.kind AND p.channel = 'push'),"
        " EXISTS (SELECT 1 FROM devices v WHERE v.user_id = u.id)"
        " FROM jsonb_to_recordset($1::jsonb) AS t(event_id bigint, user_id uuid, kind text)"
        " JOIN users u ON u.id = t.user_id", 1, DB_READ},
    [STMT_DEVICES_OF] = {"devices_of",
        "SELECT id, token FROM devices WHERE user_id = $1::uuid ORDER BY created_at LIMIT 20", 1,
        DB_READ},
    [STMT_DEVICE_GONE] = {"device_gone", "DELETE FROM devices WHERE id = $1::uuid", 1},
    /* The in-app notifications of a batch and their delivery records in one
     * statement ($1: [{event_id, user_id, kind, title, body}]); a user who
     * is gone gets a failed record. */
    [STMT_INAPP_MANY] = {"inapp_many",
        "WITH r AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(event_id bigint,"
        " user_id uuid, kind text, title text, body text)),"
        " n AS (INSERT INTO notifications (user_id, kind, title, body, data)"
        "  SELECT r.user_id, r.kind, r.title, r.body, jsonb_build_object('event_id', r.event_id)"
        "  FROM r JOIN users u ON u.id = r.user_id RETURNING (data->>'event_id')::bigint AS id)"
        " INSERT INTO deliveries AS d (event_id, channel, state, attempts, last_error)"
        " SELECT r.event_id, 'in_app', CASE WHEN n.id IS NULL THEN 'failed' ELSE 'sent' END, 1,"
        " CASE WHEN n.id IS NULL THEN 'the user is gone' END"
        " FROM r LEFT JOIN n ON n.id = r.event_id"
        " WHERE EXISTS (SELECT 1 FROM outbox o WHERE o.id = r.event_id)"
        " ON CONFLICT (event_id, channel) DO UPDATE SET state = excluded.state,"
        " attempts = d.attempts + 1, last_error = excluded.last_error, next_attempt_at = NULL,"
        " updated_at = now()", 1},
    [STMT_AUDIT_INSERT] = {"audit_insert",
        "INSERT INTO audit_log (actor_id, action, target_id, ip, details)"
        " VALUES ($1::uuid, $2, $3::uuid, CASE WHEN $4 ~ '^[0-9a-fA-F:.]+$' THEN $4::inet END,"
        " coalesce($5::jsonb, '{}'))", 5},

    /* users.c: the user service (/api/v1) */
    [STMT_API_USER_GET] = {"api_user_get",
        "SELECT ums_api_user(u, p)::text FROM users u"
        " LEFT JOIN user_profiles p ON p.user_id = u.id WHERE u.id = $1", 1, DB_LAGGED},
    [STMT_API_SET_NAME] = {"api_set_name",
        "UPDATE users SET name = $2 WHERE id = $1 RETURNING id", 2},
    [STMT_API_SET_ROLE] = {"api_set_role", "SELECT ums_set_role($1::uuid, $2)", 2},
    [STMT_API_SET_STATUS] = {"api_set_status", "SELECT ums_set_status($1::uuid, $2)", 2},
    [STMT_API_SET_BAN] = {"api_set_ban", "SELECT ums_set_ban($1::uuid, $2::bigint)", 2},
    [STMT_API_DELETE] = {"api_delete", "SELECT ums_delete_user($1::uuid)", 1},
    [STMT_API_UNLOCK] = {"api_unlock",
        "UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1 RETURNING email", 1},
    /* $2: the caller's session, or NULL */
    [STMT_API_SESSIONS] = {"api_sessions",
        "SELECT coalesce(jsonb_agg(jsonb_build_object('id', s.id,"
        " 'created_at', ums_ts(s.created_at), 'refreshed_at', ums_ts(s.refreshed_at),"
        " 'expires_at', ums_ts(s.expires_at), 'user_agent', s.user_agent, 'ip', host(s.ip),"
        " 'current', coalesce(s.id = $2::uuid, false))"
        " ORDER BY s.created_at DESC, s.id), '[]')::text"
        " FROM sessions s WHERE s.user_id = $1 AND s.revoked_at IS NULL"
        " AND s.expires_at > now()", 2, DB_READ},
    [STMT_API_SESSION_REVOKE] = {"api_session_revoke",
        "UPDATE sessions SET revoked_at = now()"
        " WHERE id = $2 AND user_id = $1 AND revoked_at IS NULL RETURNING id", 2},
    /* profile.c: $3, $5, $7, $9 say whether $2, $4, $6, $8 were given */
    [STMT_PROFILE_UPSERT] = {"profile_upsert",
        "INSERT INTO user_profiles AS p (user_id, avatar_url, bio, timezone, preferences)"
        " VALUES ($1, $2, $4, $6, coalesce($8::jsonb, '{}'))"
        " ON CONFLICT (user_id) DO UPDATE SET"
        " avatar_url = CASE WHEN $3::bool THEN $2 ELSE p.avatar_url END,"
        " bio = CASE WHEN $5::bool THEN $4 ELSE p.bio END,"
        " timezone = CASE WHEN $7::bool THEN $6 ELSE p.timezone END,"
        " preferences = CASE WHEN $9::bool THEN coalesce($8::jsonb, '{}') ELSE p.preferences END",
        9},

    /* notify.c: row 0 says whether the user has a push device */
    [STMT_NOTIFY_PREFS] = {"notify_prefs",
        "SELECT k, ch, en FROM (SELECT 0 AS o, 'has_device' AS k, '' AS ch,"
        " EXISTS (SELECT 1 FROM devices WHERE user_id = $1) AS en"
        " UNION ALL SELECT 1, kind, channel, enabled FROM notification_preferences"
        " WHERE user_id = $1) t ORDER BY o", 1, DB_READ},
    [STMT_NOTIFY_PREF_SET] = {"notify_pref_set",
        "INSERT INTO notification_preferences (user_id, kind, channel, enabled)"
        " VALUES ($1, $2, $3, $4::bool) ON CONFLICT (user_id, kind, channel)"
        " DO UPDATE SET enabled = EXCLUDED.enabled", 4},
    [STMT_NOTIFY_PREF_CLEAR] = {"notify_pref_clear",
        "DELETE FROM notification_preferences WHERE user_id = $1 AND kind = $2 AND channel = $3",
        3},
    /* Marking a read notification again keeps its first read time. */
    [STMT_NOTIFY_READ_ONE] = {"notify_read_one",
        "UPDATE notifications SET read_at = coalesce(read_at, now())"
        " WHERE user_id = $1 AND id = $2::bigint RETURNING id", 2},
    [STMT_NOTIFY_READ_ALL] = {"notify_read_all",
        "UPDATE notifications SET read_at = now() WHERE user_id = $1 AND read_at IS NULL"
        " RETURNING id", 1},
    /* A token moves to the account that registered it last. */
    [STMT_DEVICE_UPSERT] = {"device_upsert",
        "INSERT INTO devices (user_id, token, platform) VALUES ($1, $2, $3)"
        " ON CONFLICT (token) DO UPDATE SET user_id = EXCLUDED.user_id,"
        " platform = EXCLUDED.platform, last_seen_at = now()"
        " RETURNING jsonb_build_object('id', id, 'platform', platform,"
        " 'created_at', ums_ts(created_at), 'last_seen_at', ums_ts(last_seen_at))::text", 3},
    [STMT_DEVICE_DELETE] = {"device_delete",
        "DELETE FROM devices WHERE user_id = $1 AND id = $2 RETURNING id", 2},
    /* An admin's message to a user: the outbox event and the audit row in
     * one statement; no row when the user does not exist. $4 actor or NULL
     * (the service key), $5 the client's address. */
    [STMT_ADMIN_MESSAGE] = {"admin_message",
        "WITH u AS (SELECT id FROM users WHERE id = $1::uuid),"
        " o AS (INSERT INTO outbox (event) SELECT jsonb_build_object('type', 'admin.message',"
        "  'user_id', u.id, 'title', $2::text, 'message', $3::text, 'actor_id', $4::uuid)"
        "  FROM u RETURNING id, event),"
        " a AS (INSERT INTO audit_log (actor_id, action, target_id, ip, details)"
        "  SELECT $4::uuid, 'admin.message', $1::uuid,"
        "  CASE WHEN $5 ~ '^[0-9a-fA-F:.]+$' THEN $5::inet END,"
        "  jsonb_build_object('event_id', o.id) FROM o)"
        " SELECT id, event::text FROM o", 5},

    /* oauth.c: one row per /authorize (sql/017_oauth.sql). Expired rows go
     * as new ones come. */
    [STMT_OAUTH_FLOW_INSERT] = {"oauth_flow_insert",
        "WITH gone AS (DELETE FROM oauth_flows WHERE id IN (SELECT id FROM oauth_flows"
        " WHERE expires_at < now() - interval '1 hour' LIMIT 100))"
        " INSERT INTO oauth_flows (state_hash, provider, provider_verifier, nonce, code_challenge,"
        " code_challenge_method, redirect_to, link_user_id, link_session_id, expires_at)"
        " VALUES (decode($1, 'hex'), $2, $3, $4, $5, $6, $7, $8::uuid, $10::uuid,"
        " now() + make_interval(secs => $9::int))", 10},
    /* The callback's state, taken once: taken is false for a replay (used)
     * or an expired state; no row for an unknown one. The last column: the
     * session that began a link still lives. */
    [STMT_OAUTH_FLOW_TAKE] = {"oauth_flow_take",
        "WITH f AS (SELECT * FROM oauth_flows WHERE state_hash = decode($1, 'hex') FOR UPDATE),"
        " u AS (UPDATE oauth_flows o SET used_at = now() FROM f WHERE o.id = f.id"
        " AND f.used_at IS NULL AND f.expires_at > now() RETURNING o.id)"
        " SELECT f.id, f.provider, f.provider_verifier, f.nonce, f.code_challenge IS NOT NULL,"
        " f.redirect_to, f.link_user_id, (SELECT count(*) FROM u) = 1, f.used_at IS NOT NULL,"
        " f.link_session_id IS NULL OR EXISTS (SELECT 1 FROM sessions s"
        " WHERE s.id = f.link_session_id AND s.revoked_at IS NULL AND s.expires_at > now())"
        " FROM f", 1},
    [STMT_OAUTH_FLOW_CODE] = {"oauth_flow_code",
        "UPDATE oauth_flows SET user_id = $2, auth_code_hash = decode($3, 'hex'),"
        " auth_code_expires_at = now() + make_interval(secs => $6::int),"
        " provider_token = $4, provider_refresh_token = $5 WHERE id = $1", 6},
    [STMT_OAUTH_FLOW_DELETE] = {"oauth_flow_delete",
        "DELETE FROM oauth_flows WHERE id = $1", 1},
    [STMT_OAUTH_CODE_LOOK] = {"oauth_code_look",
        "SELECT id, user_id, code_challenge, code_challenge_method,"
        " auth_code_expires_at <= now(), provider FROM oauth_flows"
        " WHERE auth_code_hash = decode($1, 'hex')", 1, DB_READ},
    /* The auth code's one use: whoever deletes the row has it. */
    [STMT_OAUTH_CODE_TAKE] = {"oauth_code_take",
        "DELETE FROM oauth_flows WHERE id = $1 AND auth_code_hash = decode($2, 'hex')"
        " RETURNING provider_token, provider_refresh_token", 2},
    /* oauth_link.c: identities and the accounts they sign in to. */
    [STMT_IDENTITY_FIND] = {"identity_find",
        "SELECT i.id, i.user_id FROM identities i"
        " WHERE i.provider = $1 AND i.provider_subject = $2 FOR UPDATE", 2},
    [STMT_IDENTITY_TOUCH] = {"identity_touch",
        "UPDATE identities SET data = $2::jsonb, email = nullif($3, ''), last_sign_in_at = now(),"
        " updated_at = now() WHERE id = $1", 3},
    [STMT_IDENTITY_INSERT] = {"identity_insert",
        "INSERT INTO identities (user_id, provider, provider_subject, email, data, last_sign_in_at)"
        " VALUES ($1, $2, $3, nullif($4, ''), $5::jsonb, now())"
        " ON CONFLICT (provider, provider_subject) DO NOTHING RETURNING id", 5},
    [STMT_IDENTITIES_OF_USER] = {"identities_of_user",
        "SELECT id, provider, provider_subject FROM identities WHERE user_id = $1"
        " ORDER BY created_at, id FOR UPDATE", 1},
    [STMT_IDENTITY_DELETE] = {"identity_delete",
        "DELETE FROM identities WHERE id = $1 AND user_id = $2", 2},
    [STMT_USER_BY_EMAIL_LOCK] = {"user_by_email_lock",
        "SELECT id FROM users WHERE email = $1 FOR UPDATE", 1},
    /* Whether the account may sign in: active, not banned; and confirmed. */
    [STMT_USER_STATE_LOCK] = {"user_state_lock",
        "SELECT status = 'active' AND coalesce(banned_until <= now(), true),"
        " email_confirmed_at IS NOT NULL FROM users WHERE id = $1 FOR UPDATE", 1},
    [STMT_USER_INSERT_OAUTH] = {"user_insert_oauth",
        "INSERT INTO users (email, password_hash, name, user_metadata, email_confirmed_at)"
        " VALUES ($1, '', $2, $3::jsonb, now()) ON CONFLICT (email) DO NOTHING RETURNING id", 3},
    /* A provider proved the address of an account that never confirmed it
     * (sql/017_oauth.sql); the sessions go after the commit. */
    [STMT_USER_TAKEOVER] = {"user_takeover",
        "SELECT ums_oauth_takeover($1, $2, $3::jsonb)", 3},
    /* The provider's claims fill what user_metadata does not have yet. */
    [STMT_USER_FILL_METADATA] = {"user_fill_metadata",
        "UPDATE users SET user_metadata = $2::jsonb || user_metadata WHERE id = $1"
        " AND octet_length(($2::jsonb || user_metadata)::text) <= 16384", 2},
    [STMT_USER_DROP_PASSWORD] = {"user_drop_password",
        "UPDATE users SET password_hash = '' WHERE id = $1", 1},
};
/* clang-format on */
