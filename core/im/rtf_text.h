#pragma once
// The text a person reads in an RTF message (text/rtf, application/rtf:
// Lync and Communicator send them), plus the target of every HYPERLINK
// field, which the reader shows only as a clickable word. Filters need the
// targets as much as the words: a field's instruction
// `HYPERLINK "http://x/"` is emitted as text, on a line of its own.
//
// Skipped: font, colour and style tables, document info, pictures and
// objects (with their \bin data), and every {\* ...} destination other
// than those that can hold a link a client shows: field instructions,
// encapsulated HTML tags, Word 97 hyperlinks (\hl), shape text and the
// Unicode twin of a run (\ud). \'hh bytes are read in the document's
// \ansicpg code page (1252 when none), \uN escapes as UTF-16 code units,
// followed by \ucN replacement characters where a control word, control
// symbol or \'hh counts as one and a brace ends them (the RTF spec).
// One pass; groups nested deeper than kMaxRtfDepth, or \bin data where a
// reader could show it, make the document unreadable rather than partly
// read.

#include <optional>
#include <string>
#include <string_view>

namespace sipwarden::im {

inline constexpr int kMaxRtfDepth = 256;

// UTF-8 text, or nothing when `rtf` does not start with "{\rtf", nests too
// deep, has \bin data outside a picture or object, or names a code page
// iconv does not know.
std::optional<std::string> rtfText(std::string_view rtf);

}  // namespace sipwarden::im
