#include "query/export.h"

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "archive/clean_text.h"
#include "sipwarden/utf8.h"
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
// new header), and what is not plain ASCII is an RFC 2047 encoded-word.
std::string headerSafe(const std::string& text) {
  std::string out;
  for (char c : text) out += (c == '\r' || c == '\n') ? ' ' : c;
  return encodeHeaderValue(out);
}

bool isTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == '_';
}

// The part's Content-Type: the archived media type when it is a plain
// "type/subtype" that may be base64-encoded (RFC 2045 forbids that for
// multipart and message types), else application/octet-stream. The header
// as received goes in X-Sipwarden-Content-Type, encoded.
std::string partMediaType(const std::string& type) {
  const std::size_t slash = type.find('/');
  const bool shaped = slash != std::string::npos && slash > 0 && slash + 1 < type.size() &&
                      type.find('/', slash + 1) == std::string::npos &&
                      std::all_of(type.begin(), type.end(), [](char c) { return c == '/' || isTokenChar(c); });
  if (!shaped || type.starts_with("multipart/") || type.starts_with("message/")) return "application/octet-stream";
  return type;
}

std::string label(const MessageRow& m) {
  if (m.verdict == "blocked") return " [BLOCKED]";
  if (m.verdict == "modified") return " [MODIFIED]";
  if (m.verdict == "failed") return " [FAILED]";
  return "";
}

// A message's own line breaks continue its entry, indented, so that no text
// can start a line that looks like another message of the transcript.
std::string continued(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' || text[i] == '\n') {
      if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      out += "\r\n    | ";
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string plainTranscript(const Transcript& t) {
  std::string out;
  for (const auto& m : t.messages) {
    out += "[" + clock(m.timeMs) + " UTC] " + m.sender + " -> " + m.recipient + label(m) + ": " + continued(m.text) +
           "\r\n";
    if (m.originalText) out += "    original text: " + continued(*m.originalText) + "\r\n";
    if (!m.rules.empty()) out += "    rules: " + m.rules + "\r\n";
    if (!m.unreadable.empty()) out += "    unreadable: " + continued(m.unreadable) + "\r\n";
    if (!m.rawBody.empty()) {
      out += "    body as received: " + std::to_string(m.rawBody.size()) + " bytes, part message-" +
             std::to_string(m.id) + "\r\n";
    }
  }
  return out;
}

// Base64 in lines of 76 characters (RFC 2045 section 6.8).
std::string base64Lines(const std::string& bytes) {
  const std::string flat = base64(bytes);
  std::string out;
  out.reserve(flat.size() + flat.size() / 76 * 2 + 2);
  for (std::size_t i = 0; i < flat.size(); i += 76) out += flat.substr(i, 76) + "\r\n";
  return out;
}

// One message's body as received, as an attachment: base64, so every byte
// (NULs, invalid UTF-8, a line that looks like a boundary) comes back out.
std::string rawBodyPart(const MessageRow& m) {
  std::string part = "Content-Type: " + partMediaType(m.contentType) + "\r\n";
  part += "Content-Transfer-Encoding: base64\r\n";
  part += "Content-Disposition: attachment; filename=\"message-" + std::to_string(m.id) + ".bin\"\r\n";
  part += "Content-Description: " + headerSafe("body of message " + std::to_string(m.id) + " as received from " +
                                               m.sender) +
          "\r\n";
  part += "X-Sipwarden-Message-Id: " + std::to_string(m.id) + "\r\n";
  if (!m.receivedContentType.empty()) part += "X-Sipwarden-Content-Type: " + headerSafe(m.receivedContentType) + "\r\n";
  if (!m.contentEncoding.empty()) part += "X-Sipwarden-Content-Encoding: " + headerSafe(m.contentEncoding) + "\r\n";
  if (!m.unreadable.empty()) part += "X-Sipwarden-Unreadable: " + headerSafe(m.unreadable) + "\r\n";
  return part + "\r\n" + base64Lines(m.rawBody);
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
    if (!m.unreadable.empty()) {
      out += "<div class=\"orig\">unreadable (" + htmlEscape(m.contentType.empty() ? "no type" : m.contentType) +
             "): " + htmlEscape(m.unreadable) + "</div>";
    }
    out += "</div>\n";
  }
  return out + "</body></html>\n";
}

std::string renderEml(const Transcript& t) {
  const auto& c = t.conversation;
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
  // The parts first: the boundaries are chosen so that neither occurs in
  // any of them.
  const std::string plain = plainTranscript(t);
  const std::string html = renderHtml(t);
  std::vector<std::string> rawParts;
  for (const auto& m : t.messages) {
    if (!m.rawBody.empty()) rawParts.push_back(rawBodyPart(m));
  }
  const std::string inner = mimeBoundary({&plain, &html}, "alt");
  std::string alternative = "--" + inner +
                            "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
                            plain + "\r\n--" + inner +
                            "\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
                            html + "\r\n--" + inner + "--\r\n";
  std::vector<const std::string*> contents{&alternative};
  for (const auto& part : rawParts) contents.push_back(&part);
  const std::string outer = mimeBoundary(contents, "mix");

  std::string out;
  out += "From: " + headerSafe(first.empty() ? "unknown" : first) + "\r\n";
  out += "To: " + headerSafe(to.empty() ? first : to) + "\r\n";
  out += "Subject: " + headerSafe("IM conversation " + std::to_string(c.id) + " (" + c.participants + ")") + "\r\n";
  out += "Date: " + mailDate(c.startedMs) + "\r\n";
  out += "Message-ID: <conversation-" + std::to_string(c.id) + "@sipwarden>\r\n";
  out += "X-Sipwarden-Conversation-Id: " + std::to_string(c.id) + "\r\n";
  out += "X-Sipwarden-Conversation-Kind: " + headerSafe(c.kind) + "\r\n";
  if (!c.callId.empty()) out += "X-Sipwarden-Call-Id: " + headerSafe(c.callId) + "\r\n";
  out += "X-Sipwarden-Messages: " + std::to_string(t.messages.size()) + " (" + std::to_string(c.blocked) +
         " blocked, " + std::to_string(c.modified) + " modified)\r\n";
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: multipart/mixed; boundary=\"" + outer + "\"\r\n\r\n";
  out += "--" + outer + "\r\nContent-Type: multipart/alternative; boundary=\"" + inner + "\"\r\n\r\n";
  out += alternative;
  for (const auto& part : rawParts) out += "\r\n--" + outer + "\r\n" + part;
  out += "\r\n--" + outer + "--\r\n";
  return out;
}

std::string mimeBoundary(const std::vector<const std::string*>& contents, std::string_view kind) {
  // Derived from the contents (so an export is the same each time it is
  // made), then checked against them: a text cannot contain a boundary
  // computed from itself except by a SHA-256 fixed point, and if one ever
  // did, the next candidate is taken.
  Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
  for (const std::string* content : contents) {
    engine.update(std::to_string(content->size()) + ":");
    engine.update(*content);
  }
  const std::string seed = Poco::DigestEngine::digestToHex(engine.digest());
  for (int attempt = 0;; ++attempt) {
    const std::string candidate =
        "=_sipwarden-" + std::string(kind) + "-" + sha256(seed + ":" + std::to_string(attempt)).substr(0, 32);
    const bool free = std::none_of(contents.begin(), contents.end(), [&candidate](const std::string* content) {
      return content->find(candidate) != std::string::npos;
    });
    if (free) return candidate;
  }
}

std::string encodeHeaderValue(const std::string& value) {
  // Plain printable ASCII stays as it is, unless it holds "=?", which a
  // mail reader would decode as an encoded-word of the sender's making.
  const bool plain = std::all_of(value.begin(), value.end(), [](char c) { return c >= 0x20 && c < 0x7f; }) &&
                     value.find("=?") == std::string::npos;
  if (plain) return value;
  // Well-formed UTF-8 first (what is not becomes U+FFFD), then B-encoded
  // words of whole characters, at most 45 bytes each, so each word stays
  // within 75 characters (RFC 2047 section 2); words are folded onto lines
  // of their own.
  const std::string text = archive::cleanText(value);
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t end = i;
    while (end < text.size()) {
      const std::size_t length = std::max<std::size_t>(utf8::sequenceAt(text, end), 1);
      if (end + length - i > 45) break;
      end += length;
    }
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + base64(std::string_view(text).substr(i, end - i)) + "?=";
    i = end;
  }
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
