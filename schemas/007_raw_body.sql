-- The body exactly as received (bytes intact: a BLOB, so NULs and invalid
-- UTF-8 survive and length() counts bytes), its Content-Type header as
-- received (parameters kept) and Content-Encoding, and why its text could
-- not be read ('' when it was). Since this version every instant message is
-- a row, whatever its type, so that an export reproduces what was sent.
-- The four fields enter a row's hash only when one of them is set
-- (core/archive/chain.cc): rows written before have none and verify as
-- they always did.
ALTER TABLE messages ADD COLUMN raw_body BLOB;
ALTER TABLE messages ADD COLUMN received_content_type TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN content_encoding TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN unreadable TEXT NOT NULL DEFAULT '';
-- `query --unreadable` walks only the few rows whose text was not read.
CREATE INDEX messages_unreadable ON messages(time_ms) WHERE unreadable <> '';
