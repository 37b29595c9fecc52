// The admin server on 127.0.0.1 (an ephemeral port) over a real archive:
// 401 without a token, roles, the API's answers, and the audit trail.
#include "admin/server.h"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>

#include "../query/query_test_support.h"
#include "query/reader.h"

namespace sipwarden::admin {
namespace {

constexpr const char* kAuditor = "auditor-secret-0123456789";
constexpr const char* kMetrics = "metrics-secret-0123456789";

struct Reply {
  int status = 0;
  std::string body;
  std::string authenticate;
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db.add(1'793'610'000'000, "alice@example.com", "bob@example.com", "quarterly report", "s1");
    db.add(1'793'610'001'000, "bob@example.com", "alice@example.com", "no thanks", "s1", true, "blocked");
    AdminSettings settings;
    settings.enabled = true;
    settings.port = 0;
    settings.tokens = {{"carol", Role::Auditor, kAuditor}, {"prom", Role::Metrics, kMetrics}};
    ServerHooks hooks;
    hooks.metrics = [] { return std::string("sipwarden_test 1\n"); };
    hooks.ready = [this](std::string& why) {
      why = "archive not writable";
      return ready;
    };
    server = std::make_unique<AdminServer>(settings, db.path(), hooks);
    server->start();
    port = static_cast<std::uint16_t>(std::stoi(server->address().substr(server->address().rfind(':') + 1)));
  }
  void TearDown() override { server.reset(); }

  Reply get(const std::string& path, const std::string& token = "") {
    Poco::Net::HTTPClientSession session("127.0.0.1", port);
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
