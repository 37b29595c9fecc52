#include "proxy/sanity.h"

namespace sipwarden::proxy {
namespace {

using sip::HeaderId;
using sip::iequals;

bool contactsWellFormed(const sip::Message& request, std::string& error) {
  std::vector<std::string_view> elements;
  sip::NameAddr contact;
  for (const auto& field : request.headers()) {
    if (field.id != HeaderId::Contact) continue;
    if (!sip::splitCommaList(field.value, elements, error)) return false;
    for (std::string_view element : elements) {
      if (!sip::parseNameAddr(element, contact, error)) return false;
    }
  }
  return true;
}

}  // namespace

Verdict checkRequest(const sip::Message& request, const sip::ParseFailure& failure, const SanityLimits& limits) {
  const bool isAck = request.method() == "ACK";
  auto reject = [&](int code, std::string reason, Verdict::Headers headers = {}) {
    // An ACK is never answered (RFC 3261 §17.2.1): a bad one is dropped.
    if (isAck) return Verdict::drop("bad ACK: " + reason);
    return Verdict::reply(code, std::move(reason), std::move(headers));
  };

  if (!failure.reason.empty()) return reject(failure.statusCode, failure.reason);
  if (request.wireSize() > limits.maxMessageSize) return reject(513, "Message Too Large");
  if (request.vias() == nullptr || request.from() == nullptr || request.to() == nullptr ||
      request.cseq() == nullptr) {
    return reject(400, request.structureError());
  }
  const std::size_t callIds = request.count(HeaderId::CallId);
  if (callIds != 1 || request.callId().empty()) {
    return reject(400, callIds > 1 ? "Multiple Call-ID headers" : "Missing Call-ID");
  }
  if (request.cseq()->method != request.method()) {
    return reject(400, "CSeq method does not match request method");
  }
  std::optional<unsigned> maxForwards;
  if (!request.readMaxForwards(maxForwards)) return reject(400, request.structureError());
  const sip::Uri* uri = request.parsedRequestUri();
  if (uri == nullptr) return reject(400, request.structureError());
  if (uri->isSip() && !uri->headerText.empty()) return reject(400, "Request-URI must not carry headers");
  if (!uri->isSip() && !iequals(uri->scheme, "tel")) return reject(416, "Unsupported URI Scheme");
  if (request.routes() == nullptr || request.recordRoutes() == nullptr) {
    return reject(400, request.structureError());
  }
  std::string error;
  if (!contactsWellFormed(request, error)) return reject(400, "Bad Contact: " + error);
  if (maxForwards && *maxForwards == 0) return reject(483, "Too Many Hops");

  // sipwarden implements no extension that a proxy must understand, so any
  // Proxy-Require option is unsupported (RFC 3261 §16.3 step 5).
  if (request.count(HeaderId::ProxyRequire) > 0 && request.method() != "CANCEL") {
    std::string unsupported;
    for (std::string_view tag : request.values("Proxy-Require")) {
      if (!unsupported.empty()) unsupported += ", ";
      unsupported.append(tag);
    }
    return reject(420, "Bad Extension", {{"Unsupported", unsupported}});
  }
  return Verdict::proceed();
}

bool checkResponse(const sip::Message& response, const sip::ParseFailure& failure, std::string& reason) {
  if (!failure.reason.empty()) {
    reason = failure.reason;
    return false;
  }
  if (response.vias() == nullptr || response.cseq() == nullptr) {
    reason = response.structureError();
    return false;
  }
  return true;
}

}  // namespace sipwarden::proxy
