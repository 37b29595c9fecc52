#pragma once
// The instant-message text carried by a request, whatever wire form it came
// in: text/plain, text/html, message/cpim wrapping either, each text part of
// multipart/alternative or multipart/mixed, and the Lync Ms-IM-Format /
// Ms-Text-Format headers whose ms-body= carries a base64 copy. Filters read
// and rewrite the parts here; the core re-encodes each edit into its wire
// form (body splice, MIME boundaries kept, base64 re-encoded, Content-Length
// fixed) when the message leaves.
//
// Obtained from Exchange::instantMessage(); valid during the hook call.

#include <cstddef>
#include <string>
#include <string_view>

namespace sipwarden {

class InstantMessage {
 public:
  virtual ~InstantMessage() = default;

  // True for a MESSAGE with at least one text part, and for an INVITE that
  // embeds its first message (Ms-Text-Format / Ms-IM-Format). False for
  // is-composing notifications and other non-text bodies.
  virtual bool present() const = 0;
  virtual std::size_t partCount() const = 0;
  // "text/plain" or "text/html", lower-case, without parameters.
  virtual std::string_view partType(std::size_t part) const = 0;
  // The part's text as the recipient will see it: decoded from base64 where
  // it was encoded; HTML parts are HTML. Reflects setText calls.
  virtual std::string_view partText(std::size_t part) const = 0;
  // Where the part sits: "body", "cpim", "multipart[N]", "header:Ms-IM-Format".
  virtual std::string_view partLocation(std::size_t part) const = 0;
  virtual void setPartText(std::size_t part, std::string_view text) = 0;

  // The message as plain text (the first text/plain part, else HTML with the
  // markup stripped and entities decoded): what is archived and searched.
  virtual std::string plainText() const = 0;
  // plainText() as the message arrived, before any filter's edit.
  virtual std::string originalPlainText() const = 0;
  // Bodies that are not text (images, files): their count, for the archive.
  virtual std::size_t otherPartCount() const = 0;
};

}  // namespace sipwarden
