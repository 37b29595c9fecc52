-- sipwarden archive on PostgreSQL, version 1: the SQLite schema's tables
-- (schemas/001..006) in one step, for a database that several hops share.
-- Differences from SQLite:
--   * every message, tombstone and outcome names the hop that wrote it
--     (hop_id), and each hop has its own pair of chains in chain_head, so
--     hops never contend on one chain head;
--   * text search is a generated tsvector column with a GIN index (the
--     'simple' configuration: no stemming, like FTS5's unicode61), queried
--     in web-search syntax (websearch_to_tsquery);
--   * a session conversation is unique per Call-ID, so two hops that see
--     the two halves of one dialog find the same conversation;
--   * a final code that arrives after its row is an outcome record only
--     (no UPDATE of the row): the newest outcome is the message's code.
-- Migrations are forward-only: NNN_*.sql moves the schema from NNN-1 to NNN,
-- inside one transaction, and records it in schema_version.

CREATE TABLE schema_version (version integer NOT NULL);
INSERT INTO schema_version VALUES (0);

CREATE TABLE conversations (
  id            bigserial PRIMARY KEY,
  kind          text NOT NULL,            -- 'session' (INVITE dialog) or 'pager'
  call_id       text,                     -- the session's Call-ID
  participants  text NOT NULL,            -- sorted addresses-of-record, comma-separated
  started_ms    bigint NOT NULL,
  last_ms       bigint NOT NULL,
  legal_hold    integer NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX conversations_session ON conversations(call_id) WHERE kind = 'session';
CREATE INDEX conversations_participants ON conversations(participants, last_ms) WHERE kind = 'pager';
CREATE INDEX conversations_last ON conversations(last_ms);

CREATE TABLE messages (
  id              bigserial PRIMARY KEY,
  hop_id          text NOT NULL,           -- the hop whose chain holds this row
  conversation_id bigint NOT NULL REFERENCES conversations(id),
  time_ms         bigint NOT NULL,         -- UTC milliseconds
  direction       text NOT NULL,
  sender          text NOT NULL,
  sender_name     text NOT NULL DEFAULT '',
  recipient       text NOT NULL,
  recipient_name  text NOT NULL DEFAULT '',
  call_id         text NOT NULL,
  cseq            bigint NOT NULL,
  content_type    text NOT NULL DEFAULT '',
  text            text NOT NULL DEFAULT '',
  original_text   text,
  verdict         text NOT NULL,
  rules           text NOT NULL DEFAULT '',
  tags            text NOT NULL DEFAULT '',
  final_code      integer NOT NULL DEFAULT 0,  -- as written; later codes are outcomes only
  source          text NOT NULL DEFAULT '',
  transport       text NOT NULL DEFAULT '',
  hash            text NOT NULL,
  -- Words as written ("budget.exe") and split at punctuation ("budget",
  -- "exe"), as FTS5's unicode61 tokenizer splits them.
  text_search     tsvector GENERATED ALWAYS AS (to_tsvector('simple', text) ||
                    to_tsvector('simple', regexp_replace(text, '[[:punct:]]+', ' ', 'g'))) STORED,
  UNIQUE (call_id, cseq, sender)           -- a request is archived once, whichever hop saw it
);
CREATE INDEX messages_time ON messages(time_ms);
CREATE INDEX messages_conversation ON messages(conversation_id, time_ms);
CREATE INDEX messages_sender ON messages(sender, time_ms);
CREATE INDEX messages_recipient ON messages(recipient, time_ms);
CREATE INDEX messages_verdict ON messages(verdict, time_ms) WHERE verdict <> 'delivered';
CREATE INDEX messages_hop ON messages(hop_id, id);
CREATE INDEX messages_text ON messages USING gin (text_search);

CREATE TABLE calls (
  id             bigserial PRIMARY KEY,
  call_id        text NOT NULL UNIQUE,
  caller         text NOT NULL,
  callee         text NOT NULL,
  invite_ms      bigint NOT NULL,
  ringing_ms     bigint,
  answer_ms      bigint,
  end_ms         bigint,
  duration_ms    bigint,
  disposition    text NOT NULL DEFAULT 'in_progress',
  end_code       integer NOT NULL DEFAULT 0,
  ended_by       text NOT NULL DEFAULT '',
  media          text NOT NULL DEFAULT '',
  closed_by_timer integer NOT NULL DEFAULT 0
);
CREATE INDEX calls_time ON calls(invite_ms);
CREATE INDEX calls_caller ON calls(caller, invite_ms);
CREATE INDEX calls_callee ON calls(callee, invite_ms);

CREATE TABLE file_transfers (
  id        bigserial PRIMARY KEY,
  call_id   text NOT NULL,
  name      text NOT NULL,
  size      bigint,
  blocked   integer NOT NULL,
  time_ms   bigint NOT NULL
);

-- Each hop's chain ends, so that removing a hop's newest rows is detected.
CREATE TABLE chain_head (
  hop_id             text PRIMARY KEY,
  last_id            bigint NOT NULL DEFAULT 0,
  last_hash          text NOT NULL DEFAULT '',
  rows               bigint NOT NULL DEFAULT 0,
  outcomes_last_id   bigint NOT NULL DEFAULT 0,
  outcomes_last_hash text NOT NULL DEFAULT '',
  outcomes_rows      bigint NOT NULL DEFAULT 0,
  -- Rows below this id were migrated from an archive older than its outcome
  -- records (SQLite schema < 005): their final codes are not sealed.
  outcomes_from_id   bigint NOT NULL DEFAULT 0
);

CREATE TABLE tombstones (
  id        bigint PRIMARY KEY,   -- the purged message's id
  hop_id    text NOT NULL,
  hash      text NOT NULL,
  purged_ms bigint NOT NULL
);

CREATE TABLE holds (
  id         bigserial PRIMARY KEY,
  kind       text NOT NULL CHECK (kind IN ('participant', 'conversation')),
  value      text NOT NULL,
  created_ms bigint NOT NULL,
  UNIQUE (kind, value)
);

CREATE TABLE audit (
  id       bigserial PRIMARY KEY,
  time_ms  bigint NOT NULL,
  who      text NOT NULL,
  action   text NOT NULL,
  query    text NOT NULL,
  results  bigint NOT NULL
);
CREATE INDEX audit_time ON audit(time_ms);

-- Final codes under tamper evidence (see schemas/005_outcomes.sql): a
-- second chain per hop. message_id may name another hop's message (the
-- hop that saw the final response seals it).
CREATE TABLE outcomes (
  id          bigserial PRIMARY KEY,
  hop_id      text NOT NULL,
  message_id  bigint NOT NULL,
  final_code  integer NOT NULL,
  hash        text NOT NULL
);
CREATE INDEX outcomes_message ON outcomes(message_id, id);
CREATE INDEX outcomes_hop ON outcomes(hop_id, id);
