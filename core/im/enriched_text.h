#pragma once
// The text of a text/enriched body (RFC 1896): formatting commands
// removed, "<<" read as "<", <param> contents (colours, font names) not
// text, and line breaks as the RFC folds them (one break is a space, n
// breaks are n - 1 newlines). One pass, no failure mode: every byte
// sequence is some enriched text.

#include <string>
#include <string_view>

namespace sipwarden::im {

std::string enrichedText(std::string_view enriched);

}  // namespace sipwarden::im
