// What no transaction claims goes on statelessly (RFC 3261 §16.10, §16.11):
// an ACK for a 2xx (end to end), a CANCEL whose INVITE the hop never saw,
// and a response that outlived its transaction (a 2xx retransmission),
// relayed by the next Via.
#include "proxy/proxy.h"
#include "sip/reason.h"

namespace sipwarden::proxy {

Route Proxy::relayStatelessly(const sip::Message& request, const transport::Origin& origin,
                              std::string_view branchKey) {
  sip::EditList edits;
  std::vector<transport::Target> targets;
  Route route = router_.prepareForward(request, origin, edits, targets);
  if (route.kind == Route::Kind::Lookup) {
    startLookup(*route.lookup, 0);
    return route;
  }
  if (route.kind == Route::Kind::Reply) return route;
  if (targets.empty()) return Route{Route::Kind::Reply, Verdict::proceed(), std::nullopt};
  edits.prepend("Via", router_.viaFor(targets.front().protocol, router_.branchFor(request, branchKey, 0)));
  sender_.send(targets.front(), sip::serialize(request, edits));
  return route;
}

void Proxy::relayByNextVia(const sip::Message& response) {
  const std::optional<transport::Target> target = Router::nextViaTarget(response);
  if (!target) {
    drop("response without a Via to follow");
    return;
  }
  const auto& top = response.vias()->front();
  sip::EditList edits;
  edits.removeElement(response, top.headerIndex, top.elementIndex);
  ++counters_.responsesByClass[sip::statusClass(response.statusCode())];
  sender_.send(*target, sip::serialize(response, edits));
}

}  // namespace sipwarden::proxy
