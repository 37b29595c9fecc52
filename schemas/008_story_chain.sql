-- Tamper evidence for everything that tells the story (issue 18).
--
-- 1. A message row's hash covers its conversation, from the first row
--    written after this migration (chain_head.conversations_from_id): a
--    message moved to another conversation no longer matches its hash.
-- 2. The audit trail is a chain of its own (audit_head): every search and
--    export, and now every legal hold placed or lifted and every purge, is
--    a record whose hash covers the one before. Holds are derived from it
--    (verify replays the hold records and compares), and each tombstone must
--    be accounted for by a purge record that lists it. Audit rows written
--    before this migration (id below audit_head.from_id) are not chained.
-- 3. chain_head.frontier: the Merkle tree (RFC 9162) over the message
--    chain's hashes, as the roots of its perfect subtrees, so that a signed
--    checkpoint commits to a tree root and an export can prove one
--    message's place in it (core/archive/merkle.h).
ALTER TABLE chain_head ADD COLUMN conversations_from_id INTEGER NOT NULL DEFAULT 0;
UPDATE chain_head SET conversations_from_id = 1 + max(last_id,
    coalesce((SELECT max(id) FROM messages), 0), coalesce((SELECT max(id) FROM tombstones), 0));
ALTER TABLE chain_head ADD COLUMN frontier TEXT NOT NULL DEFAULT '';
-- 4. Each row links the row before it in its conversation (its hash at the
--    time, '' for the first since the migration), inside its own hash: an
--    export of a conversation shows a message left out of the middle.
--    conversations.last_hash is the writer's copy of each one's newest.
ALTER TABLE messages ADD COLUMN conversation_previous TEXT NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN last_hash TEXT NOT NULL DEFAULT '';
-- Seeded with each conversation's newest row, so that the first row written
-- after the migration links it (an export then shows older rows left out).
UPDATE conversations SET last_hash = coalesce((SELECT hash FROM messages WHERE conversation_id = conversations.id
    ORDER BY id DESC LIMIT 1), '');

ALTER TABLE audit ADD COLUMN hash TEXT NOT NULL DEFAULT '';
-- base64 Ed25519 signature of `hash` by the hop's checkpoint key: set on
-- the purges the hop's own retention makes, empty on everything else.
ALTER TABLE audit ADD COLUMN signature TEXT NOT NULL DEFAULT '';
CREATE TABLE audit_head (
  id        INTEGER PRIMARY KEY CHECK (id = 1),
  last_id   INTEGER NOT NULL,
  last_hash TEXT NOT NULL,
  rows      INTEGER NOT NULL,
  from_id   INTEGER NOT NULL
);
INSERT INTO audit_head (id, last_id, last_hash, rows, from_id)
  SELECT 1, 0, '', 0, 1 + coalesce((SELECT max(id) FROM audit), 0);
