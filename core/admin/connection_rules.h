#pragma once
// The rules of the admin server's front end, kept apart from its sockets so
// they can be tested alone: how much of a buffer is one complete request
// (and when to refuse it), and which connection gives way when a new one
// arrives over a cap. Small pure functions, header-only.

#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "admin/settings.h"

namespace sipwarden::admin {

using SteadyClock = std::chrono::steady_clock;

// Where a connection is. Only Handshake, Head, Body and Idle wait on the
// client; Working waits on a worker thread, Writing on the client taking
// the answer.
enum class Phase { Handshake, Head, Body, Working, Writing, Idle };

// What a received buffer holds so far.
struct Framing {
  enum class State { NeedMore, Complete, Refuse } state = State::NeedMore;
  std::size_t headBytes = 0;  // the head with its blank line, once it is complete
  std::size_t bodyBytes = 0;  // Content-Length, once the head is complete
  int status = 0;             // Refuse: the answer's status and why
  std::string reason;
  std::shared_ptr<Poco::Net::HTTPRequest> request;  // the parsed head, once complete
};

// Called by the front end each time bytes arrive, with everything received
// for the current request. Complete once head and body are in; Refuse with
// 431 / 413 / 411 / 400 when the request breaks a cap or cannot be framed.
inline Framing frameRequest(std::string_view buffer, const ConnectionLimits& limits) {
  Framing out;
  // Blank lines before a request line are allowed (RFC 9112 §2.2).
  std::size_t start = 0;
  while (start < buffer.size() && (buffer[start] == '\r' || buffer[start] == '\n')) ++start;
  std::size_t end = buffer.find("\r\n\r\n", start);
  std::size_t terminator = 4;
  const std::size_t bare = buffer.find("\n\n", start);
  if (bare != std::string_view::npos && (end == std::string_view::npos || bare < end)) {
    end = bare;
    terminator = 2;
  }
  if (end == std::string_view::npos) {
    if (buffer.size() > limits.maxHeaderBytes) {
      out.state = Framing::State::Refuse;
      out.status = 431;
      out.reason = "request head larger than " + std::to_string(limits.maxHeaderBytes) + " bytes";
    }
    return out;
  }
  out.headBytes = end + terminator;
  auto refuse = [&out](int status, std::string reason) {
    out.state = Framing::State::Refuse;
    out.status = status;
    out.reason = std::move(reason);
    return out;
  };
  if (out.headBytes > limits.maxHeaderBytes) {
    return refuse(431, "request head larger than " + std::to_string(limits.maxHeaderBytes) + " bytes");
  }
  auto request = std::make_shared<Poco::Net::HTTPRequest>();
  try {
    std::istringstream head(std::string(buffer.substr(start, out.headBytes - start)));
    request->read(head);
    if (request->getMethod().empty() || request->getURI().empty()) return refuse(400, "malformed request line");
    if (request->has("Transfer-Encoding")) return refuse(411, "request bodies need a Content-Length");
    const std::int64_t length = request->hasContentLength() ? request->getContentLength64() : 0;
    if (length < 0) return refuse(400, "malformed Content-Length");
    if (static_cast<std::uint64_t>(length) > limits.maxBodyBytes) {
      return refuse(413, "request body larger than " + std::to_string(limits.maxBodyBytes) + " bytes");
    }
    out.bodyBytes = static_cast<std::size_t>(length);
  } catch (const Poco::Exception& error) {
    return refuse(400, "malformed request head: " + error.message());
  }
  out.request = std::move(request);
  out.state = buffer.size() >= out.headBytes + out.bodyBytes ? Framing::State::Complete : Framing::State::NeedMore;
  return out;
}

// The deadline of a phase entered at `now`; nullopt for Working (the
// worker's time is bounded by the archive, not by the client).
inline std::optional<SteadyClock::time_point> deadlineOf(Phase phase, SteadyClock::time_point now,
                                                         const ConnectionLimits& limits) {
  using std::chrono::milliseconds;
  switch (phase) {
    case Phase::Handshake:
    case Phase::Head: return now + milliseconds(limits.headerTimeoutMs);
    case Phase::Body: return now + milliseconds(limits.bodyTimeoutMs);
    case Phase::Idle: return now + milliseconds(limits.idleTimeoutMs);
    case Phase::Writing: return now + milliseconds(limits.writeTimeoutMs);
    case Phase::Working: return std::nullopt;
  }
  return std::nullopt;
}

// One open connection as the admission rule sees it.
struct ConnectionView {
  std::uint64_t id = 0;
  std::string_view address;
  Phase phase = Phase::Head;
  SteadyClock::time_point since;  // when it entered its phase
};

// Called after each batch of accepted connections has had one read (so a
// client that sent its request at once is Working by then), with every
// open connection. Returns those to close so that no address holds more
// than maxConnectionsPerAddress and no more than maxConnections are open.
// Over a cap, a new connection is not turned away while older ones merely
// wait on their clients: idle keep-alive connections give way first, then
// those handshaking or sending their request, oldest in their phase
// first; a connection whose request a worker is answering, or whose
// answer is being sent, is never cut (the caps may then be exceeded by
// one batch until those finish). So a crowd of slow or idle clients, from
// one address or many, cannot keep a new client out.
inline std::vector<std::uint64_t> overCaps(const std::vector<ConnectionView>& open, const ConnectionLimits& limits) {
  std::vector<const ConnectionView*> candidates;
  std::vector<std::pair<std::string_view, std::size_t>> perAddress;  // few addresses: a flat list is enough
  auto countOf = [&perAddress](std::string_view address) -> std::size_t& {
    for (auto& [who, count] : perAddress) {
      if (who == address) return count;
    }
    return perAddress.emplace_back(address, 0).second;
  };
  for (const auto& c : open) {
    ++countOf(c.address);
    if (c.phase != Phase::Working && c.phase != Phase::Writing) candidates.push_back(&c);
  }
  auto rank = [](Phase phase) { return phase == Phase::Idle ? 0 : 1; };
  std::stable_sort(candidates.begin(), candidates.end(), [&rank](const ConnectionView* a, const ConnectionView* b) {
    return rank(a->phase) != rank(b->phase) ? rank(a->phase) < rank(b->phase) : a->since < b->since;
  });
  std::vector<std::uint64_t> out;
  std::vector<bool> taken(candidates.size(), false);
  std::size_t total = open.size();
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    std::size_t& count = countOf(candidates[i]->address);
    if (count > static_cast<std::size_t>(limits.maxConnectionsPerAddress)) {
      out.push_back(candidates[i]->id);
      taken[i] = true;
      --count;
      --total;
    }
  }
  for (std::size_t i = 0; i < candidates.size() && total > static_cast<std::size_t>(limits.maxConnections); ++i) {
    if (taken[i]) continue;
    out.push_back(candidates[i]->id);
    --total;
  }
  return out;
}

}  // namespace sipwarden::admin
