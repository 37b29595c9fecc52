// The admin server on 127.0.0.1 (an ephemeral port) over a real archive:
// 401 without a token, roles, the API's answers, and the audit trail.
#include "admin/server.h"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <thread>

#include "../query/query_test_support.h"
#include "query/reader.h"
#include "transport/test_certificates.h"
#include "transport/tls.h"

namespace sipwarden::admin {
namespace {

constexpr const char* kAuditor = "auditor-secret-0123456789";
constexpr const char* kMetrics = "metrics-secret-0123456789";

struct Reply {
  int status = 0;
  std::string body;
  std::string authenticate;
};

// A raw client for what HTTPClientSession cannot do: send half a request,
// pipeline, stay idle, and see when the server hangs up.
class RawClient {
 public:
  explicit RawClient(std::uint16_t port) {
    std::signal(SIGPIPE, SIG_IGN);  // writing to a connection the server cut is expected here
    socket_.connect(Poco::Net::SocketAddress("127.0.0.1", port), Poco::Timespan(2, 0));
  }
  void send(const std::string& bytes) { socket_.sendBytes(bytes.data(), static_cast<int>(bytes.size())); }
  // Everything received until the server closes or `ms` pass; `closed`
  // says which.
  std::string readFor(int ms, bool* closed = nullptr) {
    std::string out;
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    bool hungUp = false;
    while (!hungUp && std::chrono::steady_clock::now() < end) {
      const auto left = std::chrono::duration_cast<std::chrono::microseconds>(end - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      socket_.setReceiveTimeout(Poco::Timespan(left.count()));
      char buffer[4096];
      try {
        const int n = socket_.receiveBytes(buffer, sizeof buffer);
        if (n <= 0) hungUp = true;
        out.append(buffer, static_cast<std::size_t>(std::max(n, 0)));
      } catch (const Poco::TimeoutException&) {
        break;
      } catch (const Poco::Net::NetException&) {
        hungUp = true;  // reset
      } catch (const Poco::IOException&) {
        hungUp = true;
      }
    }
    if (closed) *closed = hungUp;
    return out;
  }
  bool closedWithin(int ms) {
    bool closed = false;
    readFor(ms, &closed);
    return closed;
  }

 private:
  Poco::Net::StreamSocket socket_;
};

// A counter's value in Prometheus text, or -1 without the line.
// The server's own families, rendered alone.
std::string metricsOf(const AdminServer& server) {
  StatsRegistry registry;
  server.declareMetrics(registry);
  return registry.render();
}

long long counterIn(const std::string& text, const std::string& series) {
  const std::size_t at = text.find("\n" + series + " ");
  return at == std::string::npos ? -1 : std::stoll(text.substr(at + series.size() + 2));
}

int statusOf(const std::string& response) {
  return response.size() > 12 && response.starts_with("HTTP/1.") ? std::stoi(response.substr(9, 3)) : 0;
}

class ServerTest : public ::testing::Test {
 protected:
  // Small limits so the deadlines show within a test's time.
  static ConnectionLimits tightLimits() {
    ConnectionLimits limits;
    limits.headerTimeoutMs = 400;
    limits.bodyTimeoutMs = 400;
    limits.idleTimeoutMs = 400;
    limits.maxConnections = 16;
    limits.maxConnectionsPerAddress = 8;
    limits.maxHeaderBytes = 2048;
    limits.maxBodyBytes = 100;
    return limits;
  }

  void SetUp() override {
    db.add(1'793'610'000'000, "alice@example.com", "bob@example.com", "quarterly report", "s1");
    db.add(1'793'610'001'000, "bob@example.com", "alice@example.com", "no thanks", "s1", true, "blocked");
    AdminSettings settings;
    settings.enabled = true;
    settings.port = 0;
    settings.tokens = {{"carol", Role::Auditor, kAuditor}, {"prom", Role::Metrics, kMetrics}};
    settings.threads = 2;  // fewer than the slow clients below: they must not need a thread each
    settings.limits = tightLimits();
    ServerHooks hooks;
    hooks.metrics = [] { return std::string("sipwarden_test 1\n"); };
    hooks.ready = [this](std::string& why) {
      why = "archive not writable";
      return ready;
    };
    hooks.live = [this](std::string& why) {
      why = "SIP thread stuck for 12 s";
      return live;
    };
    server = std::make_unique<AdminServer>(settings, db.path(), hooks);
    server->start();
    port = static_cast<std::uint16_t>(std::stoi(server->address().substr(server->address().rfind(':') + 1)));
  }
  void TearDown() override { server.reset(); }

  Reply get(const std::string& path, const std::string& token = "") {
    Poco::Net::HTTPClientSession session("127.0.0.1", port);
    return get(session, path, token);
  }
  Reply get(Poco::Net::HTTPClientSession& session, const std::string& path, const std::string& token = "") {
    session.setTimeout(Poco::Timespan(10, 0));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, path, Poco::Net::HTTPMessage::HTTP_1_1);
    if (!token.empty()) request.set("Authorization", "Bearer " + token);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    Reply reply;
    reply.status = response.getStatus();
    reply.authenticate = response.get("WWW-Authenticate", "");
    Poco::StreamCopier::copyToString(in, reply.body);
    return reply;
  }

  query::testing::TempArchive db;
  std::unique_ptr<AdminServer> server;
  std::uint16_t port = 0;
  bool ready = true;
  bool live = true;
};

TEST_F(ServerTest, WithoutAValidTokenOnly401) {
  for (const char* path : {"/api/v1/messages", "/metrics", "/api/v1/conversations/1", "/nothing-here"}) {
    for (const char* token : {"", "wrong-token-0123456789"}) {
      const Reply reply = get(path, token);
      EXPECT_EQ(reply.status, 401) << path;
      EXPECT_EQ(reply.body, "unauthorized\n");
      EXPECT_EQ(reply.authenticate, "Bearer realm=\"sipwarden\"");
    }
  }
  query::Reader reader(db.path());
  EXPECT_TRUE(reader.audit({}).rows.empty());  // nothing was searched
}

TEST_F(ServerTest, RolesKeepToTheirPaths) {
  EXPECT_EQ(get("/metrics", kMetrics).body, "sipwarden_test 1\n");
  EXPECT_EQ(get("/metrics", kAuditor).status, 403);
  EXPECT_EQ(get("/api/v1/messages", kMetrics).status, 403);
  EXPECT_EQ(get("/api/v1/messages", kAuditor).status, 200);
}

TEST_F(ServerTest, SearchesAnswerJsonAndAreAudited) {
  const Reply found = get("/api/v1/messages?text=quarterly", kAuditor);
  EXPECT_EQ(found.status, 200);
  EXPECT_NE(found.body.find("\"text\":\"quarterly report\""), std::string::npos) << found.body;
  EXPECT_NE(found.body.find("\"next_cursor\":null"), std::string::npos);
  const Reply page = get("/api/v1/messages?limit=1", kAuditor);
  EXPECT_EQ(page.body.find("\"next_cursor\":null"), std::string::npos);
  EXPECT_EQ(get("/api/v1/conversations/1", kAuditor).status, 200);
  EXPECT_EQ(get("/api/v1/conversations/99", kAuditor).status, 404);
  EXPECT_EQ(get("/api/v1/messages?since=soon", kAuditor).status, 400);
  EXPECT_NE(get("/api/v1/messages?since=soon", kAuditor).body.find("since: "), std::string::npos);
  query::Reader reader(db.path());
  const auto audit = reader.audit({});
  ASSERT_EQ(audit.rows.size(), 3u);  // the two searches and the transcript; not the 404 or the 400s
  EXPECT_EQ(audit.rows[2].who, "api:carol");
  EXPECT_EQ(audit.rows[2].query, "text=quarterly&limit=50");
  EXPECT_EQ(audit.rows[2].results, 1);
}

TEST_F(ServerTest, ConsoleAndProbesAreOpen) {
  const Reply console = get("/");
  EXPECT_EQ(console.status, 200);
  EXPECT_NE(console.body.find("<title>sipwarden archive</title>"), std::string::npos);
  EXPECT_EQ(console.body.find("src=\"http"), std::string::npos);  // no external assets
  EXPECT_EQ(get("/healthz").status, 200);
  EXPECT_EQ(get("/readyz").status, 200);
  ready = false;
  const Reply notReady = get("/readyz");
  EXPECT_EQ(notReady.status, 503);
  EXPECT_EQ(notReady.body, "not ready: archive not writable\n");
}

}  // namespace
}  // namespace sipwarden::admin

namespace sipwarden::admin {
namespace {

TEST_F(ServerTest, HealthzAnswersTheLivenessHook) {
  EXPECT_EQ(get("/healthz").body, "ok\n");
  live = false;
  const Reply dead = get("/healthz");
  EXPECT_EQ(dead.status, 503);
  EXPECT_EQ(dead.body, "not live: SIP thread stuck for 12 s\n");
}

TEST_F(ServerTest, BadParametersAre400NamingTheParameter) {
  const auto check = [this](const std::string& path, const std::string& expected) {
    const Reply reply = get(path, kAuditor);
    EXPECT_EQ(reply.status, 400) << path << " " << reply.body;
    EXPECT_NE(reply.body.find(expected), std::string::npos) << path << " " << reply.body;
  };
  check("/api/v1/messages?text=%zz%", "text: malformed percent-encoding");
  check("/api/v1/messages?text=ok&limit=%4", "limit: malformed percent-encoding");
  check("/api/v1/messages?since=2026-02-31", "since: no such date");
  check("/api/v1/messages?until=2026-13-01", "until: no such date");
  check("/api/v1/messages?since=2026-11-02T25:00", "since: no such time");
  check("/api/v1/messages?limit=ten", "limit: expected a number");
  check("/api/v1/calls?disposition=maybe", "disposition: expected");
  check("/api/v1/conversations/1/export?format=pdf", "format");
  check("/api/v1/conversations/1?limit=5", "limit: unknown parameter");
  check("/api/v1/messages%zz", "path: malformed percent-encoding");
  // Without a token the answer is still 401 and nothing else.
  EXPECT_EQ(get("/api/v1/messages%zz?text=%zz").status, 401);
  EXPECT_EQ(get("/api/v1/messages?text=quarterly+report", kAuditor).status, 200);  // '+' is a space
  query::Reader reader(db.path());
  EXPECT_EQ(reader.audit({}).rows.size(), 1u);  // only the good search
}

TEST_F(ServerTest, SlowClientsHoldNeitherWorkersNorProbes) {
  // More slow clients than worker threads and than the per-address cap,
  // each sending a byte of its head now and then.
  std::vector<std::unique_ptr<RawClient>> slow;
  for (int i = 0; i < 12; ++i) {
    slow.push_back(std::make_unique<RawClient>(port));
    slow.back()->send("GET /healthz HTTP/1.1\r\n");
  }
  for (int round = 0; round < 3; ++round) {
    for (auto& client : slow) {
      try {
        client->send("X");
      } catch (const Poco::Exception&) {
        // already closed by the server: that is the point
      }
    }
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(get("/healthz").status, 200);
    EXPECT_EQ(get("/api/v1/messages?text=quarterly", kAuditor).status, 200);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1000));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

TEST_F(ServerTest, TheHeadHasOneDeadlineHoweverSlowlyItComes) {
  RawClient slow(port);
  slow.send("GET /healthz HTTP/1.1\r\n");
  const auto start = std::chrono::steady_clock::now();
  bool closed = false;
  // A byte every 100 ms would reset a per-recv timeout forever.
  for (int i = 0; i < 30 && !closed; ++i) {
    try {
      slow.send("X");
    } catch (const Poco::Exception&) {
      closed = true;
      break;
    }
    closed = slow.closedWithin(100);
  }
  EXPECT_TRUE(closed);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500));  // 400 ms deadline
  EXPECT_EQ(counterIn(metricsOf(*server), "sipwarden_admin_connections_cut_total{reason=\"header_timeout\"}"), 1);
}

TEST_F(ServerTest, KeepAliveAnswersThenClosesWhenIdle) {
  RawClient client(port);
  const auto start = std::chrono::steady_clock::now();
  client.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
  bool closed = false;
  const std::string two = client.readFor(200, &closed);
  EXPECT_FALSE(closed);
  EXPECT_EQ(statusOf(two), 200);
  EXPECT_NE(two.find("ok\n"), std::string::npos);
  EXPECT_NE(two.find("ready\n"), std::string::npos);  // the pipelined second request too
  EXPECT_TRUE(client.closedWithin(2000));
  const auto lasted = std::chrono::steady_clock::now() - start;
  EXPECT_GT(lasted, std::chrono::milliseconds(350));  // idle timeout 400 ms after the answer
  EXPECT_LT(lasted, std::chrono::milliseconds(1500));
  EXPECT_EQ(counterIn(metricsOf(*server), "sipwarden_admin_connections_cut_total{reason=\"idle_timeout\"}"), 1);
  // A request with Connection: close is answered and closed at once.
  RawClient once(port);
  once.send("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
  closed = false;
  EXPECT_EQ(statusOf(once.readFor(300, &closed)), 200);
  EXPECT_TRUE(closed);
}

TEST_F(ServerTest, RequestsOverTheCapsAreRefusedBeforeAnyHandler) {
  const auto statusFor = [this](const std::string& bytes) {
    RawClient client(port);
    client.send(bytes);
    return statusOf(client.readFor(1000));
  };
  EXPECT_EQ(statusFor("GET /healthz HTTP/1.1\r\nX: " + std::string(2100, 'a') + "\r\n\r\n"), 431);
  EXPECT_EQ(statusFor("POST /api/v1/messages HTTP/1.1\r\nContent-Length: 1000\r\n\r\n"), 413);
  EXPECT_EQ(statusFor("POST /api/v1/messages HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), 411);
  EXPECT_EQ(statusFor("NONSENSE\r\n\r\n"), 400);
  // A body within the cap is read, then the method is refused as before.
  EXPECT_EQ(statusFor("POST /healthz HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"), 405);
  EXPECT_EQ(counterIn(metricsOf(*server), "sipwarden_admin_connections_cut_total{reason=\"bad_request\"}"), 4);
}

TEST_F(ServerTest, NewConnectionsGetInPastACrowdOfIdleOnes) {
  // Twice the total cap of idle connections (one address, as on loopback):
  // each new one pushes out the oldest idle, so a real request still gets in.
  std::vector<std::unique_ptr<RawClient>> idle;
  for (int i = 0; i < 32; ++i) idle.push_back(std::make_unique<RawClient>(port));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(get("/healthz").status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(300));
  int closed = 0;
  for (auto& client : idle) closed += client->closedWithin(10) ? 1 : 0;
  EXPECT_GE(closed, 32 - 8);  // all but the per-address cap's worth were pushed out
  const std::string metrics = metricsOf(*server);
  EXPECT_GE(counterIn(metrics, "sipwarden_admin_connections_cut_total{reason=\"over_cap\"}"), 32 - 8) << metrics;
  EXPECT_EQ(counterIn(metrics, "sipwarden_admin_connections_accepted_total"), 33) << metrics;
  EXPECT_LE(counterIn(metrics, "sipwarden_admin_connections_open"), 8) << metrics;
}

TEST(ServerTls, HttpsAnswersAndASilentHandshakeIsCut) {
  transport::initializeTls();
  transport::testing::TestCa ca("admin-ca");
  const auto pair = ca.issue("admin", "admin.test", "admin.test");
  transport::TlsSettings tls;
  tls.certificateFile = pair.certificate;
  tls.privateKeyFile = pair.key;
  query::testing::TempArchive db;
  AdminSettings settings;
  settings.enabled = true;
  settings.port = 0;
  settings.tokens = {{"prom", Role::Metrics, kMetrics}};
  settings.tlsContext = transport::TlsContexts::load(tls)->server();
  settings.limits.headerTimeoutMs = 400;
  AdminServer server(settings, db.path(), {});
  server.start();
  const auto port = static_cast<std::uint16_t>(std::stoi(server.address().substr(server.address().rfind(':') + 1)));

  RawClient silent(port);  // connects, never says hello
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(silent.closedWithin(3000));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2000));

  Poco::Net::Context::Ptr client =
      new Poco::Net::Context(Poco::Net::Context::CLIENT_USE, "", "", "", Poco::Net::Context::VERIFY_NONE);
  client->enableExtendedCertificateVerification(false);  // the server's certificate is not what is tested
  Poco::Net::HTTPSClientSession session("127.0.0.1", port, client);
  session.setTimeout(Poco::Timespan(5, 0));
  session.setKeepAlive(true);
  for (int i = 0; i < 2; ++i) {  // twice on one connection: keep-alive over TLS
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, "/healthz", Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::string body;
    Poco::StreamCopier::copyToString(session.receiveResponse(response), body);
    EXPECT_EQ(response.getStatus(), 200);
    EXPECT_EQ(body, "ok\n");
  }
}

}  // namespace
}  // namespace sipwarden::admin
