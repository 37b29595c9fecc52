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
  std::string error;        // when bytes is empty: "corrupt gzip data", "gzip body expands past N bytes"
  bool rawDeflate = false;  // "deflate" sent without its zlib wrapper
};
Inflated decodeContent(ContentEncoding encoding, std::string_view bytes, std::size_t maxBytes);
// `rawDeflate`: write deflate without the zlib wrapper, as it came.
std::string encodeContent(ContentEncoding encoding, std::string_view bytes, bool rawDeflate = false);

// The charset label as the reader treats it: lower-case; "" for UTF-8 and
// its subsets (us-ascii, none declared), which need no conversion.
std::string canonicalCharset(std::string_view label);
// How a charset was read, so an edit goes back the same way.
struct CharsetReading {
  std::string charset;  // what iconv read: "utf-16le", never plain "utf-16"
  std::string bom;      // the byte order mark the bytes began with, if any
};
// To UTF-8 through iconv. UTF-16 and UTF-32 without a byte order mark are
// read in the byte order the text shows (a Windows sender writes
// little-endian and calls it "utf-16"), or the one `byteOrder` forces
// ("le", "be"). Nothing when iconv does not know the charset or the bytes
// are not valid in it.
std::optional<std::string> toUtf8(std::string_view charset, std::string_view bytes, CharsetReading* reading = nullptr,
                                  std::string_view byteOrder = {});
// Back from UTF-8 for an edited part, in the charset (and with the byte
// order mark) it was read with; characters the charset lacks become what
// iconv's transliteration makes of them.
std::string fromUtf8(const CharsetReading& reading, std::string_view utf8);
// True when the charset writes ASCII as ASCII (ISO-8859-*, Windows-125x,
// Shift_JIS, ...); false for UTF-16/32, UTF-7, EBCDIC, ISO-2022, HZ: bodies
// in those read very differently by a client that ignores the charset.
bool asciiCompatible(std::string_view charset);
// For quoted-printable: true when every '=' starts a two-hex-digit escape
// or a soft line break (CRLF or LF). Decoders disagree about anything
// else, so it is unreadable rather than guessed.
bool wellFormedQuotedPrintable(std::string_view text);

// True for text of ASCII characters other than NUL: the common case, which
// needs no UTF-8 check, charset sniffing or conversion. Eight bytes a step.
bool isPlainAscii(std::string_view text);
}  // namespace sipwarden::im
