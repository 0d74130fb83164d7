-- 018_session_cache_fault_xids.sql: each fault row carries the id of the
-- transaction that wrote it. Row ids are drawn when a row is inserted but
-- become visible when its transaction commits, so a worker that had read
-- id 101 could skip id 100 committed after it (a revocation by the session
-- cap's trigger inside a slow sign-in, say) and trust that session's cache
-- entry for 15 minutes. A poll now reads every row whose transaction was
-- still running at the previous poll (xid >= that snapshot's xmin), so no
-- commit order hides one (core/sessions.c, faults_poll).
ALTER TABLE session_cache_faults ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX session_cache_faults_xid ON session_cache_faults (xid);
