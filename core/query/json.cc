#include "query/json.h"

#include <Poco/Base64Encoder.h>

#include <cstdio>
#include <ctime>
#include <sstream>

#include "archive/clean_text.h"
#include "sipwarden/utf8.h"

namespace sipwarden::query {
namespace {

// Builds one JSON object field by field.
class Object {
 public:
  Object& str(const char* key, const std::string& value) { return raw(key, jsonString(value)); }
  Object& num(const char* key, std::int64_t value) { return raw(key, std::to_string(value)); }
  Object& opt(const char* key, const std::optional<std::int64_t>& value) {
    return raw(key, value ? std::to_string(*value) : "null");
  }
  Object& time(const char* key, std::int64_t ms) {
    num(key, ms);
    return raw((std::string(key, std::string_view(key).size() - 3) + "_utc").c_str(), jsonString(isoUtc(ms)));
  }
  Object& flag(const char* key, bool value) { return raw(key, value ? "true" : "false"); }
  Object& raw(const char* key, const std::string& json) {
    out_ += out_.size() > 1 ? "," : "";
    out_ += jsonString(key) + ":" + json;
    return *this;
  }
  std::string done() { return out_ + "}"; }

 private:
  std::string out_ = "{";
};

}  // namespace

std::string jsonString(const std::string& text) {
  std::string out = "\"";
  out.reserve(text.size() + 2);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      // The archive keeps the bytes a client sent, valid UTF-8 or not;
      // JSON must be UTF-8, so a byte that starts no well-formed sequence
      // becomes U+FFFD, as a decoder would show it.
      const std::size_t length = utf8::sequenceAt(text, i);
      if (length == 0) {
        out += "\xEF\xBF\xBD";
      } else {
        out.append(text, i, length);
        i += length - 1;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
          out += escaped;
        } else if (c == '<') {
          out += "\\u003c";  // never "</script>" inside a page that embeds it
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string base64(std::string_view bytes) {
  std::ostringstream out;
  Poco::Base64Encoder encoder(out);
  encoder.rdbuf()->setLineLength(0);  // one line: a JSON string
  encoder.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  encoder.close();
  return out.str();
}

std::string isoUtc(std::int64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[96];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return text;
}

std::string toJson(const MessageRow& r) {
  Object o;
  o.num("id", r.id).num("conversation_id", r.conversationId).time("time_ms", r.timeMs);
  o.str("direction", r.direction).str("sender", r.sender).str("sender_name", r.senderName);
  o.str("recipient", r.recipient).str("recipient_name", r.recipientName).str("call_id", r.callId);
  o.str("content_type", r.contentType).str("text", r.text);
  o.raw("original_text", r.originalText ? jsonString(*r.originalText) : "null");
  o.str("verdict", r.verdict).str("rules", r.rules).str("tags", r.tags).num("final_code", r.finalCode);
  // The body's bytes as received travel apart from the text, base64: a
  // JSON string can only be UTF-8. Headers as received, for a reader that
  // wants to decode the body itself.
  o.str("raw_body_base64", base64(r.rawBody)).str("received_content_type", r.receivedContentType);
  o.str("content_encoding", r.contentEncoding);
  o.raw("unreadable", r.unreadable.empty() ? "null" : jsonString(r.unreadable));
  return o.done();
}

std::string toJson(const ConversationRow& r) {
  Object o;
  o.num("id", r.id).str("kind", r.kind).str("call_id", r.callId).str("participants", r.participants);
  o.time("started_ms", r.startedMs).time("last_ms", r.lastMs);
  o.num("messages", r.messages).num("blocked", r.blocked).num("modified", r.modified).flag("legal_hold", r.legalHold);
  return o.done();
}

std::string toJson(const CallRow& r) {
  Object o;
  o.num("id", r.id).str("call_id", r.callId).str("caller", r.caller).str("callee", r.callee);
  o.time("invite_ms", r.inviteMs).opt("ringing_ms", r.ringingMs).opt("answer_ms", r.answerMs);
  o.opt("end_ms", r.endMs).opt("duration_ms", r.durationMs).str("disposition", r.disposition);
  o.num("end_code", r.endCode).str("ended_by", r.endedBy).str("media", r.media);
  return o.done();
}

std::string toJson(const AuditRow& r) {
  Object o;
  o.num("id", r.id).time("time_ms", r.timeMs).str("who", r.who).str("action", r.action).str("query", r.query);
  o.num("results", r.results);
  return o.done();
}

std::string toJson(const Stats& s) {
  Object o;
  o.num("messages", s.messages).num("delivered", s.delivered).num("blocked", s.blocked);
  o.num("modified", s.modified).num("failed", s.failed).num("conversations", s.conversations);
  o.num("calls", s.calls).num("answered_calls", s.answeredCalls).opt("first_ms", s.firstMs).opt("last_ms", s.lastMs);
  return o.done();
}

std::string toJson(const Transcript& t) {
  std::string messages = "[";
  for (std::size_t i = 0; i < t.messages.size(); ++i) messages += (i ? "," : "") + toJson(t.messages[i]);
  messages += "]";
  Object o;
  o.raw("conversation", toJson(t.conversation)).raw("messages", messages);
  return o.done();
}

}  // namespace sipwarden::query
