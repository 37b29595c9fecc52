#include "sip/framing.h"

#include <cstdint>

#include "sip/grammar.h"
#include "sip/header_id.h"
#include "sip/message.h"

namespace sipwarden::sip {

bool streamContentLength(std::string_view headers, std::size_t& length) {
  length = 0;
  bool seen = false;
  std::size_t pos = 0;
  while (pos < headers.size()) {
    std::size_t end = headers.find('\n', pos);
    if (end == std::string_view::npos) end = headers.size();
    const std::string_view line = headers.substr(pos, end - pos);
    pos = end + 1;
    const std::size_t colon = line.find(':');
    // Continuation lines belong to the header before them; the start line
    // has no colon before its first space, or names no header.
    if (colon == std::string_view::npos || line.empty() || line[0] == ' ' || line[0] == '\t') continue;
    const std::string_view name = trim(line.substr(0, colon));
    if (classifyHeader(name) != HeaderId::ContentLength) continue;
    std::uint64_t value = 0;
    if (seen || !parseDecimal(trim(line.substr(colon + 1)), 0xffffffffULL, value)) return false;
    seen = true;
    length = static_cast<std::size_t>(value);
  }
  return true;
}

StreamFrame nextStreamFrame(std::string_view in, std::size_t maxMessageSize) {
  constexpr std::string_view kPing = "\r\n\r\n";
  if (in.empty()) return {};
  if (in.starts_with(kPing)) return {StreamFrame::Kind::Ping, kPing.size(), ""};
  // Up to three bytes that a ping may still complete: wait for the rest.
  if (in.size() < kPing.size() && kPing.starts_with(in)) return {};
  if (in.starts_with("\r\n")) return {StreamFrame::Kind::Crlf, 2, ""};
  const std::size_t headerEnd = findHeaderEnd(in);
  if (headerEnd == std::string_view::npos) {
    if (in.size() > maxMessageSize) return {StreamFrame::Kind::Error, 0, "header section over the message size limit"};
    return {};
  }
  std::size_t contentLength = 0;
  if (!streamContentLength(in.substr(0, headerEnd), contentLength) || headerEnd + contentLength > maxMessageSize) {
    // Without a trustworthy length the stream cannot be re-synchronised.
    return {StreamFrame::Kind::Error, 0, "bad, repeated or oversize Content-Length"};
  }
  const std::size_t total = headerEnd + contentLength;
  if (in.size() < total) return {};
  return {StreamFrame::Kind::Message, total, ""};
}

}  // namespace sipwarden::sip
