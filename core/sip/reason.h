#pragma once
// The reason phrase RFC 3261 §21 (and its extensions) gives a status code,
// for replies whose code comes from configuration (a plugin's fail_code).

#include <string>
#include <string_view>

namespace sipwarden::sip {

// The standard phrase, or a generic one for the code's class when the code
// has none ("Client Error" for an unlisted 4xx).
std::string_view standardReason(int code);
// The status class counters and logs group responses by: "1xx" .. "6xx".
inline std::string statusClass(int code) { return std::to_string(code / 100) + "xx"; }

}  // namespace sipwarden::sip
