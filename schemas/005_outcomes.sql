-- Final response codes under tamper evidence. A message row is sealed when
-- it is written, before its final response is known, so the code cannot be
-- part of the row's hash. Each code is instead an outcome record of a second
-- chain: SHA-256 over the previous outcome's hash, the message's id and
-- hash, and the code. Queries read the newest outcome's code; since
-- session 5 messages.final_code keeps the code the row was written with (0,
-- or one an outcome of it seals), which `archive verify` checks (rows
-- written before then hold the newest code). Messages written before this migration (id below
-- chain_head.outcomes_from_id) have codes no outcome covers; verify counts
-- them instead of failing, so older archives still verify.
CREATE TABLE outcomes (
  id          INTEGER PRIMARY KEY,
  message_id  INTEGER NOT NULL,   -- messages.id (or a tombstone's, once purged)
  final_code  INTEGER NOT NULL,
  hash        TEXT NOT NULL
);
CREATE INDEX outcomes_message ON outcomes(message_id, id);

ALTER TABLE chain_head ADD COLUMN outcomes_last_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE chain_head ADD COLUMN outcomes_last_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE chain_head ADD COLUMN outcomes_rows INTEGER NOT NULL DEFAULT 0;
ALTER TABLE chain_head ADD COLUMN outcomes_from_id INTEGER NOT NULL DEFAULT 1;
UPDATE chain_head SET outcomes_from_id = 1 + max(last_id,
    coalesce((SELECT max(id) FROM messages), 0), coalesce((SELECT max(id) FROM tombstones), 0));
