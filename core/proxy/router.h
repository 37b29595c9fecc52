#pragma once
// Where a request goes next and how it is changed on the way (RFC 3261
// §16.4-16.6 and §16.12, RFC 3581, RFC 3263 through the Resolver): Route
// processing, the upstreams, Max-Forwards, received/rport, Record-Route,
// our Via and its branch, loop detection, and where responses go back.
// Called from the SIP thread; it holds no transaction state.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/proxy_config.h"
#include "proxy/resolver.h"
#include "sip/edit_list.h"
#include "sip/message.h"
#include "sipwarden/verdict.h"
#include "transport/transport.h"

namespace sipwarden::proxy {

// What prepareForward decided.
struct Route {
  enum class Kind {
    Forward,  // the edits and the next hops are filled in
    Reply,    // answer locally with `reply` (OPTIONS to us, 404, 503)
    Lookup,   // a name must be looked up first; nothing was edited
  };
  Kind kind = Kind::Forward;
  Verdict reply = Verdict::proceed();
  std::optional<NameQuery> lookup;
};

class Router {
 public:
  // Resolves the configured upstreams once; throws
  // Poco::HostNotFoundException for a name that does not resolve, so that
  // start-up stops and says which. `config` must outlive the router.
  explicit Router(const ProxyConfig& config);

  // Where names are looked up off this thread (not owned). Without one,
  // names are resolved here, blocking (tools and tests).
  void setResolver(Resolver* resolver) { resolver_ = resolver; }
  Resolver* resolver() const { return resolver_; }
  const std::vector<transport::Target>& upstreams() const { return upstreams_; }

  // Fills the edits every forwarded copy shares and the list of next hops
  // (failover candidates, in order).
  Route prepareForward(const sip::Message& request, const transport::Origin& origin, sip::EditList& edits,
                       std::vector<transport::Target>& targets) const;
  // Our Via for a forwarded request, and the branch in it: the transaction
  // hash (server key and attempt, so CANCEL and ACK can rebuild it) and the
  // loop hash of §16.6 step 8.
  std::string viaFor(transport::Protocol protocol, const std::string& branch) const;
  std::string branchFor(const sip::Message& request, std::string_view serverKey, std::size_t attempt) const;
  // §16.3 step 4: one of our Vias carries this request's loop hash.
  bool looped(const sip::Message& request) const;
  bool isLocalVia(const sip::Via& via) const;
  bool fromUpstream(const transport::Origin& origin) const;
  // Where responses to the request go (RFC 3261 §18.2.2, RFC 3581).
  transport::Target replyTargetFor(const sip::Message& request, const transport::Origin& origin) const;
  // §16.7 step 3 for a response no transaction claims: the next Via.
  static std::optional<transport::Target> nextViaTarget(const sip::Message& response);

 private:
  enum class Resolution { Ready, Pending, Failed };
  Resolution resolve(const sip::Uri& uri, std::vector<transport::Target>& targets, std::string& error,
                     std::optional<NameQuery>& lookup) const;
  bool isLocal(const sip::Uri& uri) const;

  const ProxyConfig& config_;
  std::vector<transport::Target> upstreams_;
  Resolver* resolver_ = nullptr;
};

}  // namespace sipwarden::proxy
