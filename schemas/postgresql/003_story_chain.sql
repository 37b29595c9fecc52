-- The SQLite schema's 008_story_chain.sql: conversations in the message
-- hash from conversations_from_id on (per hop), the Merkle frontier per
-- hop's chain, and the audit trail as one chain shared by every hop and
-- client (audit_head, locked FOR UPDATE by whoever appends).
ALTER TABLE chain_head ADD COLUMN conversations_from_id bigint NOT NULL DEFAULT 0;
UPDATE chain_head h SET conversations_from_id = 1 + greatest(h.last_id,
    coalesce((SELECT max(id) FROM messages), 0), coalesce((SELECT max(id) FROM tombstones), 0));
ALTER TABLE chain_head ADD COLUMN frontier text NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN conversation_previous text NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN last_hash text NOT NULL DEFAULT '';
UPDATE conversations c SET last_hash = coalesce((SELECT hash FROM messages WHERE conversation_id = c.id
    ORDER BY id DESC LIMIT 1), '');

ALTER TABLE audit ADD COLUMN hash text NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN signature text NOT NULL DEFAULT '';
CREATE TABLE audit_head (
  id        integer PRIMARY KEY CHECK (id = 1),
  last_id   bigint NOT NULL,
  last_hash text NOT NULL,
  rows      bigint NOT NULL,
  from_id   bigint NOT NULL
);
INSERT INTO audit_head (id, last_id, last_hash, rows, from_id)
  SELECT 1, 0, '', 0, 1 + coalesce((SELECT max(id) FROM audit), 0);
