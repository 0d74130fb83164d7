-- 011_otp_guard.sql: one-time codes can no longer be guessed.
-- A wrong code counts against the live codes of that address and kind;
-- the fifth voids them. Links carry their own random token (token_hash is
-- the SHA-256 of it), no longer a hash of the address and the code.
ALTER TABLE one_time_tokens ADD COLUMN failures int NOT NULL DEFAULT 0;
-- Links made before this migration were SHA-224(email || code), as
-- guessable as the code: every token made before goes (the owners ask for
-- a new one). From now on used and expired rows are deleted when the
-- user's next token of that kind is made.
DELETE FROM one_time_tokens;
-- A code is looked up by the address it was sent to.
CREATE INDEX one_time_tokens_target_live ON one_time_tokens (target, kind) WHERE used_at IS NULL;
