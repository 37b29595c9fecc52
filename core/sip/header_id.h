#pragma once
// Header names the proxy core understands, with their compact forms (RFC 3261
// §7.3.3). Every other header is HeaderId::Other and is carried byte-for-byte.

#include <cstdint>
#include <string_view>

namespace sipwarden::sip {

enum class HeaderId : std::uint8_t {
  Other,
  Via,
  From,
  To,
  CallId,
  CSeq,
  MaxForwards,
  ContentLength,
  ContentType,
  Contact,
  Route,
  RecordRoute,
  ProxyRequire,
  Require,
  Supported,
  Unsupported,
  Warning,
  RetryAfter,
  Subject,
  ContentEncoding,
  Event,
  ReferTo,
  Allow,
  Count
};

// Classifies a header name case-insensitively; compact forms map to their
// long names ("v" -> Via, "l" -> ContentLength).
HeaderId classifyHeader(std::string_view name) noexcept;

// The canonical long name, used when the proxy writes a header itself.
std::string_view canonicalName(HeaderId id) noexcept;

bool iequals(std::string_view a, std::string_view b) noexcept;

}  // namespace sipwarden::sip
