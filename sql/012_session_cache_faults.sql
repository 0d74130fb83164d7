-- 012_session_cache_faults.sql: a revocation or role change whose Redis
-- cache entry could not be corrected (Redis failing or unreachable) is
-- noted here. Every ums-fcgi worker reads new rows at most a second apart
-- and checks those sessions in PostgreSQL instead of trusting the cache,
-- until their cache entries have expired (15 minutes); the rows are
-- deleted after that.
CREATE TABLE session_cache_faults (
    id         bigserial PRIMARY KEY,
    session_id uuid NOT NULL,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX session_cache_faults_at ON session_cache_faults (at);
