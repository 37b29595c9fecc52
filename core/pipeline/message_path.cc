#include "pipeline/message_path.h"

namespace sipwarden::pipeline {

MessagePath::MessagePath(std::shared_ptr<const FilterChain> chain, const sip::Message& request,
                         const transport::Origin& origin, Direction direction, ArchiveSink* archive, Deliver deliver)
    : MessagePath(*chain, request, origin, direction, archive, std::move(deliver)) {
  keptChain_ = std::move(chain);
}

MessagePath::MessagePath(const FilterChain& chain, const sip::Message& request, const transport::Origin& origin,
                         Direction direction, ArchiveSink* archive, Deliver deliver)
    : chain_(chain), request_(request), exchange_(origin, direction) {
  exchange_.bind(request_);
  exchange_.setArchive(archive);
  if (deliver) {
    exchange_.setPendingFactory(
        [deliver = std::move(deliver)] { return std::make_shared<PendingResume>(deliver); });
  }
}

Verdict MessagePath::run(std::vector<TraceStep>* trace) {
  Verdict verdict = chain_.runRequest(exchange_, trace);
  waiting_ = verdict.kind() == Verdict::Kind::Pending;
  return verdict;
}

Verdict MessagePath::resume(Verdict delivered, std::vector<TraceStep>* trace) {
  waiting_ = false;
  Verdict verdict = chain_.resumeRequest(exchange_, std::move(delivered), trace);
  waiting_ = verdict.kind() == Verdict::Kind::Pending;
  return verdict;
}

bool MessagePath::giveUp() {
  const auto& pending = exchange_.pending();
  const bool gaveUp = pending == nullptr || pending->giveUp();
  if (gaveUp) waiting_ = false;
  return gaveUp;
}

void MessagePath::applyTo(sip::EditList& edits) const { exchange_.applyTo(edits); }

std::string MessagePath::serialize() const {
  sip::EditList edits;
  exchange_.applyTo(edits);
  return sip::serialize(request_, edits);
}

void MessagePath::onResponse(const sip::Message& response, sip::EditList& edits) {
  exchange_.bind(response);
  chain_.runResponse(exchange_);
  exchange_.applyTo(edits);
}

void MessagePath::end(int finalCode) {
  if (ended_) return;
  ended_ = true;
  // A transaction that ends while a filter's work is still queued tells that
  // work nobody waits for it any more.
  if (waiting_) giveUp();
  exchange_.bind(request_);
  chain_.runEnd(exchange_, finalCode);
}

}  // namespace sipwarden::pipeline
