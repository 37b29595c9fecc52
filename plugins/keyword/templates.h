#pragma once
// The built-in templates: scanners that find payment card numbers, IBANs
// and US Social Security numbers in text and keep only candidates that pass
// their checksum (checksums.h), plus a cheap RE2 "gate" pattern for each
// that matches wherever the scanner could find something (so one RE2::Set
// pass decides whether a message needs a closer look).

#include <cstddef>
#include <string_view>
#include <vector>

namespace sipwarden::plugins::keyword {

enum class Template { None, PaymentCard, Iban, UsSsn };

// A byte range [begin, end) of the text that matched.
struct Span {
  std::size_t begin;
  std::size_t end;
};

// No limit on the number of items found.
inline constexpr std::size_t kAllMatches = static_cast<std::size_t>(-1);

// Appends the valid items of `kind` in `text`, left to right and not
// overlapping, to `out`; stops after `limit` of them. Returns how many were
// appended. `caseSensitive` makes IBAN letters upper-case only. Time: linear
// in the text (each start looks at a bounded window: 24 digit groups for a
// card, 34 characters for an IBAN, 11 for an SSN; a run is skipped whole).
std::size_t findTemplate(Template kind, std::string_view text, bool caseSensitive, std::vector<Span>& out,
                         std::size_t limit);

// An RE2 pattern matching at least wherever findTemplate can find an item.
std::string_view templateGate(Template kind);

// Whether templateGate(kind) matches somewhere in `text`: the same answer,
// computed without RE2 by visiting only the ASCII digits (every gate needs
// some), so a message with few digits costs a vector scan of its bytes.
bool templateGateMatches(Template kind, std::string_view text);

}  // namespace sipwarden::plugins::keyword
