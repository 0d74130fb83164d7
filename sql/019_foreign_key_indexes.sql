-- 019_foreign_key_indexes.sql: every foreign key gets an index its ON DELETE
-- CASCADE can use. Deleting a user deletes its sessions by user_id, and the
-- only index there was partial (live sessions), which that statement cannot
-- use: each deletion read the whole sessions table (measured: 1,000,000
-- users took more than 5 minutes to delete, and one user's deletion grows
-- with every session anyone ever had). one_time_tokens had only a partial
-- one (unused tokens) too, and oauth_flows' three keys had none.
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX one_time_tokens_user ON one_time_tokens (user_id);
CREATE INDEX oauth_flows_user ON oauth_flows (user_id);
CREATE INDEX oauth_flows_link_user ON oauth_flows (link_user_id);
CREATE INDEX oauth_flows_link_session ON oauth_flows (link_session_id);
