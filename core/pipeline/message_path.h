#pragma once
// The named path of one request through the filter chain:
//
//   bind the exchange -> run the chain -> (wait while a filter is pending ->
//   resume after it) -> apply the filters' edits -> serialize
//
// Everything that runs a request through filters goes this way: the proxy
// (one MessagePath per transaction, kept for its responses and its end),
// `policy test`, the plugin tests, the fuzzers and the benchmarks. The path
// remembers where the chain stopped, so a pending filter's verdict resumes
// the chain right after that filter, as reSIProcate repro's ProcessorChain
// resumes at its stored position.
//
// A filter goes asynchronous one way: it takes Exchange::pendingVerdict()
// and returns Verdict::pending(). The verdict its work delivers (from any
// thread) reaches the owner of the path through `deliver`; the owner hands
// it back to resume() on the path's own thread.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/chain.h"
#include "pipeline/exchange.h"
#include "sip/edit_list.h"
#include "sip/message.h"
#include "transport/transport.h"

namespace sipwarden::pipeline {

class MessagePath {
 public:
  // Called from the thread that resumes a pending filter's work, at most
  // once per pending call; it must only queue the verdict for the owner.
  using Deliver = std::function<void(Verdict)>;

  // `request` and `origin` must outlive the path (the transaction keeps
  // all three); the path keeps the chain it started on. Without `deliver`,
  // a pending filter's verdict is dropped (offline runs: nobody waits).
  MessagePath(std::shared_ptr<const FilterChain> chain, const sip::Message& request, const transport::Origin& origin,
              Direction direction, ArchiveSink* archive = nullptr, Deliver deliver = nullptr);
  // The same on a chain the caller keeps alive for the path's life (tools,
  // tests, fuzzers and benchmarks that build one chain for many runs).
  MessagePath(const FilterChain& chain, const sip::Message& request, const transport::Origin& origin,
              Direction direction, ArchiveSink* archive = nullptr, Deliver deliver = nullptr);

  // Runs the request through the chain from the first filter. Continue: the
  // request may go on, with the edits applyTo() or serialize() give. Reply
  // or Drop: it stops here. Pending: a filter's work will deliver the real
  // verdict; hand it to resume(). `trace` (optional) gets one step a filter.
  Verdict run(std::vector<TraceStep>* trace = nullptr);
  // On the path's own thread, with the verdict the pending filter delivered:
  // applies that filter's fail mode and goes on with the next filter.
  // Returns as run() does.
  Verdict resume(Verdict delivered, std::vector<TraceStep>* trace = nullptr);
  // Whether a filter's verdict is still awaited.
  bool waiting() const { return waiting_; }
  // The owner stops waiting (its timer ran out, or the transaction ended):
  // true when the pending filter's work is dropped, false when that work
  // claimed the request or has already resumed it (its verdict is on its
  // way and the owner must keep waiting for it).
  bool giveUp();

  // The request's edits, as EditList entries for the request.
  void applyTo(sip::EditList& edits) const;
  // The request as it leaves: its bytes with the filters' edits applied.
  std::string serialize() const;

  // Each response relayed back runs through the filters that saw the
  // request; their edits are added to `edits` (which apply to `response`).
  void onResponse(const sip::Message& response, sip::EditList& edits);
  // The transaction's outcome, once (0: dropped without a response).
  void end(int finalCode);

  CoreExchange& exchange() { return exchange_; }
  const CoreExchange& exchange() const { return exchange_; }

 private:
  std::shared_ptr<const FilterChain> keptChain_;
  const FilterChain& chain_;
  const sip::Message& request_;
  CoreExchange exchange_;
  bool waiting_ = false;
  bool ended_ = false;
};

}  // namespace sipwarden::pipeline
