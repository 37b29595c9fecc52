-- The body exactly as received (bytea: NULs and invalid UTF-8 survive), its
-- Content-Type header as received (parameters kept) and Content-Encoding,
-- and why its text could not be read ('' when it was): the SQLite schema's
-- 007_raw_body.sql. The four fields enter a row's hash only when one of
-- them is set, so rows written before verify as they always did.
ALTER TABLE messages ADD COLUMN raw_body bytea;
ALTER TABLE messages ADD COLUMN received_content_type text NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN content_encoding text NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN unreadable text NOT NULL DEFAULT '';
CREATE INDEX messages_unreadable ON messages(time_ms) WHERE unreadable <> '';
