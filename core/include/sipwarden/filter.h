#pragma once
// The filter interface every plugin implements, and the per-transaction
// context (Exchange) the chain hands to it.
//
// Threading and lifetime: a Filter is built once per chain (at start and on
// every reload) and called from the SIP worker thread only. An Exchange
// lives as long as its transaction; the MessageView inside a hook call is
// valid only during that call. No exception may leave a hook: report
// failures with Verdict::error() so the plugin's fail mode applies.

#include <chrono>
#include <functional>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sipwarden/archive.h"
#include "sipwarden/instant_message.h"
#include "sipwarden/message_view.h"
#include "sipwarden/verdict.h"

namespace sipwarden {

enum class Transport { Udp, Tcp, Tls };
// The transport's name as Via writes it ("UDP", "TCP", "TLS"), for records
// and logs.
inline const char* transportName(Transport transport) {
  return transport == Transport::Tls ? "TLS" : transport == Transport::Tcp ? "TCP" : "UDP";
}
// Which side sent the request: a client of the hop, or one of its upstreams.
enum class Direction { FromClient, FromUpstream };
enum class LogLevel { Debug, Info, Warning, Error };

// The methods a filter wants to see; the chain skips it for the others
// without calling it.
class MethodSet {
 public:
  enum Method : std::uint32_t {
    Invite = 1u << 0, Ack = 1u << 1, Bye = 1u << 2, Cancel = 1u << 3, Message = 1u << 4, Options = 1u << 5,
    Register = 1u << 6, Subscribe = 1u << 7, Notify = 1u << 8, Refer = 1u << 9, Info = 1u << 10,
    Update = 1u << 11, Prack = 1u << 12, Publish = 1u << 13, Other = 1u << 14
  };
  constexpr MethodSet(std::uint32_t bits = 0) : bits_(bits) {}
  static constexpr MethodSet all() { return MethodSet(0x7fff); }
  static constexpr std::uint32_t bitFor(std::string_view method) {
    // Dispatch on length first: this runs for every message and plugin.
    switch (method.size()) {
      case 3:
        if (method == "ACK") return Ack;
        if (method == "BYE") return Bye;
        break;
      case 4:
        if (method == "INFO") return Info;
        break;
      case 5:
        if (method == "PRACK") return Prack;
        if (method == "REFER") return Refer;
        break;
      case 6:
        if (method == "INVITE") return Invite;
        if (method == "CANCEL") return Cancel;
        if (method == "NOTIFY") return Notify;
        if (method == "UPDATE") return Update;
        break;
      case 7:
        if (method == "MESSAGE") return Message;
        if (method == "OPTIONS") return Options;
        if (method == "PUBLISH") return Publish;
        break;
      case 8:
        if (method == "REGISTER") return Register;
        break;
      case 9:
        if (method == "SUBSCRIBE") return Subscribe;
        break;
      default:
        break;
    }
    return Other;
  }
  constexpr bool contains(std::uint32_t bit) const { return (bits_ & bit) != 0; }
  constexpr std::uint32_t bits() const { return bits_; }

 private:
  std::uint32_t bits_;
};

// Changes a filter asks for. Applied once, when the message leaves.
class Edits {
 public:
  virtual ~Edits() = default;
  // Replaces every value of the header with one (adds it when absent).
  virtual void setHeader(std::string_view name, std::string_view value) = 0;
  virtual void addHeader(std::string_view name, std::string_view value) = 0;
  virtual void removeHeader(std::string_view name) = 0;
  // Replaces the body; Content-Length follows. An empty content type keeps
  // the current one.
  virtual void setBody(std::string_view body, std::string_view contentType = {}) = 0;
};

// What a filter knows about the transaction around the message.
// The meeting point of a transaction waiting for a pending verdict and the
// work that will produce it on another thread (the archive's commit). Both
// sides may give up or finish at any time; exactly one outcome wins:
//   - the transaction gives up (64 x T1 passed, or it ended): claim() and
//     resume() then return false, and the work should be dropped;
//   - claim() succeeded first: the transaction no longer gives up. It waits
//     as long as the work takes, so resume() must follow, soon and surely.
//     Claim just before the step that cannot be undone (the archive claims
//     once it holds the write lock, right before writing the row), so that
//     "the caller was refused" and "the work was done" never both happen.
// resume() without claim() simply races the give-up (false if it lost).
class PendingVerdict {
 public:
  virtual ~PendingVerdict() = default;
  // Any thread. True when the transaction now waits for resume().
  virtual bool claim() = 0;
  // Any thread, once. Delivers the verdict; false if the transaction gave up.
  virtual bool resume(Verdict verdict) = 0;
  // Any thread. True once the transaction gave up.
  virtual bool abandoned() const = 0;
};

class Exchange {
 public:
  virtual ~Exchange() = default;

  virtual const MessageView& message() const = 0;
  virtual Edits& edits() = 0;
  // The instant-message text of the current message, parsed on first use.
  virtual InstantMessage& instantMessage() = 0;

  virtual std::string_view sourceIp() const = 0;
  virtual std::uint16_t sourcePort() const = 0;
  virtual Transport transport() const = 0;
  virtual Direction direction() const = 0;
  // Call-ID, From tag, To tag: stable for every message of one dialog.
  virtual std::string dialogId() const = 0;
  virtual std::chrono::system_clock::time_point now() const = 0;

  virtual void log(LogLevel level, std::string_view text) = 0;
  // Adds to a counter scoped to the calling plugin ("blocked.exe").
  virtual void count(std::string_view counter, std::uint64_t delta = 1) = 0;
  // Key/value state private to the calling plugin, kept from onRequest to
  // onResponse and onEnd of the same transaction.
  virtual std::map<std::string, std::string>& state() = 0;
  // Tags and rules that travel with the transaction (to the archive).
  virtual void tag(std::string_view key, std::string_view value) = 0;
  virtual const std::vector<std::pair<std::string, std::string>>& tags() const = 0;
  // The plugin whose Reply or Drop stopped the request ("" when none did).
  virtual std::string_view stoppedBy() const = 0;

  // The archive, or nullptr when none is configured.
  virtual ArchiveSink* archive() = 0;
  // The one way for a plugin to decide later: take this, return
  // Verdict::pending(), and let the work behind the verdict call resume()
  // (from any thread, once). The chain then goes on with the next plugin
  // (or answers, or drops). The transaction gives up at 64 x T1 unless the
  // work claimed it first (see PendingVerdict). (Before ABI 6 there was
  // also resumer(), a callable that could only race the give-up.)
  virtual std::shared_ptr<PendingVerdict> pendingVerdict() = 0;
  // Since ABI 4. Says what the plugin is doing right now ("policy.lua:12"),
  // for the watchdog's report when the SIP thread stalls. Cheap (a short
  // copy under an uncontended lock): a plugin may call it per step of long
  // work. Only the latest note counts; the chain notes each plugin it calls.
  virtual void noteActivity(std::string_view what) = 0;
  // Since ABI 5. The body of the message now being handled exactly as it
  // arrived, before any filter's edit (message().body() shows the edits):
  // what the archive keeps as the raw body.
  virtual std::string_view receivedBody() const = 0;
};

// For a content filter's `max_body_bytes`: when the text of the message's
// instant-message parts together is over `maxBytes`, counts
// `over_limit.body` and returns the error that makes the chain apply the
// plugin's fail mode (the text is not read partially and passed).
inline std::optional<Verdict> textOverLimit(Exchange& exchange, std::size_t maxBytes) {
  const InstantMessage& message = exchange.instantMessage();
  std::size_t bytes = 0;
  for (std::size_t part = 0; part < message.partCount(); ++part) bytes += message.partText(part).size();
  if (bytes <= maxBytes) return std::nullopt;
  exchange.count("over_limit.body");
  return Verdict::error("text of " + std::to_string(bytes) + " bytes, over max_body_bytes (" +
                        std::to_string(maxBytes) + ")");
}

class Filter {
 public:
  virtual ~Filter() = default;

  // Methods this filter wants; asked once when the chain is built.
  virtual MethodSet methods() const { return MethodSet::all(); }
  // Called once per new request (retransmissions never reach filters),
  // before it is forwarded. Return Continue to pass it on (with any edits),
  // Reply to answer it here, Drop to discard it, Error to fail.
  [[nodiscard]] virtual Verdict onRequest(Exchange& exchange) = 0;
  // Called for each response relayed back (provisional and final), after
  // the request went through this filter. Edits apply to the response.
  virtual void onResponse(Exchange& /*exchange*/) {}
  // Called once when the transaction has its final response (relayed or
  // local), with that response's code (408 on timeout).
  virtual void onEnd(Exchange& /*exchange*/, int /*finalCode*/) {}
};

}  // namespace sipwarden
