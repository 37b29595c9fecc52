-- messages_verdict holds only the rare verdicts (blocked, modified, failed):
-- nearly every row is 'delivered', and indexing those cost the writer an
-- index entry per message for a count that is the rest of the total. Queries
-- name the condition (verdict <> 'delivered') so that SQLite uses the
-- partial index; `delivered` is counted as all messages minus the others.
DROP INDEX messages_verdict;
CREATE INDEX messages_verdict ON messages(verdict, time_ms) WHERE verdict <> 'delivered';
