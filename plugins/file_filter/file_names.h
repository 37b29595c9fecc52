#pragma once
// A file name as the receiving Windows client will open it, and as a person
// reading a log or the archive should see it.
//
// Called by file_filter for every offered name: candidateExtensions() to
// decide whether the offer is blocked, displayName() for the `file` tag and
// the log line. Both are linear in the name and never throw.
//
// Invisible and bidirectional-control characters (U+202E RIGHT-TO-LEFT
// OVERRIDE in "report\u202Efdp.exe", which shows as "reportexe.pdf", zero-width
// spaces, soft hyphens, ...) are REMOVED before the extension is taken,
// rather than refused: ZWNJ/ZWJ and LRM/RLM are ordinary in Persian, Arabic,
// Hebrew and emoji names, and refusing them would block those names while
// removing them costs nothing (the extension a disguise hides is still
// found). The name as written is judged too, so removal never lets a name
// through that the raw reading blocks.
//
// Full-width forms (U+FF01..U+FF5E, e.g. U+FF0E "．") and the ideographic
// full stops U+3002 "。" and U+FF61 "｡" are folded to ASCII in a further
// reading: Windows itself does not treat "x．exe" as having an extension, but
// clients and file pickers that normalise names (NFKC) turn it into "x.exe",
// so the folded reading is judged as well (fail closed).

#include <string>
#include <string_view>
#include <vector>

namespace sipwarden::plugins::file_filter {

// The extensions a receiving client could end up with for `name` (UTF-8,
// already decoded from its wire form), lower-case, with the dot, each once:
// of the name as written, with invisible characters removed, and with
// full-width forms folded; in each, the last extension after trailing dots,
// spaces and characters Windows cannot store are dropped, and also the last
// extension of each ':'- or NUL-separated piece ("a.exe::$DATA",
// "a.exe\0.jpg"). %-escapes are decoded (repeatedly) first.
std::vector<std::string> candidateExtensions(std::string_view name);

// `name` with invisible, bidirectional-control and other format characters
// written as <U+202E>, C1 controls and line/paragraph separators likewise,
// ASCII control characters as '_', and bytes that are not UTF-8 as <0xFF>:
// valid UTF-8 that shows every character it holds. Names longer than
// `maxBytes` are cut (at a character boundary) and end in "...".
std::string displayName(std::string_view name, std::size_t maxBytes = std::string_view::npos);

// True when `name` holds a character displayName() escapes as <U+...>
// (invisible or bidirectional control): the name is disguised.
bool hasInvisibleCharacters(std::string_view name);

}  // namespace sipwarden::plugins::file_filter
