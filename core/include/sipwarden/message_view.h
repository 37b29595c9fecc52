#pragma once
// Read-only access to a SIP message for filter plugins. Implemented by the
// core; valid only during the hook call it was passed to. Reads reflect the
// edits earlier filters in the chain made (headers and body).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sipwarden {

// A From/To value, split the way policies need it.
struct Address {
  std::string uri;      // "sip:alice@example.com"
  std::string user;     // "alice"
  std::string host;     // "example.com"
  std::string display;  // "Alice Liddell", unquoted
  std::string tag;
  // "user@host", lower-case host: the address-of-record a policy compares.
  std::string aor() const { return user.empty() ? host : user + "@" + host; }
};

class MessageView {
 public:
  virtual ~MessageView() = default;

  virtual bool isRequest() const = 0;
  // The request method; for a response, the method of its CSeq.
  virtual std::string_view method() const = 0;
  virtual std::string_view requestUri() const = 0;  // empty for responses
  virtual int statusCode() const = 0;               // 0 for requests
  virtual std::string_view reasonPhrase() const = 0;
  virtual std::string_view callId() const = 0;
  virtual std::uint32_t cseqNumber() const = 0;
  virtual const Address& from() const = 0;
  virtual const Address& to() const = 0;

  // First value of a header (long or compact name, any case).
  virtual std::optional<std::string_view> header(std::string_view name) const = 0;
  // Every value, comma-separated list elements split apart.
  virtual std::vector<std::string> headers(std::string_view name) const = 0;
  virtual std::string_view body() const = 0;
  virtual std::string_view contentType() const = 0;  // without parameters, lower-case
};

}  // namespace sipwarden
