#pragma once
// One SIP message: an owned buffer, an index of its headers as views into
// that buffer, and structured headers parsed on first use.
//
// The index is built once by Message::parse; nothing in the buffer is copied
// except header values that were folded over several lines, which are
// unfolded into side storage. A Message is immutable: changes are recorded in
// an EditList and applied by serialize() (see serializer.h).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sip/grammar.h"
#include "sip/header_id.h"

namespace sipwarden::sip {

struct HeaderField {
  std::string_view name;   // as written ("v", "MaX-fOrWaRdS")
  std::string_view value;  // trimmed and unfolded
  std::string_view raw;    // the field as on the wire, folds included, without the final line end
  HeaderId id = HeaderId::Other;
};

// One element of a comma-separated header (a Via or Route value), with where
// it sits so that an edit can remove just that element.
template <typename T>
struct ListElement {
  T value;
  std::size_t headerIndex = 0;
  std::size_t elementIndex = 0;  // position inside its header line
};

// How the bytes arrived: a datagram is one message (trailing octets ignored,
// missing Content-Length means "to the end"); a stream message was framed by
// Content-Length already.
enum class Framing { Datagram, Stream };

struct ParseFailure {
  std::string reason;       // names the fault, fit for a 400 reason phrase
  bool isRequest = false;   // whether the start line looked like a request
  int statusCode = 400;     // 505 for an unsupported SIP version
};

class Message {
 public:
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;

  // Builds the header index. Returns nullptr when the bytes are not a SIP
  // message at all. Returns the message with `failure.reason` set when the
  // index could be built but the message must be rejected (bad framing, bad
  // version): the caller can still address a reply to it.
  static std::unique_ptr<Message> parse(std::string bytes, Framing framing, ParseFailure& failure);

  bool isRequest() const { return isRequest_; }
  bool isResponse() const { return !isRequest_; }
  // The request method; for a response, the CSeq method (empty if CSeq is bad).
  std::string_view method() const;
  std::string_view requestUri() const { return requestUri_; }
  std::string_view version() const { return version_; }
  int statusCode() const { return statusCode_; }
  std::string_view reasonPhrase() const { return reason_; }
  std::string_view startLine() const { return startLine_; }
  std::string_view body() const { return body_; }
  const std::string& bytes() const { return buffer_; }
  // The octets the message occupies in its buffer (less than bytes().size()
  // when a datagram carried trailing octets).
  std::size_t wireSize() const { return wireSize_; }

  const std::vector<HeaderField>& headers() const { return headers_; }
  const HeaderField* first(HeaderId id) const;
  std::size_t count(HeaderId id) const;
  std::optional<std::string_view> header(std::string_view name) const;
  // Every value of a header, each comma-separated element on its own when
  // the header is a list (Via, Route, Record-Route, Contact, Supported, ...).
  std::vector<std::string_view> values(std::string_view name) const;

  // Structured views, parsed on first use. Each returns nullptr when the
  // header is absent or malformed; structureError() then says which.
  const std::vector<ListElement<Via>>* vias() const;
  const Via* topVia() const;
  const std::vector<ListElement<NameAddr>>* routes() const;
  const std::vector<ListElement<NameAddr>>* recordRoutes() const;
  const NameAddr* from() const;
  const NameAddr* to() const;
  const CSeq* cseq() const;
  const Uri* parsedRequestUri() const;
  // Reads Max-Forwards: false when malformed or repeated; `value` is nullopt
  // when the header is absent.
  bool readMaxForwards(std::optional<unsigned>& value) const;
  std::string_view callId() const;
  const std::string& structureError() const { return structureError_; }

 private:
  Message() = default;

  template <typename T>
  struct Lazy {
    bool parsed = false;
    bool ok = false;
    T value{};
  };

  bool parseStartLine(std::string_view line, ParseFailure& failure);
  bool parseNameAddrList(HeaderId id, Lazy<std::vector<ListElement<NameAddr>>>& cache) const;
  const NameAddr* singleNameAddr(HeaderId id, Lazy<NameAddr>& cache) const;
  void fail(std::string reason) const;

  std::string buffer_;
  std::vector<std::unique_ptr<std::string>> unfolded_;
  std::vector<HeaderField> headers_;
  std::string_view startLine_;
  std::string_view method_;
  std::string_view requestUri_;
  std::string_view version_;
  std::string_view reason_;
  std::string_view body_;
  std::size_t wireSize_ = 0;
  int statusCode_ = 0;
  bool isRequest_ = false;

  // Structured headers live apart from the index and are allocated on the
  // first structured read: a message that is only framed and indexed (or
  // dropped) never pays for them.
  struct Structured {
    Lazy<std::vector<ListElement<Via>>> vias;
    Lazy<std::vector<ListElement<NameAddr>>> routes;
    Lazy<std::vector<ListElement<NameAddr>>> recordRoutes;
    Lazy<NameAddr> from;
    Lazy<NameAddr> to;
    Lazy<CSeq> cseq;
    Lazy<Uri> requestUri;
  };
  Structured& structured() const;

  mutable std::unique_ptr<Structured> structured_;
  mutable std::string structureError_;
};

// Finds the end of the header section (index one past the empty line), or
// npos. Accepts CRLF and bare LF line ends.
std::size_t findHeaderEnd(std::string_view bytes) noexcept;

}  // namespace sipwarden::sip
