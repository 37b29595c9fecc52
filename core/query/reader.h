#pragma once
// Reading the archive: messages, conversations, calls, a conversation's
// transcript, totals, and the audit trail, newest first with keyset
// pagination, on either backend (query/connection.h). A Reader owns its own
// connection: it never blocks the hop's writer.
//
// One Reader per thread at a time: the HTTP server keeps a small pool.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "query/connection.h"
#include "query/filters.h"

namespace sipwarden::query {

struct MessageRow {
  std::int64_t id = 0;
  std::int64_t conversationId = 0;
  std::int64_t timeMs = 0;
  std::string direction;
  std::string sender, senderName, recipient, recipientName;
  std::string callId;
  std::string contentType;
  std::string text;
  std::optional<std::string> originalText;  // set when a filter changed the text
  std::string verdict, rules, tags;
  int finalCode = 0;
  // The body exactly as received (bytes; empty for rows archived before
  // schema 007), its Content-Type and Content-Encoding headers as received,
  // and why its text could not be read ("" when it was).
  std::string rawBody;
  std::string receivedContentType, contentEncoding;
  std::string unreadable;
};

struct ConversationRow {
  std::int64_t id = 0;
  std::string kind;  // session or pager
  std::string callId;
  std::string participants;  // comma-separated AORs
  std::int64_t startedMs = 0, lastMs = 0;
  std::int64_t messages = 0, blocked = 0, modified = 0;
  bool legalHold = false;
};

struct CallRow {
  std::int64_t id = 0;
  std::string callId, caller, callee;
  std::int64_t inviteMs = 0;
  std::optional<std::int64_t> ringingMs, answerMs, endMs, durationMs;
  std::string disposition;
  int endCode = 0;
  std::string endedBy, media;
};

struct AuditRow {
  std::int64_t id = 0;
  std::int64_t timeMs = 0;
  std::string who, action, query;
  std::int64_t results = 0;
};

template <typename Row>
struct Page {
  std::vector<Row> rows;
  std::string nextCursor;  // empty on the last page
};

struct Transcript {
  ConversationRow conversation;
  std::vector<MessageRow> messages;  // oldest first
};

struct Stats {
  std::int64_t messages = 0, delivered = 0, blocked = 0, modified = 0, failed = 0;
  std::int64_t conversations = 0, calls = 0, answeredCalls = 0;
  std::optional<std::int64_t> firstMs, lastMs;
};

class Reader {
 public:
  // Opens the archive at `url` (a SQLite file, which must exist, or a
  // PostgreSQL URI). Brings an older schema up to date first, as the hop
  // would at start. Throws ArchiveReadError.
  explicit Reader(const std::string& url);
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // Newest first (by time; with a text filter, by archive order, which is
  // arrival order); filters that do not apply to the list throw QueryError.
  Page<MessageRow> messages(const Filters& filters);
  // Conversations with at least one message matching the message filters,
  // by last activity; since/until select by activity overlapping the range.
  Page<ConversationRow> conversations(const Filters& filters);
  Page<CallRow> calls(const Filters& filters);
  // Every message of the conversation, oldest first; nullopt if there is none.
  std::optional<Transcript> conversation(std::int64_t id);
  // Totals within since/until (other filters are refused).
  Stats stats(const Filters& filters);
  Page<AuditRow> audit(const Filters& filters);

  // Appends one row to the audit trail (its own short write transaction).
  void recordAudit(const std::string& who, const std::string& action, const std::string& query,
                   std::int64_t results);

 private:
  Page<MessageRow> textSearch(const Filters& filters);

  std::unique_ptr<Connection> db_;
};

}  // namespace sipwarden::query
