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

std::string toTable(const std::vector<MessageRow>& rows, const TableStyle& style);
std::string toTable(const std::vector<ConversationRow>& rows, const TableStyle& style);
std::string toTable(const std::vector<CallRow>& rows, const TableStyle& style);
std::string toTable(const std::vector<AuditRow>& rows, const TableStyle& style);
std::string toCsv(const std::vector<MessageRow>& rows, const TableStyle& style);
std::string toCsv(const std::vector<ConversationRow>& rows, const TableStyle& style);
std::string toCsv(const std::vector<CallRow>& rows, const TableStyle& style);
std::string toCsv(const std::vector<AuditRow>& rows, const TableStyle& style);
// One line per message, oldest first; blocked and modified marked, the
// original text of a modified message on the line below.
std::string toTranscript(const Transcript& transcript, const TableStyle& style);

}  // namespace sipwarden::query
