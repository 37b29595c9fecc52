#pragma once
// Structured SIP values parsed from header text: URIs, name-addr values,
// Via values and CSeq (RFC 3261 §25, RFC 5118 for IPv6 references).
//
// Every parser here is strict where a proxy must be (it says what is wrong in
// `error`) and returns views into the text it was given: the caller keeps that
// text alive, which a Message does for its own headers.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sipwarden::sip {

struct Param {
  std::string_view name;
  std::string_view value;  // empty when the parameter has no '='
  bool hasValue = false;
};

// Splits ";a=1;b;c=\"x\"" into parameters. Returns false on an empty or
// malformed parameter (e.g. ";;").
bool parseParams(std::string_view text, std::vector<Param>& out, std::string& error);
std::optional<std::string_view> findParam(const std::vector<Param>& params, std::string_view name);

struct Uri {
  std::string_view text;    // the whole URI as written
  std::string_view scheme;  // "sip", "sips", "tel", or anything for absolute URIs
  std::string_view user;    // user part without password; may hold ';' (RFC 4475 semiuri)
  std::string_view host;    // as written, IPv6 references keep their brackets
  std::uint16_t port = 0;   // 0 when absent
  std::string_view paramText;   // ";lr;transport=tcp" as written
  std::string_view headerText;  // after '?', without it
  std::vector<Param> params;

  bool isSip() const;  // sip or sips
  std::optional<std::string_view> param(std::string_view name) const { return findParam(params, name); }
  bool hasParam(std::string_view name) const { return param(name).has_value(); }
  // Host without IPv6 brackets, ready for address resolution.
  std::string_view hostAddress() const;
};

// Parses any absolute URI; sip/sips URIs get their parts split out.
bool parseUri(std::string_view text, Uri& out, std::string& error);

struct NameAddr {
  std::string_view displayName;  // unquoted form is kept as written; quotes removed
  bool quotedDisplayName = false;
  Uri uri;
  bool bracketed = false;   // <uri> form
  bool wildcard = false;    // Contact: *
  std::string_view paramText;
  std::vector<Param> params;  // header parameters (tag, expires, q, ...)

  std::optional<std::string_view> param(std::string_view name) const { return findParam(params, name); }
  std::string_view tag() const { return param("tag").value_or(std::string_view{}); }
};

bool parseNameAddr(std::string_view text, NameAddr& out, std::string& error);

struct Via {
  std::string_view text;       // this Via value as written
  std::string_view transport;  // "UDP", "TCP", "TLS", ...
  std::string_view host;       // sent-by host, brackets kept
  std::uint16_t port = 0;      // 0 when absent
  std::vector<Param> params;

  std::optional<std::string_view> param(std::string_view name) const { return findParam(params, name); }
  std::string_view branch() const { return param("branch").value_or(std::string_view{}); }
  // Host without IPv6 brackets.
  std::string_view hostAddress() const;
};

bool parseVia(std::string_view text, Via& out, std::string& error);

struct CSeq {
  std::uint32_t number = 0;
  std::string_view method;
};

bool parseCSeq(std::string_view text, CSeq& out, std::string& error);

// Splits a comma-separated header value into its elements, honouring quoted
// strings and <...>. Empty elements are an error.
bool splitCommaList(std::string_view text, std::vector<std::string_view>& out, std::string& error);

// Parses a decimal number with no sign; false on overflow past `max`.
bool parseDecimal(std::string_view text, std::uint64_t max, std::uint64_t& out);

bool isTokenChar(char c) noexcept;
bool isToken(std::string_view text) noexcept;
std::string_view trim(std::string_view text) noexcept;

}  // namespace sipwarden::sip
