-- The table kamailio-archive.cfg inserts each MESSAGE into (see there).
PRAGMA journal_mode = WAL;
CREATE TABLE messages (
  id           INTEGER PRIMARY KEY,
  time_ms      INTEGER NOT NULL,
  sender       TEXT NOT NULL,
  recipient    TEXT NOT NULL,
  call_id      TEXT NOT NULL,
  cseq         INTEGER NOT NULL,
  content_type TEXT NOT NULL DEFAULT '',
  text         TEXT NOT NULL DEFAULT '',
  source       TEXT NOT NULL DEFAULT '',
  transport    TEXT NOT NULL DEFAULT '',
  UNIQUE (call_id, cseq, sender)
);
CREATE INDEX messages_time ON messages(time_ms);
CREATE VIRTUAL TABLE messages_fts USING fts5(text, content='messages', content_rowid='id');
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
  INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
END;
