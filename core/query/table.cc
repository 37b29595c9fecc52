#include "query/table.h"

#include <ctime>

namespace sipwarden::query {
namespace {

using Cells = std::vector<std::string>;

std::size_t width(const std::string& text) {
  std::size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;  // count code point starts
  return n;
}

std::string render(const Cells& header, const std::vector<Cells>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& cell : header) widths.push_back(width(cell));
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], width(row[i]));
  }
  auto line = [&widths](const Cells& cells) {
    std::string out;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      out += cells[i];
      if (i + 1 < cells.size()) out += std::string(widths[i] - width(cells[i]) + 2, ' ');
    }
    return out + "\n";
  };
  std::string out = line(header);
  for (const auto& row : rows) out += line(row);
  return out;
}

std::string csvField(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string csv(const Cells& header, const std::vector<Cells>& rows) {
  auto line = [](const Cells& cells) {
    std::string out;
    for (std::size_t i = 0; i < cells.size(); ++i) out += (i ? "," : "") + csvField(cells[i]);
    return out + "\r\n";
  };
  std::string out = line(header);
  for (const auto& row : rows) out += line(row);
  return out;
}


std::string seconds(const std::optional<std::int64_t>& ms) {
  if (!ms) return "-";
  return std::to_string(*ms / 1000) + "." + std::to_string(*ms % 1000 / 100) + "s";
}

std::string timeHeader(bool utc) { return utc ? "TIME (UTC)" : "TIME"; }

// A message whose text could not be read is marked where its text stands
// (its bytes are in the archive: `--format json`, an export).
std::string unreadableMark(const MessageRow& r) {
  return r.unreadable.empty() ? std::string() : "[UNREADABLE " + (r.contentType.empty() ? "no type" : r.contentType) + "] ";
}

// How each record type stands in a table and in CSV: its header and a row's
// cells (CSV the same as the table unless said otherwise).
template <typename Row>
struct Layout;

template <>
struct Layout<MessageRow> {
  static Cells header(bool utc) { return {"ID", timeHeader(utc), "FROM", "TO", "VERDICT", "CONV", "TEXT"}; }
  static Cells cells(const MessageRow& r, const TableStyle& s) {
    return {std::to_string(r.id), formatTime(r.timeMs, s.utc), r.sender, r.recipient, r.verdict,
            std::to_string(r.conversationId), cut(unreadableMark(r) + r.text, s.textWidth)};
  }
  // CSV carries the full text, and the reasons in a column of their own
  // (last, so that readers of the earlier columns are unaffected).
  static Cells csvHeader(bool utc) {
    Cells out = header(utc);
    out.push_back("UNREADABLE");
    return out;
  }
  static Cells csvCells(const MessageRow& r, const TableStyle& s) {
    return {std::to_string(r.id), formatTime(r.timeMs, s.utc), r.sender, r.recipient, r.verdict,
            std::to_string(r.conversationId), r.text, r.unreadable};
  }
};

template <>
struct Layout<ConversationRow> {
  static Cells header(bool utc) {
    return {"ID", utc ? "LAST (UTC)" : "LAST", "KIND", "MESSAGES", "BLOCKED", "MODIFIED", "PARTICIPANTS"};
  }
  static Cells cells(const ConversationRow& r, const TableStyle& s) {
    return {std::to_string(r.id),       formatTime(r.lastMs, s.utc), r.kind, std::to_string(r.messages),
            std::to_string(r.blocked), std::to_string(r.modified),  r.participants};
  }
  static Cells csvHeader(bool utc) { return header(utc); }
  static Cells csvCells(const ConversationRow& r, const TableStyle& s) { return cells(r, s); }
};

template <>
struct Layout<CallRow> {
  static Cells header(bool utc) {
    return {"ID", utc ? "INVITE (UTC)" : "INVITE", "CALLER", "CALLEE", "DISPOSITION", "CODE", "DURATION", "ENDED BY",
            "MEDIA"};
  }
  static Cells cells(const CallRow& r, const TableStyle& s) {
    return {std::to_string(r.id), formatTime(r.inviteMs, s.utc), r.caller, r.callee, r.disposition,
            std::to_string(r.endCode), seconds(r.durationMs), r.endedBy.empty() ? "-" : r.endedBy,
            r.media.empty() ? "-" : r.media};
  }
  static Cells csvHeader(bool utc) { return header(utc); }
  static Cells csvCells(const CallRow& r, const TableStyle& s) { return cells(r, s); }
};

template <>
struct Layout<AuditRow> {
  static Cells header(bool utc) { return {"ID", timeHeader(utc), "WHO", "ACTION", "RESULTS", "QUERY"}; }
  static Cells cells(const AuditRow& r, const TableStyle& s) {
    return {std::to_string(r.id), formatTime(r.timeMs, s.utc), r.who, r.action, std::to_string(r.results), r.query};
  }
  static Cells csvHeader(bool utc) { return header(utc); }
  static Cells csvCells(const AuditRow& r, const TableStyle& s) { return cells(r, s); }
};

template <typename Row, typename Make>
std::vector<Cells> all(const std::vector<Row>& rows, Make make) {
  std::vector<Cells> out;
  out.reserve(rows.size());
  for (const auto& row : rows) out.push_back(make(row));
  return out;
}

}  // namespace

std::string formatTime(std::int64_t ms, bool utc) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  if (utc) {
    gmtime_r(&seconds, &tm);
  } else {
    localtime_r(&seconds, &tm);
  }
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
  return text;
}

std::string cut(const std::string& text, std::size_t limit) {
  std::string out;
  std::size_t characters = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c & 0xC0) != 0x80) {
      if (characters == limit) {
        // Replace the last character with the ellipsis.
        std::size_t end = out.size();
        while (end > 0 && (static_cast<unsigned char>(out[end - 1]) & 0xC0) == 0x80) --end;
        out.resize(end > 0 ? end - 1 : 0);
        return out + "\xE2\x80\xA6";
      }
      ++characters;
    }
    out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : static_cast<char>(c);
  }
  return out;
}

template <typename Row>
std::string toTable(const std::vector<Row>& rows, const TableStyle& s) {
  return render(Layout<Row>::header(s.utc), all(rows, [&](const Row& r) { return Layout<Row>::cells(r, s); }));
}
template <typename Row>
std::string toCsv(const std::vector<Row>& rows, const TableStyle& s) {
  return csv(Layout<Row>::csvHeader(s.utc), all(rows, [&](const Row& r) { return Layout<Row>::csvCells(r, s); }));
}
template std::string toTable(const std::vector<MessageRow>&, const TableStyle&);
template std::string toTable(const std::vector<ConversationRow>&, const TableStyle&);
template std::string toTable(const std::vector<CallRow>&, const TableStyle&);
template std::string toTable(const std::vector<AuditRow>&, const TableStyle&);
template std::string toCsv(const std::vector<MessageRow>&, const TableStyle&);
template std::string toCsv(const std::vector<ConversationRow>&, const TableStyle&);
template std::string toCsv(const std::vector<CallRow>&, const TableStyle&);
template std::string toCsv(const std::vector<AuditRow>&, const TableStyle&);

std::string toTranscript(const Transcript& t, const TableStyle& s) {
  const auto& c = t.conversation;
  std::string out = "conversation " + std::to_string(c.id) + " (" + c.kind + ") " + c.participants + "\n" +
                    formatTime(c.startedMs, s.utc) + " to " + formatTime(c.lastMs, s.utc) + (s.utc ? " UTC" : "") +
                    ", " + std::to_string(t.messages.size()) + " messages" + (c.legalHold ? ", on legal hold" : "") +
                    "\n\n";
  for (const auto& m : t.messages) {
    std::string mark;
    if (m.verdict == "blocked") mark = "[BLOCKED] ";
    if (m.verdict == "modified") mark = "[MODIFIED] ";
    if (m.verdict == "failed") mark = "[FAILED] ";
    out += formatTime(m.timeMs, s.utc) + "  " + m.sender + " -> " + m.recipient + ": " + mark + unreadableMark(m) +
           m.text + "\n";
    if (!m.unreadable.empty()) out += "    unreadable: " + m.unreadable + "\n";
    if (m.originalText) out += "    original: " + *m.originalText + "\n";
    if (!m.rules.empty()) out += "    rules: " + m.rules + "\n";
  }
  return out;
}

}  // namespace sipwarden::query
