#pragma once
// The decodings the body reader undoes and redoes, each with its inverse so
// an edited part goes back out in the form it came in. Every decoder
// reports failure instead of guessing: a part that cannot be decoded is
// unreadable (sipwarden/unreadable.h), never passed as if it had been read.
//
// Work is linear in the input; output is bounded by the input, except for
// decompression, which stops at kMaxDecodedBodyBytes.

#include <optional>
#include <string>
#include <string_view>

namespace sipwarden::im {

// Content-Transfer-Encoding (RFC 2045). 7bit, 8bit, binary and absent are
// Identity.
enum class TransferEncoding { Identity, Base64, QuotedPrintable, Unknown };
TransferEncoding transferEncodingOf(std::string_view headerValue);
std::optional<std::string> decodeTransfer(TransferEncoding encoding, std::string_view text);
std::string encodeTransfer(TransferEncoding encoding, std::string_view bytes);

// Content-Encoding (RFC 3261 20.12). Deflate accepts both zlib-wrapped
// (RFC 9110) and raw streams, as senders use both.
enum class ContentEncoding { Identity, Gzip, Deflate, Unknown };
ContentEncoding contentEncodingOf(std::string_view headerValue);
struct Inflated {
  std::optional<std::string> bytes;
  std::string error;  // when bytes is empty: "corrupt gzip data", "gzip body expands past N bytes"
};
Inflated decodeContent(ContentEncoding encoding, std::string_view bytes, std::size_t maxBytes);
std::string encodeContent(ContentEncoding encoding, std::string_view bytes);

// The charset label as the reader treats it: lower-case; "" for UTF-8 and
// its subsets (us-ascii, none declared), which need no conversion.
std::string canonicalCharset(std::string_view label);
// To UTF-8 through iconv. UTF-16 and UTF-32 without a byte order mark are
// read in the byte order the text shows (a Windows sender writes
// little-endian and calls it "utf-16"). Nothing when iconv does not know
// the charset or the bytes are not valid in it.
std::optional<std::string> toUtf8(std::string_view charset, std::string_view bytes);
// Back from UTF-8 for an edited part; characters the charset lacks become
// what iconv's transliteration makes of them.
std::string fromUtf8(std::string_view charset, std::string_view utf8);

// True for well-formed UTF-8 (no overlongs, surrogates or code points past
// U+10FFFF).
bool isValidUtf8(std::string_view text);
// `text` with each invalid sequence replaced by U+FFFD.
std::string repairUtf8(std::string_view text);

}  // namespace sipwarden::im
