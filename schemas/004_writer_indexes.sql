-- Cheaper indexes for the archive writer. Every pager message
-- that opens a conversation paid for an entry in conversations_call_id
-- (always NULL for pagers), and every session one for an entry in
-- conversations_participants (only the pager lookup reads it). Neither is
-- read by queries. Partial indexes keep only the rows their lookups ask for:
--   kind = 'session' AND call_id = ?        -> conversations_call_id
--   kind = 'pager' AND participants = ? ... -> conversations_participants
DROP INDEX conversations_call_id;
CREATE INDEX conversations_call_id ON conversations(call_id) WHERE call_id IS NOT NULL;
DROP INDEX conversations_participants;
CREATE INDEX conversations_participants ON conversations(participants, last_ms) WHERE kind = 'pager';

-- FTS5 merges its segments less often: a level is merged when it holds 8
-- segments instead of 4, about half the rewriting per row. A query reads
-- at most 7 segments per level instead of 3 (the two-word query on 1M
-- messages is in bench/RESULTS.md).
INSERT INTO messages_fts (messages_fts, rank) VALUES ('automerge', 8);
