#pragma once
// The text of a text/enriched body (RFC 1896): formatting commands
// removed, "<<" read as "<", and line breaks as the RFC folds them (one
// break is a space, n breaks are n - 1 newlines).
//
// A client that does not implement text/enriched shows it as text/plain
// (RFC 2046), markup and all, so what such a client shows beyond the
// formatted text is kept too, for the filters: the contents of every
// <param> and the text of every command that is not a plain command name
// ("<x-foo http://x/>"), each on a line of its own after the text; and a
// "<" that never closes keeps the rest of the body verbatim. One pass, no
// failure mode: every byte sequence is some enriched text.

#include <string>
#include <string_view>

namespace sipwarden::im {

std::string enrichedText(std::string_view enriched);

}  // namespace sipwarden::im
