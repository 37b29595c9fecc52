#include "app/policy_run.h"

#include <Poco/Net/SocketAddress.h>

#include <fstream>
#include <sstream>

#include "pipeline/message_path.h"
#include "proxy/replies.h"
#include "proxy/sanity.h"
#include "sip/edit_list.h"

namespace sipwarden::app {

Outcome runMessage(const pipeline::FilterChain& chain, const std::string& file, const RunOptions& options) {
  Outcome outcome;
  outcome.file = file;
  std::ifstream in(file, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (!in) {
    outcome.result = "invalid";
    outcome.reason = "cannot read the file";
    return outcome;
  }
  sip::ParseFailure failure;
  auto message = sip::Message::parse(bytes.str(), sip::Framing::Datagram, failure);
  if (!message || !message->isRequest()) {
    outcome.result = "invalid";
    outcome.reason = message ? "not a request" : "not a SIP message: " + failure.reason;
    return outcome;
  }
  const Verdict sane = proxy::checkRequest(*message, failure, proxy::SanityLimits{});
  if (!sane.isContinue()) {
    outcome.result = "reply";
    outcome.code = sane.code();
    outcome.reason = "the hop itself rejects it: " + sane.reason();
    outcome.wire = proxy::buildReply(*message, sane.code(), sane.reason(), "policytest", sane.headers());
    return outcome;
  }
  transport::Origin origin{transport::Protocol::Udp, Poco::Net::SocketAddress(options.sourceIp, 5060), 0};
  // Offline, nobody waits: a pending plugin stops the run (no deliver).
  pipeline::MessagePath path(chain, *message, origin,
                             options.fromUpstream ? Direction::FromUpstream : Direction::FromClient);
  if (options.now) path.exchange().fixNow(*options.now);
  const Verdict verdict = path.run(&outcome.steps);
  switch (verdict.kind()) {
    case Verdict::Kind::Continue:
      outcome.result = "forward";
      outcome.edited = path.exchange().edited();
      outcome.wire = path.serialize();
      break;
    case Verdict::Kind::Reply:
      outcome.result = "reply";
      outcome.code = verdict.code();
      outcome.reason = verdict.reason();
      outcome.replyHeaders = verdict.headers();
      outcome.wire = proxy::buildReply(*message, verdict.code(), verdict.reason(), "policytest", verdict.headers());
      break;
    case Verdict::Kind::Drop:
    case Verdict::Kind::Error:
      outcome.result = "drop";
      outcome.reason = verdict.reason();
      break;
    case Verdict::Kind::Pending:
      outcome.result = "pending";
      outcome.reason = "a plugin waits for an asynchronous answer (the archive in reject mode); offline it stops here";
      break;
  }
  outcome.tags = path.exchange().tags();
  for (const auto& [key, value] : outcome.tags) outcome.steps.push_back({"tag", key + "=" + value, 0, ""});
  return outcome;
}

}  // namespace sipwarden::app
