#pragma once
// Splitting a TCP or TLS byte stream into SIP messages (RFC 3261 §18.3):
// each message is its header section up to the empty line plus exactly
// Content-Length bytes of body. This is where request smuggling lives: if
// the hop and the next hop read a stream's boundaries differently, bytes
// one of them took for a body the other takes for a request. So the rule
// is strict and has no repair: a Content-Length that is malformed, given
// twice (in either form, "Content-Length" or "l"), or too large for the
// message size limit closes the connection instead of guessing. A stream
// message without one has no body (the parser then answers 400 if the
// request needed one; the next bytes are the next message, as RFC 3261
// §18.3 requires of a stream without lengths).

#include <cstddef>
#include <string_view>

namespace sipwarden::sip {

// What the front of a stream connection's unread bytes holds.
struct StreamFrame {
  enum class Kind {
    Incomplete,  // wait for more bytes
    Message,     // `length` bytes are one SIP message
    Ping,        // RFC 5626 §3.5.1 double CRLF (`length` 4): answer one CRLF
    Crlf,        // a stray CRLF between messages (`length` 2): skip it
    Error,       // the stream cannot be framed: close the connection
  };
  Kind kind = Kind::Incomplete;
  std::size_t length = 0;
  const char* error = "";  // why, for Error
};

// Called by the transport after every read, in a loop, until it returns
// Incomplete or Error; looks at one message at most and never copies.
StreamFrame nextStreamFrame(std::string_view in, std::size_t maxMessageSize);

// Content-Length in a header section (long or compact form, any case).
// False when it is present but malformed or repeated; `length` is 0 when
// it is absent.
bool streamContentLength(std::string_view headers, std::size_t& length);

}  // namespace sipwarden::sip
