#include "proxy/router.h"

#include <Poco/Exception.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/Net/SocketAddress.h>

#include <cstdio>

#include "proxy/transaction_key.h"

namespace sipwarden::proxy {

using sip::HeaderId;
using sip::iequals;
using transport::Protocol;
using transport::Target;

namespace {

constexpr std::string_view kBranchPrefix = "z9hG4bKsw";

std::string hex(std::uint64_t value, int digits) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%0*llx", digits, static_cast<unsigned long long>(value));
  return std::string(buffer, static_cast<std::size_t>(digits));
}

// Fields that decide how a request is routed (RFC 3261 §16.6 step 8): a
// request that comes back with all of them unchanged is a loop, not a spiral.
std::uint64_t loopHash(const sip::Message& request) {
  std::uint64_t hash = fnv1a(request.requestUri());
  if (const auto* from = request.from()) hash = fnv1a(from->tag(), hash);
  if (const auto* to = request.to()) hash = fnv1a(to->tag(), hash);
  hash = fnv1a(request.callId(), hash);
  if (const auto* cseq = request.cseq()) hash = fnv1a(std::to_string(cseq->number), hash);
  for (auto value : request.values("Proxy-Require")) hash = fnv1a(value, hash);
  return hash;
}

std::uint16_t portOr(std::uint16_t port, std::uint16_t fallback) { return port != 0 ? port : fallback; }

}  // namespace

Router::Router(const ProxyConfig& config) : config_(config) {
  for (const Upstream& upstream : config_.upstreams) {
    upstreams_.push_back(
        Target{upstream.protocol, Poco::Net::SocketAddress(upstream.host, upstream.port), 0, upstream.host});
  }
}

bool Router::fromUpstream(const transport::Origin& origin) const {
  for (const Target& upstream : upstreams_) {
    if (upstream.address == origin.source) return true;
  }
  return false;
}

bool Router::isLocal(const sip::Uri& uri) const {
  if (!uri.isSip() || !iequals(uri.hostAddress(), config_.advertisedHost)) return false;
  return config_.ownsPort(portOr(uri.port, iequals(uri.scheme, "sips") ? 5061 : 5060));
}

bool Router::isLocalVia(const sip::Via& via) const {
  if (!via.branch().starts_with(kBranchPrefix) || !iequals(via.hostAddress(), config_.advertisedHost)) return false;
  return config_.ownsPort(portOr(via.port, iequals(via.transport, "TLS") ? 5061 : 5060));
}

std::string Router::branchFor(const sip::Message& request, std::string_view serverKey, std::size_t attempt) const {
  const std::uint64_t transaction = fnv1a(std::to_string(attempt), fnv1a(serverKey));
  return std::string(kBranchPrefix) + hex(transaction, 16) + "." + hex(loopHash(request) & 0xffffffffULL, 8);
}

bool Router::looped(const sip::Message& request) const {
  const auto* vias = request.vias();
  if (vias == nullptr) return false;
  const std::string expected = hex(loopHash(request) & 0xffffffffULL, 8);
  for (const auto& element : *vias) {
    const sip::Via& via = element.value;
    if (!isLocalVia(via)) continue;
    const std::string_view branch = via.branch();
    const std::size_t dot = branch.rfind('.');
    if (dot != std::string_view::npos && branch.substr(dot + 1) == expected) return true;
  }
  return false;
}

std::string Router::viaFor(Protocol protocol, const std::string& branch) const {
  // Without a listener for this transport (TLS out, no TLS in) there is no
  // port to name; responses come back on the connection anyway.
  const std::uint16_t port = config_.portFor(protocol);
  return "SIP/2.0/" + std::string(transport::protocolName(protocol)) + " " + config_.advertisedHost +
         (port != 0 ? ":" + std::to_string(port) : "") + ";branch=" + branch;
}

Target Router::replyTargetFor(const sip::Message& request, const transport::Origin& origin) const {
  if (origin.protocol != Protocol::Udp) return Target{origin.protocol, origin.source, origin.connectionId};
  const sip::Via* via = request.topVia();
  // RFC 3581: rport asks for the source port; otherwise the sent-by port at
  // the address the request really came from (RFC 3261 §18.2.2 "received").
  if (via == nullptr || config_.forceRport || via->param("rport").has_value()) {
    return Target{Protocol::Udp, origin.source, 0};
  }
  return Target{Protocol::Udp, Poco::Net::SocketAddress(origin.source.host(), portOr(via->port, 5060)), 0};
}

namespace {

// The transport a URI asks for (RFC 3261 §26.2: sips means TLS on every
// hop; transport=tls is the older spelling many deployments still use).
bool uriProtocol(const sip::Uri& uri, Protocol& out, std::string& error) {
  const bool sips = iequals(uri.scheme, "sips");
  Protocol protocol = sips ? Protocol::Tls : Protocol::Udp;
  if (auto transport = uri.param("transport")) {
    if (!transport::protocolFromName(*transport, protocol)) {
      error = "Unsupported transport " + std::string(*transport);
      return false;
    }
    if (sips && protocol != Protocol::Tls) {
      error = "sips URI with transport=" + std::string(*transport);
      return false;
    }
  }
  out = protocol;
  return true;
}



bool dialogForming(const sip::Message& request) {
  const std::string_view method = request.method();
  const bool initial = request.to() != nullptr && request.to()->tag().empty();
  return initial && (method == "INVITE" || method == "SUBSCRIBE" || method == "REFER" || method == "NOTIFY");
}

}  // namespace

Router::Resolution Router::resolve(const sip::Uri& uri, std::vector<Target>& targets, std::string& error,
                                 std::optional<NameQuery>& lookup) const {
  Protocol protocol = Protocol::Udp;
  if (!uriProtocol(uri, protocol, error)) return Resolution::Failed;
  const std::string host(uri.hostAddress());
  const std::uint16_t defaultPort = protocol == Protocol::Tls ? 5061 : 5060;
  // An address literal is parsed once, here, and needs no lookup.
  if (Poco::Net::IPAddress literal; Poco::Net::IPAddress::tryParse(host, literal)) {
    targets.push_back(Target{protocol, Poco::Net::SocketAddress(literal, portOr(uri.port, defaultPort)), 0, host});
    return Resolution::Ready;
  }
  if (resolver_ == nullptr) {
    // No resolver thread (tools and tests): the blocking system lookup.
    try {
      targets.push_back(Target{protocol, Poco::Net::SocketAddress(host, portOr(uri.port, defaultPort)), 0, host});
      return Resolution::Ready;
    } catch (const Poco::Exception&) {
      error = "Cannot resolve " + host;
      return Resolution::Failed;
    }
  }
  NameQuery query{host, uri.port, protocol};
  auto answer = resolver_->cached(query);
  if (!answer) {
    lookup = std::move(query);
    return Resolution::Pending;
  }
  if (answer->targets.empty()) {
    error = answer->error;
    return Resolution::Failed;
  }
  targets = std::move(answer->targets);
  return Resolution::Ready;
}

Route Router::prepareForward(const sip::Message& request, const transport::Origin& origin, sip::EditList& edits,
                             std::vector<Target>& targets) const {
  targets.clear();
  const auto& routes = *request.routes();
  std::vector<bool> removed(routes.size(), false);
  const sip::Uri* requestUri = request.parsedRequestUri();
  sip::Uri effectiveUri = *requestUri;

  // §16.4: a strict router before us put our address in the Request-URI and
  // the real destination in the last Route.
  const bool strictRouted = isLocal(*requestUri) && !routes.empty();
  if (strictRouted) {
    effectiveUri = routes.back().value.uri;
    removed.back() = true;
  }
  // §16.4: our own Route entries (one, or two after a transport change).
  std::size_t next = 0;
  while (next < routes.size() && !removed[next] && isLocal(routes[next].value.uri)) removed[next++] = true;
  while (next < routes.size() && removed[next]) ++next;

  // The upstreams act as an outbound proxy for everything that does not come
  // from them: an inline hop hands all client traffic to its server, which
  // follows any Route left in the request. What comes from an upstream is
  // routed by Route, then Request-URI, back towards the clients.
  const bool toUpstream = !upstreams_.empty() && !fromUpstream(origin);
  std::string error;
  if (isLocal(*requestUri) && next >= routes.size() && request.method() == "OPTIONS") {
    return Route{Route::Kind::Reply,
                 Verdict::reply(200, "OK", {{"Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, INFO, UPDATE, "
                                                      "REFER, SUBSCRIBE, NOTIFY, PRACK"}}),
                 std::nullopt};
  } else if (toUpstream) {
    targets = upstreams_;
  } else if (isLocal(effectiveUri) && next >= routes.size()) {
    return Route{Route::Kind::Reply, Verdict::reply(404, "Not Found"), std::nullopt};
  } else {
    // Nothing is edited before this point: a request that waits for DNS
    // comes back here with the answer cached.
    const sip::Uri& destination = next < routes.size() ? routes[next].value.uri : effectiveUri;
    std::optional<NameQuery> lookup;
    switch (resolve(destination, targets, error, lookup)) {
      case Resolution::Failed: return Route{Route::Kind::Reply, Verdict::reply(503, error), std::nullopt};
      case Resolution::Pending: return Route{Route::Kind::Lookup, Verdict::proceed(), std::move(lookup)};
      case Resolution::Ready: break;
    }
  }
  if (strictRouted) edits.replaceRequestUri(std::string(routes.back().value.uri.text));

  // Remove the Route elements that were ours, one edit per header line.
  for (std::size_t i = 0; i < routes.size();) {
    const std::size_t header = routes[i].headerIndex;
    std::vector<std::pair<std::size_t, std::optional<std::string>>> changes;
    for (; i < routes.size() && routes[i].headerIndex == header; ++i) {
      if (removed[i]) changes.emplace_back(routes[i].elementIndex, std::nullopt);
    }
    if (!changes.empty()) edits.editElements(request, header, changes);
  }

  // Max-Forwards (§16.6 step 3).
  std::optional<unsigned> maxForwards;
  (void)request.readMaxForwards(maxForwards);
  if (maxForwards) {
    const auto& headers = request.headers();
    for (std::size_t i = 0; i < headers.size(); ++i) {
      if (headers[i].id == HeaderId::MaxForwards) edits.replaceValue(i, std::to_string(*maxForwards - 1));
    }
  } else {
    edits.append("Max-Forwards", "70");
  }

  // received / rport on the caller's Via (RFC 3581 §4).
  if (origin.protocol == Protocol::Udp) {
    const auto& topVia = request.vias()->front();
    const std::string sourceHost = origin.source.host().toString();
    const bool needReceived = topVia.value.hostAddress() != sourceHost;
    const auto rport = topVia.value.param("rport");
    const bool needRport = (rport.has_value() && rport->empty()) || (config_.forceRport && !rport.has_value());
    if (needReceived || needRport) {
      std::string text(topVia.value.text);
      if (needRport && rport.has_value()) {
        const std::size_t at = text.find(";rport");
        std::string rebuilt = text.substr(0, at + 6) + "=" + std::to_string(origin.source.port());
        text = rebuilt + text.substr(at + 6);
      } else if (needRport) {
        text += ";rport=" + std::to_string(origin.source.port());
      }
      if (needReceived) text += ";received=" + sourceHost;
      edits.editElements(request, topVia.headerIndex, {{topVia.elementIndex, text}});
    }
  }

  // Record-Route (§16.6 step 4), doubled when the transport changes so each
  // side of the dialog reaches us on its own transport.
  if (config_.recordRoute == RecordRouteMode::Dialog && dialogForming(request)) {
    auto recordRouteFor = [&](Protocol protocol) {
      const char* transportParam = protocol == Protocol::Tcp ? ";transport=tcp"
                                   : protocol == Protocol::Tls ? ";transport=tls"
                                                               : "";
      return "<sip:" + config_.advertisedHost + ":" + std::to_string(config_.portFor(protocol)) + transportParam +
             ";lr>";
    };
    std::size_t firstRecordRoute = sip::EditList::kEnd;
    const auto& headers = request.headers();
    for (std::size_t i = 0; i < headers.size(); ++i) {
      if (headers[i].id == HeaderId::RecordRoute) {
        firstRecordRoute = i;
        break;
      }
    }
    // Each side gets an entry on its own transport; a side whose transport
    // has no listener here (TLS out without a TLS listener) reaches us
    // through the other side's entry instead.
    const Protocol outbound = targets.front().protocol;
    const bool outboundListens = config_.portFor(outbound) != 0;
    if (outboundListens) edits.insertBefore(firstRecordRoute, "Record-Route", recordRouteFor(outbound));
    if (outbound != origin.protocol || !outboundListens) {
      edits.insertBefore(firstRecordRoute, "Record-Route", recordRouteFor(origin.protocol));
    }
  }
  return Route{};
}

std::optional<Target> Router::nextViaTarget(const sip::Message& response) {
  const auto& vias = *response.vias();
  if (vias.size() < 2) return std::nullopt;
  const sip::Via& next = vias[1].value;
  std::string host(next.param("received").value_or(next.hostAddress()));
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  const auto rport = next.param("rport");
  std::uint64_t port = next.port != 0 ? next.port : 5060;
  if (rport && !rport->empty()) (void)sip::parseDecimal(*rport, 65535, port);
  Protocol protocol = Protocol::Udp;
  (void)transport::protocolFromName(next.transport, protocol);  // an unknown transport: UDP
  return Target{protocol, Poco::Net::SocketAddress(host, static_cast<std::uint16_t>(port)), 0};
}

}  // namespace sipwarden::proxy
