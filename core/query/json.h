#pragma once
// JSON for query results, one shape for the HTTP API, `--format json` and
// the JSON export. Times are UTC milliseconds plus an ISO 8601 string, so a
// script needs no date parsing and a person can still read the output.

#include <string>
#include <string_view>

#include "query/reader.h"

namespace sipwarden::query {

// A JSON string literal (quotes included); well-formed UTF-8 passes
// through, control characters (NUL included) are escaped, and bytes that
// are not well-formed UTF-8 become U+FFFD, so the result is valid UTF-8
// and valid JSON whatever bytes the archive holds.
std::string jsonString(const std::string& text);
// RFC 4648 base64 in one line (no breaks), for bytes that must cross JSON
// intact (a message's raw body, a policy test's wire message).
std::string base64(std::string_view bytes);
// "2026-11-25T02:25:20.123Z"
std::string isoUtc(std::int64_t ms);

std::string toJson(const MessageRow& row);
std::string toJson(const ConversationRow& row);
std::string toJson(const CallRow& row);
std::string toJson(const AuditRow& row);
std::string toJson(const Stats& stats);
std::string toJson(const Transcript& transcript);

// {"items": [...], "next_cursor": "..." | null}
template <typename Row>
std::string toJson(const Page<Row>& page) {
  std::string out = "{\"items\":[";
  for (std::size_t i = 0; i < page.rows.size(); ++i) {
    if (i) out += ',';
    out += toJson(page.rows[i]);
  }
  out += "],\"next_cursor\":";
  out += page.nextCursor.empty() ? "null" : jsonString(page.nextCursor);
  out += '}';
  return out;
}

}  // namespace sipwarden::query
