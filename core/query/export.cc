#include "query/export.h"

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>

#include <ctime>
#include <filesystem>
#include <fstream>

#include "query/json.h"
#include "sipwarden/html_text.h"

namespace sipwarden::query {
namespace {

// RFC 5322 date, always UTC: "Wed, 25 Nov 2026 02:25:20 +0000".
std::string mailDate(std::int64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[64];
  std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return text;
}

std::string clock(std::int64_t ms) { return isoUtc(ms).substr(0, 19).replace(10, 1, " "); }

// Header values must not break lines (CR/LF in a display name would start a
// new header).
std::string headerSafe(const std::string& text) {
  std::string out;
  for (char c : text) out += (c == '\r' || c == '\n') ? ' ' : c;
  return out;
}

std::string label(const MessageRow& m) {
  if (m.verdict == "blocked") return " [BLOCKED]";
  if (m.verdict == "modified") return " [MODIFIED]";
  if (m.verdict == "failed") return " [FAILED]";
  return "";
}

std::string plainTranscript(const Transcript& t) {
  std::string out;
  for (const auto& m : t.messages) {
    out += "[" + clock(m.timeMs) + " UTC] " + m.sender + " -> " + m.recipient + label(m) + ": " + m.text + "\r\n";
    if (m.originalText) out += "    original text: " + *m.originalText + "\r\n";
    if (!m.rules.empty()) out += "    rules: " + m.rules + "\r\n";
  }
  return out;
}

std::string sha256(const std::string& bytes) {
  Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
  engine.update(bytes);
  return Poco::DigestEngine::digestToHex(engine.digest());
}

}  // namespace

ExportFormat parseExportFormat(const std::string& text) {
  if (text == "eml") return ExportFormat::Eml;
  if (text == "json") return ExportFormat::Json;
  if (text == "html") return ExportFormat::Html;
  throw QueryError("format: expected eml, json or html");
}

// Text and double-quoted attribute values only, so the SDK's escape (which
// leaves ' alone) is enough.
std::string htmlEscape(const std::string& text) { return html::escape(text); }

std::string renderHtml(const Transcript& t) {
  const auto& c = t.conversation;
  std::string out =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Conversation " + std::to_string(c.id) +
      "</title>\n<style>body{font-family:sans-serif;margin:2em}.m{margin:.4em 0;padding:.3em .6em;border-left:4px "
      "solid #8a8}.blocked{border-color:#c33;background:#fee}.modified{border-color:#c93;background:#ffe}"
      ".meta{color:#555;font-size:.85em}.orig{color:#777;font-size:.9em}</style></head><body>\n<h1>Conversation " +
      std::to_string(c.id) + "</h1>\n<p class=\"meta\">" + htmlEscape(c.participants) + " &middot; " +
      htmlEscape(clock(c.startedMs)) + " to " + htmlEscape(clock(c.lastMs)) + " UTC &middot; " +
      std::to_string(t.messages.size()) + " messages</p>\n";
  for (const auto& m : t.messages) {
    out += "<div class=\"m " + htmlEscape(m.verdict) + "\"><div class=\"meta\">" + htmlEscape(clock(m.timeMs)) +
           " UTC &middot; " + htmlEscape(m.sender) + " &rarr; " + htmlEscape(m.recipient) +
           (label(m).empty() ? "" : " &middot; <b>" + htmlEscape(label(m).substr(1)) + "</b>") + "</div><div>" +
           htmlEscape(m.text) + "</div>";
    if (m.originalText) out += "<div class=\"orig\">original text: " + htmlEscape(*m.originalText) + "</div>";
    out += "</div>\n";
  }
  return out + "</body></html>\n";
}

std::string renderEml(const Transcript& t) {
  const auto& c = t.conversation;
  const std::string boundary = "sipwarden-conversation-" + std::to_string(c.id);
  // From: whoever spoke first; To: everyone else in the conversation.
  const std::string first = t.messages.empty() ? "" : t.messages.front().sender;
  std::string to;
  std::size_t start = 0;
  while (start <= c.participants.size()) {
    const std::size_t comma = c.participants.find(',', start);
    const std::string aor = c.participants.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!aor.empty() && aor != first) to += (to.empty() ? "" : ", ") + aor;
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  std::string out;
  out += "From: " + headerSafe(first.empty() ? "unknown" : first) + "\r\n";
  out += "To: " + headerSafe(to.empty() ? first : to) + "\r\n";
  out += "Subject: IM conversation " + std::to_string(c.id) + " (" + headerSafe(c.participants) + ")\r\n";
  out += "Date: " + mailDate(c.startedMs) + "\r\n";
  out += "Message-ID: <conversation-" + std::to_string(c.id) + "@sipwarden>\r\n";
  out += "X-Sipwarden-Conversation-Id: " + std::to_string(c.id) + "\r\n";
  out += "X-Sipwarden-Conversation-Kind: " + c.kind + "\r\n";
  if (!c.callId.empty()) out += "X-Sipwarden-Call-Id: " + headerSafe(c.callId) + "\r\n";
  out += "X-Sipwarden-Messages: " + std::to_string(t.messages.size()) + " (" + std::to_string(c.blocked) +
         " blocked, " + std::to_string(c.modified) + " modified)\r\n";
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n";
  out += "--" + boundary + "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n";
  out += plainTranscript(t);
  out += "\r\n--" + boundary + "\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n";
  out += renderHtml(t);
  out += "\r\n--" + boundary + "--\r\n";
  return out;
}

Exporter::Exporter(std::string dir, ExportFormat format) : dir_(std::move(dir)), format_(format) {
  std::error_code error;
  std::filesystem::create_directories(dir_, error);
  if (error) throw QueryError("out: cannot create " + dir_ + ": " + error.message());
}

void Exporter::write(const std::string& name, const std::string& bytes) {
  const auto path = std::filesystem::path(dir_) / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  out.close();
  if (!out) throw QueryError("out: cannot write " + path.string());
}

void Exporter::add(const Transcript& t) {
  const char* extension = format_ == ExportFormat::Eml ? ".eml" : (format_ == ExportFormat::Json ? ".json" : ".html");
  const std::string bytes = format_ == ExportFormat::Eml    ? renderEml(t)
                            : format_ == ExportFormat::Json ? toJson(t) + "\n"
                                                            : renderHtml(t);
  ExportedFile file;
  file.name = "conversation-" + std::to_string(t.conversation.id) + extension;
  file.sha256 = sha256(bytes);
  file.messages = static_cast<std::int64_t>(t.messages.size());
  write(file.name, bytes);
  files_.push_back(std::move(file));
}

const std::vector<ExportedFile>& Exporter::finish() {
  std::string manifest;
  for (const auto& file : files_) manifest += file.sha256 + "  " + file.name + "\n";
  write("manifest.sha256", manifest);
  return files_;
}

std::vector<ExportedFile> exportTranscripts(const std::vector<Transcript>& transcripts, ExportFormat format,
                                            const std::string& dir) {
  Exporter exporter(dir, format);
  for (const auto& t : transcripts) exporter.add(t);
  return exporter.finish();
}

}  // namespace sipwarden::query
