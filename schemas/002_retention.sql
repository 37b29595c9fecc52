-- Retention and legal hold.
-- A purged message leaves a tombstone with its hash, so the tamper-evidence
-- chain still verifies across the gap; holds keep conversations and
-- participants out of every purge.
CREATE TABLE tombstones (
  id        INTEGER PRIMARY KEY,   -- the purged message's id
  hash      TEXT NOT NULL,
  purged_ms INTEGER NOT NULL
);

CREATE TABLE holds (
  id         INTEGER PRIMARY KEY,
  kind       TEXT NOT NULL CHECK (kind IN ('participant', 'conversation')),
  value      TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  UNIQUE (kind, value)
);
