#pragma once
// What a stage of the message path decides about a message. The proxy core
// and every filter plugin return one; only the chain and the proxy act on it.
//
//   Continue  pass the message on to the next stage (and then forward it).
//   Reply     answer the request locally with `code` and `reason` (plus any
//             extra headers, e.g. Warning); the message goes no further.
//   Drop      discard silently (counted under `reason`); for requests where
//             no reply is possible or wanted.
//   Error     the stage failed (`reason` says why); the chain applies the
//             plugin's fail mode: open passes the message, closed replies.
//   Pending   the plugin will decide later (e.g. after the archive commits):
//             it took Exchange::pendingVerdict() and resumes it, from any
//             thread, with the real verdict. The transaction waits meanwhile.

#include <string>
#include <utility>
#include <vector>

namespace sipwarden {

class [[nodiscard]] Verdict {
 public:
  enum class Kind { Continue, Reply, Drop, Error, Pending };
  using Headers = std::vector<std::pair<std::string, std::string>>;

  static Verdict proceed() { return Verdict(Kind::Continue, 0, {}, {}); }
  static Verdict reply(int code, std::string reason, Headers headers = {}) {
    return Verdict(Kind::Reply, code, std::move(reason), std::move(headers));
  }
  static Verdict drop(std::string reason) { return Verdict(Kind::Drop, 0, std::move(reason), {}); }
  static Verdict error(std::string reason) { return Verdict(Kind::Error, 0, std::move(reason), {}); }
  static Verdict pending() { return Verdict(Kind::Pending, 0, {}, {}); }

  Kind kind() const { return kind_; }
  bool isContinue() const { return kind_ == Kind::Continue; }
  int code() const { return code_; }
  const std::string& reason() const { return reason_; }
  const Headers& headers() const { return headers_; }

 private:
  Verdict(Kind kind, int code, std::string reason, Headers headers)
      : kind_(kind), code_(code), reason_(std::move(reason)), headers_(std::move(headers)) {}

  Kind kind_;
  int code_;
  std::string reason_;
  Headers headers_;
};

}  // namespace sipwarden
