-- Querying the archive: an audit trail of every search and export, and
-- indexes for the call log's participant filters.
CREATE TABLE audit (
  id       INTEGER PRIMARY KEY,
  time_ms  INTEGER NOT NULL,          -- UTC milliseconds
  who      TEXT NOT NULL,             -- token name ("api:NAME") or local user ("cli:NAME")
  action   TEXT NOT NULL,             -- messages, conversations, conversation, calls, stats, export, audit
  query    TEXT NOT NULL,             -- the filters, as a query string
  results  INTEGER NOT NULL           -- rows returned (files written for an export)
);
CREATE INDEX audit_time ON audit(time_ms);

-- Totals by verdict (/api/v1/stats) and verdict filters read this index
-- instead of every row.
CREATE INDEX messages_verdict ON messages(verdict, time_ms);

-- Conversations newest first without sorting them all.
CREATE INDEX conversations_last ON conversations(last_ms);

CREATE INDEX calls_caller ON calls(caller, invite_ms);
CREATE INDEX calls_callee ON calls(callee, invite_ms);
