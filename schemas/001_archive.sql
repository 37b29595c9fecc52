-- sipwarden archive, version 1: conversations, messages (with full-text
-- index and tamper-evidence chain), calls and file transfers.
-- Migrations are forward-only: each file NNN_*.sql moves the schema from
-- version NNN-1 to NNN and is applied inside one transaction.

CREATE TABLE conversations (
  id            INTEGER PRIMARY KEY,
  kind          TEXT NOT NULL,            -- 'session' (INVITE dialog) or 'pager'
  call_id       TEXT,                     -- the session's Call-ID
  participants  TEXT NOT NULL,            -- sorted addresses-of-record, comma-separated
  started_ms    INTEGER NOT NULL,
  last_ms       INTEGER NOT NULL,
  legal_hold    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX conversations_participants ON conversations(participants, last_ms);
CREATE INDEX conversations_call_id ON conversations(call_id);

CREATE TABLE messages (
  id              INTEGER PRIMARY KEY,
  conversation_id INTEGER NOT NULL REFERENCES conversations(id),
  time_ms         INTEGER NOT NULL,        -- UTC milliseconds
  direction       TEXT NOT NULL,           -- 'from_client' or 'from_upstream'
  sender          TEXT NOT NULL,
  sender_name     TEXT NOT NULL DEFAULT '',
  recipient       TEXT NOT NULL,
  recipient_name  TEXT NOT NULL DEFAULT '',
  call_id         TEXT NOT NULL,
  cseq            INTEGER NOT NULL,
  content_type    TEXT NOT NULL DEFAULT '',
  text            TEXT NOT NULL DEFAULT '', -- as delivered
  original_text   TEXT,                     -- when a filter changed it
  verdict         TEXT NOT NULL,            -- delivered, blocked, modified, failed
  rules           TEXT NOT NULL DEFAULT '', -- rules that fired, comma-separated
  tags            TEXT NOT NULL DEFAULT '', -- key=value, comma-separated
  final_code      INTEGER NOT NULL DEFAULT 0, -- recorded when known; outside the hash chain
  source          TEXT NOT NULL DEFAULT '',
  transport       TEXT NOT NULL DEFAULT '',
  hash            TEXT NOT NULL,            -- SHA-256 over the previous row's hash and this row
  UNIQUE (call_id, cseq, sender)            -- a request is archived once
);
CREATE INDEX messages_time ON messages(time_ms);
CREATE INDEX messages_conversation ON messages(conversation_id, time_ms);
CREATE INDEX messages_sender ON messages(sender, time_ms);
CREATE INDEX messages_recipient ON messages(recipient, time_ms);

CREATE VIRTUAL TABLE messages_fts USING fts5(text, content='messages', content_rowid='id');

CREATE TABLE calls (
  id             INTEGER PRIMARY KEY,
  call_id        TEXT NOT NULL UNIQUE,
  caller         TEXT NOT NULL,
  callee         TEXT NOT NULL,
  invite_ms      INTEGER NOT NULL,
  ringing_ms     INTEGER,
  answer_ms      INTEGER,
  end_ms         INTEGER,
  duration_ms    INTEGER,
  disposition    TEXT NOT NULL DEFAULT 'in_progress',
  end_code       INTEGER NOT NULL DEFAULT 0,
  ended_by       TEXT NOT NULL DEFAULT '',
  media          TEXT NOT NULL DEFAULT '',
  closed_by_timer INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX calls_time ON calls(invite_ms);

CREATE TABLE file_transfers (
  id        INTEGER PRIMARY KEY,
  call_id   TEXT NOT NULL,
  name      TEXT NOT NULL,
  size      INTEGER,
  blocked   INTEGER NOT NULL,
  time_ms   INTEGER NOT NULL
);

-- The end of the tamper-evidence chain, so that removing the newest rows is
-- detected too.
CREATE TABLE chain_head (
  id        INTEGER PRIMARY KEY CHECK (id = 1),
  last_id   INTEGER NOT NULL,
  last_hash TEXT NOT NULL,
  rows      INTEGER NOT NULL
);
INSERT INTO chain_head (id, last_id, last_hash, rows) VALUES (1, 0, '', 0);
