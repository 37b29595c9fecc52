#pragma once
// The one reading of a request's body that every plugin and the archive
// share (docs/plugin-sdk.md, "How a body is read"). Whatever wire form the
// text came in, it is yielded as UTF-8 parts: text/plain, text/html,
// application/xhtml+xml, text/enriched, text/rtf (its text and HYPERLINK
// fields), other text/* types, message/cpim wrapping any of them, each part
// of a multipart body (nested up to kMaxBodyNesting levels), and the Lync
// Ms-IM-Format / Ms-Text-Format header copies. Content-Transfer-Encoding
// (base64, quoted-printable), Content-Encoding (gzip, deflate; bounded) and
// charsets are undone first. What cannot be read is listed with the reason,
// so that a filter decides (sipwarden/unreadable.h) instead of passing it.
//
// Filters rewrite editable parts here; the core re-encodes each edit into
// its wire form (body splice, MIME boundaries kept, transfer encoding,
// charset and compression re-applied, Content-Length fixed) when the
// message leaves.
//
// Obtained from Exchange::instantMessage(); valid during the hook call.

#include <cstddef>
#include <string>
#include <string_view>

namespace sipwarden {

// How many levels of multipart and message/cpim containers are read; a
// container deeper than this is unreadable.
inline constexpr int kMaxBodyNesting = 4;
// The most a compressed body (Content-Encoding) may expand to; more is an
// unreadable "decompression bomb", not a truncated read.
inline constexpr std::size_t kMaxDecodedBodyBytes = 4 * 1024 * 1024;
// The most leaf parts a body may have; more is unreadable (a 6 KB gzip
// body of tiny parts would otherwise cost hundreds of megabytes).
inline constexpr std::size_t kMaxBodyParts = 1000;

class InstantMessage {
 public:
  virtual ~InstantMessage() = default;

  // True for a MESSAGE whose body is not only a notification that carries
  // no user text (is-composing, IMDN, presence, SDP: the list is in
  // docs/plugin-sdk.md), including one whose body could not be read or is
  // an image; and for an INVITE that embeds its first message
  // (Ms-Text-Format / Ms-IM-Format).
  virtual bool present() const = 0;
  virtual std::size_t partCount() const = 0;
  // How the part's text reads: "text/plain" or "text/html" (HTML and XHTML).
  virtual std::string_view partType(std::size_t part) const = 0;
  // The part's text as the recipient will see it, always valid UTF-8:
  // transfer encoding, compression and charset undone; text extracted from
  // RTF and text/enriched; HTML parts are HTML. Reflects setPartText calls.
  virtual std::string_view partText(std::size_t part) const = 0;
  // Where the part sits: "body", "cpim", "multipart[1].cpim",
  // "header:Ms-IM-Format".
  virtual std::string_view partLocation(std::size_t part) const = 0;
  // Ignored for a part that is not partEditable().
  virtual void setPartText(std::size_t part, std::string_view text) = 0;
  // Since ABI 5. The media type the part was declared as ("text/rtf",
  // "application/xhtml+xml"), lower-case, without parameters.
  virtual std::string_view partMediaType(std::size_t part) const = 0;
  // Since ABI 5. False when an edit cannot be written back into the part's
  // wire form: text extracted from RTF, text/enriched or an RCS file
  // descriptor, text inside an encoded container, text that was not valid
  // in its charset. A filter that must change such a part (defang, redact)
  // blocks the message instead.
  virtual bool partEditable(std::size_t part) const = 0;

  // Since ABI 5. What could not be read, one reason per item, each a line
  // of ASCII naming where ("unknown charset x-foo in multipart[1]",
  // "multipart nested deeper than 4 levels in multipart[0]...", "gzip body
  // expands past 4194304 bytes"). Only text-like content counts: an image
  // is not unreadable, it is not text.
  virtual std::size_t unreadableCount() const = 0;
  virtual std::string_view unreadableReason(std::size_t index) const = 0;

  // Since ABI 5. Every leaf entity of the request body, for any method:
  // multipart and CPIM unwrapped, transfer encoding and compression undone,
  // the charset not converted. What file_filter reads offers from
  // (application/sdp, application/ms-filetransfer+xml, ...).
  virtual std::size_t entityCount() const = 0;
  // Lower-case, without parameters ("text/plain" when none was declared).
  virtual std::string_view entityType(std::size_t entity) const = 0;
  virtual std::string_view entityContent(std::size_t entity) const = 0;
  virtual std::string_view entityLocation(std::size_t entity) const = 0;

  // The message as plain text (the first text/plain part, else HTML with the
  // markup stripped and entities decoded): what is archived and searched.
  virtual std::string plainText() const = 0;
  // plainText() as the message arrived, before any filter's edit.
  virtual std::string originalPlainText() const = 0;
  // Bodies that are not text (images, files): their count, for the archive.
  virtual std::size_t otherPartCount() const = 0;
};

}  // namespace sipwarden
