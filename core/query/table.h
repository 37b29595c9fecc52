#pragma once
// Text renderings for the command line: aligned tables (long text cut with
// an ellipsis, times in local time unless UTC is asked for), CSV (RFC 4180,
// full text), and a conversation's transcript.

#include <string>
#include <vector>

#include "query/reader.h"

namespace sipwarden::query {

struct TableStyle {
  bool utc = false;
  std::size_t textWidth = 48;  // table cells are cut to this many characters
};

// "2026-11-25 03:25:20" in local time, or UTC.
std::string formatTime(std::int64_t ms, bool utc);
// Cuts UTF-8 text to `width` characters (code points), ending in "…" when
// cut; line breaks become spaces.
std::string cut(const std::string& text, std::size_t width);

// A page of messages, conversations, calls or audit records (MessageRow,
// ConversationRow, CallRow, AuditRow) as an aligned table, or as CSV.
template <typename Row>
std::string toTable(const std::vector<Row>& rows, const TableStyle& style);
template <typename Row>
std::string toCsv(const std::vector<Row>& rows, const TableStyle& style);
// One line per message, oldest first; blocked and modified marked, the
// original text of a modified message on the line below.
std::string toTranscript(const Transcript& transcript, const TableStyle& style);

}  // namespace sipwarden::query
