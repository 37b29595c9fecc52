#pragma once
// The core's InstantMessage: the one reading of a request body (see
// sipwarden/instant_message.h) and the rendering of edits back into its wire
// form. Decoded text is kept beside the original; body parts remember their
// span in the (decompressed) body and how to re-encode, so nested forms
// splice without re-parsing.
//
// Reading is linear in the body per nesting level: each level (at most
// kMaxBodyNesting) reads its part once more, multipart delimiters are found
// in linear time whatever the boundary, decompression stops at
// kMaxDecodedBodyBytes, and every text decoder is one pass.

#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "im/decoding.h"
#include "im/mime.h"
#include "sipwarden/instant_message.h"

namespace sipwarden::im {

class ImBody final : public InstantMessage {
 public:
  using HeaderLookup = std::function<std::optional<std::string_view>(std::string_view name)>;

  using HeaderCount = std::function<std::size_t(std::string_view name)>;

  // The headers the reader looks at, found by the caller in one pass over
  // the message (a lookup per name cost more than reading a short body).
  // A body whose type or encoding is given twice is read two ways by
  // different clients, so the counts matter.
  struct Headers {
    std::optional<std::string_view> contentEncoding;
    std::optional<std::string_view> transferEncoding;  // Content-Transfer-Encoding
    std::optional<std::string_view> msTextFormat;
    std::optional<std::string_view> msImFormat;
    std::size_t contentTypes = 0;
    std::size_t contentEncodings = 0;
    std::size_t transferEncodings = 0;
    std::size_t msTextFormats = 0;
    std::size_t msImFormats = 0;
  };

  // `body` and `contentType` as the message now stands.
  ImBody(std::string_view method, std::string_view contentType, std::string body, const Headers& headers);
  // The same with the headers looked up one by one (tests, fuzzers);
  // `count`, when given, says how often a header occurs.
  ImBody(std::string_view method, std::string_view contentType, std::string body, const HeaderLookup& header,
         const HeaderCount& count = nullptr);
  // Parts refer into the object's own buffers by index, so moving is safe;
  // copies are not needed.
  ImBody(ImBody&&) = default;
  ImBody(const ImBody&) = delete;
  ImBody& operator=(const ImBody&) = delete;

  bool present() const override;
  std::size_t partCount() const override { return parts_.size(); }
  std::string_view partType(std::size_t part) const override { return parts_.at(part).type; }
  std::string_view partText(std::size_t part) const override { return textOf(parts_.at(part)); }
  std::string_view partLocation(std::size_t part) const override { return parts_.at(part).location; }
  void setPartText(std::size_t part, std::string_view text) override;
  std::string_view partMediaType(std::size_t part) const override { return parts_.at(part).mediaType; }
  bool partEditable(std::size_t part) const override { return parts_.at(part).editable; }
  std::size_t unreadableCount() const override { return unreadable_.size(); }
  std::string_view unreadableReason(std::size_t index) const override { return unreadable_.at(index); }
  std::size_t entityCount() const override { return entities_.size(); }
  std::string_view entityType(std::size_t entity) const override { return entities_.at(entity).type; }
  std::string_view entityContent(std::size_t entity) const override { return viewOf(entities_.at(entity).span); }
  std::string_view entityLocation(std::size_t entity) const override { return entities_.at(entity).location; }
  std::string plainText() const override { return joinedText(false); }
  std::string originalPlainText() const override;
  void setOriginalPlainText(std::string text) { originalPlainText_ = std::move(text); }
  std::size_t otherPartCount() const override { return otherParts_; }

  bool modified() const;
  bool bodyModified() const;
  // The body with every edited body part spliced in, re-encoded and, when
  // the body came compressed, compressed again.
  std::string renderBody() const;
  // (header name, new value) for each edited header part.
  std::vector<std::pair<std::string, std::string>> renderHeaders() const;

 private:
  // Bytes in the decompressed body (buffer -1) or in a decoded buffer.
  struct Span {
    int buffer = -1;
    std::size_t offset = 0;
    std::size_t length = 0;
  };
  struct Part {
    std::string type;       // reading form: text/plain or text/html
    std::string mediaType;  // as declared
    std::string location;
    Span span;                // where the part's bytes sit
    bool decoded = false;     // the text lives in `text` (it differs from the bytes)
    std::string text;         // decoded text, or the edit
    std::string original;     // the text before its first edit, when `text` held it
    bool editable = true;
    bool searchable = true;  // part of plainText(), what the archive keeps
    bool inHeader = false;
    TransferEncoding transfer = TransferEncoding::Identity;
    CharsetReading charset;  // charset.charset "" for UTF-8
    std::string headerName;    // header parts
    std::string headerValue;   // the header as received; the edit replaces its ms-body span
    std::size_t msBodyOffset = 0;
    std::size_t msBodyLength = 0;
    bool modified = false;
  };
  struct Entity {
    std::string type;
    std::string location;
    Span span;
  };
  // What a leaf or container arrived as, before decoding.
  // Views into the body, a decoded buffer or the caller's header values,
  // valid for the readEntity call they are passed to.
  struct Declared {
    std::string_view contentType;  // the full value, parameters included
    std::string_view transfer;     // Content-Transfer-Encoding value
    std::string location;
    bool ambiguous = false;        // a header given twice with different values
  };

  std::string_view viewOf(const Span& span) const {
    const std::string& bytes = span.buffer < 0 ? body_ : buffers_[static_cast<std::size_t>(span.buffer)];
    return std::string_view(bytes).substr(span.offset, span.length);
  }
  // The part's text now, or with `original` as it was received.
  std::string_view textOf(const Part& part, bool original = false) const {
    if (part.modified) return original ? std::string_view(part.original) : std::string_view(part.text);
    return part.decoded ? std::string_view(part.text) : viewOf(part.span);
  }
  std::string joinedText(bool original) const;
  void readEntity(const Declared& declared, Span span, int depth);
  void readCpim(Span span, const std::string& location, int depth);
  void readEmbeddedMessage(Span span, const std::string& location, int depth);
  void readMultipart(const std::string& boundary, Span span, const std::string& location, int depth);
  // `raw`: the part's bytes as sent; `decoded`: after its transfer encoding.
  void readText(const std::string& mediaType, const MediaType& media, Span raw, Span decoded, TransferEncoding transfer,
                const std::string& location);
  void scanHeader(const std::string& name, std::string_view value);
  // Text outside the MIME structure that a client may still show
  // (preamble, epilogue, a second reading of a contradicted charset): read,
  // never rewritten.
  void addReadOnlyText(std::string_view bytes, const std::string& mediaType, const std::string& location);
  void addUnreadable(std::string reason);
  // The common case, read directly; false when the body needs the general
  // reading.
  bool readPlainUtf8(std::string_view contentType);
  Span store(std::string bytes);

  std::string method_;
  std::string body_;  // decompressed when the body came with a Content-Encoding
  ContentEncoding bodyEncoding_ = ContentEncoding::Identity;
  bool rawDeflate_ = false;
  std::size_t leaves_ = 0;  // entities read so far, against kMaxBodyParts
  std::deque<std::string> buffers_;
  std::vector<Part> parts_;
  std::vector<Entity> entities_;
  std::vector<std::string> unreadable_;
  std::size_t otherParts_ = 0;
  std::size_t notifications_ = 0;
  // Set by the core when earlier filters replaced the body; otherwise worked
  // out from the parts' original texts when asked for.
  std::optional<std::string> originalPlainText_;
};

}  // namespace sipwarden::im
