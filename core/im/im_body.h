#pragma once
// The core's InstantMessage: finds the text parts of a request in every
// wire form (see sipwarden/instant_message.h) and renders edits back into
// that form. Offsets are kept into the original body, so nested forms
// (CPIM inside multipart) splice without re-parsing.
//
// Reading is linear in the body: each nesting level (at most four) reads
// its part once more, multipart delimiters are found in linear time
// whatever the boundary, and HTML is reduced to text in one pass.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sipwarden/instant_message.h"

namespace sipwarden::im {

struct MediaType {
  std::string type;  // "multipart/mixed", lower-case
  std::string boundary;
  std::string charset;
};

MediaType parseMediaType(std::string_view value);

class ImBody final : public InstantMessage {
 public:
  using HeaderLookup = std::function<std::optional<std::string_view>(std::string_view name)>;

  // `body` and `contentType` as the message now stands; `header` finds the
  // Ms-IM-Format / Ms-Text-Format headers.
  ImBody(std::string_view method, std::string_view contentType, std::string body, const HeaderLookup& header);

  bool present() const override;
  std::size_t partCount() const override { return parts_.size(); }
  std::string_view partType(std::size_t part) const override { return parts_.at(part).type; }
  std::string_view partText(std::size_t part) const override { return textOf(parts_.at(part)); }
  std::string_view partLocation(std::size_t part) const override { return parts_.at(part).location; }
  void setPartText(std::size_t part, std::string_view text) override;
  std::string plainText() const override { return joinedText(false); }
  std::string originalPlainText() const override;
  void setOriginalPlainText(std::string text) { originalPlainText_ = std::move(text); }
  std::size_t otherPartCount() const override { return otherParts_; }

  bool modified() const;
  bool bodyModified() const;
  // The body with every edited body part spliced in.
  std::string renderBody() const;
  // (header name, new value) for each edited header part.
  std::vector<std::pair<std::string, std::string>> renderHeaders() const;

 private:
  struct Part {
    std::string type;
    std::string text;  // header parts, and body parts once set (else the text is in body_)
    std::string original;  // a header part's text before its first edit
    std::string location;
    bool inHeader = false;
    std::size_t offset = 0;  // body parts: span in the original body
    std::size_t length = 0;
    std::string headerName;    // header parts
    std::string headerPrefix;  // everything up to and including "ms-body="
    bool modified = false;
  };

  // The part's text now, or with `original` as it was received.
  std::string_view textOf(const Part& part, bool original = false) const {
    if (!part.inHeader && (original || !part.modified)) return std::string_view(body_).substr(part.offset, part.length);
    return original && part.modified ? part.original : part.text;
  }
  std::string joinedText(bool original) const;
  void scanBody(std::string_view type, std::string_view mediaValue, std::size_t offset, std::size_t length,
                const std::string& location, int depth);
  void scanHeader(const std::string& name, std::string_view value);

  std::string method_;
  std::string body_;
  std::vector<Part> parts_;
  std::size_t otherParts_ = 0;
  // Set by the core when earlier filters replaced the body; otherwise worked
  // out from the parts' original texts when asked for.
  std::optional<std::string> originalPlainText_;
};

}  // namespace sipwarden::im
