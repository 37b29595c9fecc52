#pragma once
// What a search asks for, shared by the command line and the HTTP API: the
// same names (participant, from, to, since, until, text, verdict, rule, tag,
// call_id, unreadable, limit, cursor) parsed the same way, so a query typed at the shell
// and one sent by the console mean the same thing.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace sipwarden::query {

// A filter the caller got wrong; what() names it ("since: ...").
class QueryError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The archive could not be read (missing, locked too long, corrupt): not
// the user's fault. The API answers 503, the command line exits 1.
class ArchiveReadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Filters {
  std::string participant;  // address of record, either side
  std::string from;         // sender (messages) or caller (calls)
  std::string to;           // recipient or callee
  std::optional<std::int64_t> sinceMs;
  std::optional<std::int64_t> untilMs;
  std::string text;         // FTS5 query syntax
  std::string verdict;      // delivered, blocked, modified, failed
  std::string rule;
  std::string tag;          // key=value
  std::string callId;
  std::string disposition;  // calls only
  bool unreadable = false;  // only messages whose text could not be read
  int limit = 50;
  std::string cursor;       // opaque, from the previous page
};

constexpr int kMaxLimit = 1000;

// Called by the CLI and the HTTP API with the name/value pairs the user gave
// (names as in the API: call_id, not --call-id). Unknown names, bad dates,
// bad verdicts and limits out of 1..kMaxLimit throw QueryError naming the
// parameter. `localTime`: absolute dates without a zone are local time (the
// command line) rather than UTC (the API).
Filters parseFilters(const std::vector<std::pair<std::string, std::string>>& params, std::int64_t nowMs,
                     bool localTime);

// "7d", "12h", "30m", "2w" (before now), or an absolute date:
// "2026-11-20", "2026-11-20T10:00", "2026-11-20 10:00:00", optionally with
// "Z"; or milliseconds since the epoch. Throws QueryError (without a name),
// also for dates and times that do not exist (2026-02-31, 25:00), which
// are never rolled over into the next month or day.
std::int64_t parseTime(const std::string& text, std::int64_t nowMs, bool localTime);

// "sip:Alice@Example.COM" -> "Alice@example.com", as the archive stores AORs.
std::string normalizeAor(const std::string& text);

// The filters back as a query string (for the audit trail and for links);
// empty values are left out, the cursor too.
std::string describe(const Filters& filters);

// Pagination cursors: opaque to the user, checked on the way back in.
std::string encodeCursor(char kind, std::int64_t time, std::int64_t id);
// Throws QueryError("cursor: ...") when malformed or of another kind.
std::pair<std::int64_t, std::int64_t> decodeCursor(const std::string& cursor, char kind);

std::int64_t nowMillis();

}  // namespace sipwarden::query
