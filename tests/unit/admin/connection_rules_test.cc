// The admin front end's rules without sockets: where a request ends, which
// requests are refused before any handler sees them, the deadline of each
// phase, and which connection gives way over a cap.
#include "admin/connection_rules.h"

#include <gtest/gtest.h>

namespace sipwarden::admin {
namespace {

using State = Framing::State;

ConnectionLimits small() {
  ConnectionLimits limits;
  limits.maxHeaderBytes = 1024;
  limits.maxBodyBytes = 100;
  limits.maxConnections = 4;
  limits.maxConnectionsPerAddress = 2;
  return limits;
}

TEST(FrameRequest, WaitsForTheWholeHeadThenTheBody) {
  EXPECT_EQ(frameRequest("", small()).state, State::NeedMore);
  EXPECT_EQ(frameRequest("GET /healthz HTTP/1.1\r\nHost: x\r\n", small()).state, State::NeedMore);
  const Framing head = frameRequest("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", small());
  ASSERT_EQ(head.state, State::Complete);
  EXPECT_EQ(head.headBytes, 34u);
  EXPECT_EQ(head.bodyBytes, 0u);
  EXPECT_EQ(head.request->getURI(), "/healthz");
  const std::string withBody = "POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nab";
  const Framing partial = frameRequest(withBody, small());
  EXPECT_EQ(partial.state, State::NeedMore);
  EXPECT_NE(partial.request, nullptr);  // the head is in: the body deadline applies now
  EXPECT_EQ(partial.bodyBytes, 5u);
  EXPECT_EQ(frameRequest(withBody + "cde", small()).state, State::Complete);
  // Only this request's bytes count: a pipelined one after it waits.
  const Framing first = frameRequest("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", small());
  EXPECT_EQ(first.state, State::Complete);
  EXPECT_EQ(first.headBytes, 19u);
  // Bare line feeds and leading blank lines are tolerated.
  EXPECT_EQ(frameRequest("\r\nGET / HTTP/1.0\n\n", small()).state, State::Complete);
}

TEST(FrameRequest, RefusesWhatBreaksACapOrCannotBeFramed) {
  const auto refusal = [](const std::string& bytes) {
    const Framing f = frameRequest(bytes, small());
    return f.state == State::Refuse ? f.status : 0;
  };
  EXPECT_EQ(refusal("GET /" + std::string(2000, 'a')), 431);  // no end of head in sight
  EXPECT_EQ(refusal("GET / HTTP/1.1\r\nX: " + std::string(1100, 'a') + "\r\n\r\n"), 431);
  EXPECT_EQ(refusal("POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n"), 413);
  EXPECT_EQ(refusal("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), 411);
  EXPECT_EQ(refusal("POST / HTTP/1.1\r\nContent-Length: lots\r\n\r\n"), 400);
  EXPECT_EQ(refusal("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), 400);
  EXPECT_EQ(refusal("hello\r\n\r\n"), 400);
  EXPECT_EQ(refusal("GET / HTTP/1.1\r\nX: 1\r\n\r\n"), 0);
}

TEST(DeadlineOf, EachWaitOnTheClientIsBounded) {
  ConnectionLimits limits;
  limits.headerTimeoutMs = 1000;
  limits.bodyTimeoutMs = 2000;
  limits.idleTimeoutMs = 3000;
  limits.writeTimeoutMs = 4000;
  const auto now = SteadyClock::now();
  EXPECT_EQ(deadlineOf(Phase::Handshake, now, limits), now + std::chrono::milliseconds(1000));
  EXPECT_EQ(deadlineOf(Phase::Head, now, limits), now + std::chrono::milliseconds(1000));
  EXPECT_EQ(deadlineOf(Phase::Body, now, limits), now + std::chrono::milliseconds(2000));
  EXPECT_EQ(deadlineOf(Phase::Idle, now, limits), now + std::chrono::milliseconds(3000));
  EXPECT_EQ(deadlineOf(Phase::Writing, now, limits), now + std::chrono::milliseconds(4000));
  EXPECT_FALSE(deadlineOf(Phase::Working, now, limits).has_value());
}

using Ids = std::vector<std::uint64_t>;

TEST(OverCaps, UnderTheCapsNobodyIsCut) {
  const auto t = SteadyClock::now();
  EXPECT_EQ(overCaps({{1, "10.0.0.1", Phase::Head, t}, {2, "10.0.0.1", Phase::Idle, t}}, small()), Ids{});
}

TEST(OverCaps, OverThePerAddressCapTheOldestWaitersFromThatAddressGiveWay) {
  const auto t = SteadyClock::now();
  const std::vector<ConnectionView> open = {{1, "10.0.0.1", Phase::Head, t},
                                            {2, "10.0.0.1", Phase::Head, t - std::chrono::seconds(1)},
                                            {3, "10.0.0.2", Phase::Idle, t - std::chrono::seconds(5)},
                                            {4, "10.0.0.1", Phase::Head, t - std::chrono::seconds(2)},
                                            {5, "10.0.0.1", Phase::Working, t - std::chrono::seconds(9)}};
  // Four from 10.0.0.1 with a cap of two: the two oldest that only wait
  // go; not 3 (another address) and not 5 (being answered).
  EXPECT_EQ(overCaps(open, small()), (Ids{4, 2}));
}

TEST(OverCaps, IdleKeepAliveGivesWayBeforeARequestInProgress) {
  const auto t = SteadyClock::now();
  const std::vector<ConnectionView> open = {{1, "a", Phase::Body, t - std::chrono::seconds(9)},
                                            {2, "b", Phase::Idle, t},
                                            {3, "c", Phase::Handshake, t - std::chrono::seconds(8)},
                                            {4, "d", Phase::Head, t - std::chrono::seconds(7)},
                                            {5, "e", Phase::Head, t}};
  EXPECT_EQ(overCaps(open, small()), Ids{2});  // total cap 4
  std::vector<ConnectionView> six = open;
  six.push_back({6, "f", Phase::Head, t});
  EXPECT_EQ(overCaps(six, small()), (Ids{2, 1}));
}

TEST(OverCaps, ConnectionsBeingAnsweredAreNeverCut) {
  const auto t = SteadyClock::now();
  const std::vector<ConnectionView> busy = {{1, "a", Phase::Working, t - std::chrono::seconds(9)},
                                            {2, "a", Phase::Writing, t - std::chrono::seconds(9)},
                                            {3, "a", Phase::Working, t}};
  EXPECT_EQ(overCaps(busy, small()), Ids{});  // over the per-address cap until they finish
  const std::vector<ConnectionView> full = {{1, "a", Phase::Working, t}, {2, "b", Phase::Writing, t},
                                            {3, "c", Phase::Working, t}, {4, "d", Phase::Head, t},
                                            {5, "e", Phase::Working, t}};
  EXPECT_EQ(overCaps(full, small()), Ids{4});
}

}  // namespace
}  // namespace sipwarden::admin
