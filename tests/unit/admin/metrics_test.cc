// Prometheus text from the stats registry: families, labels (escaped),
// plugins, and the archive writer's live counters with its commit histogram.
#include "admin/metrics.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "archive/writer.h"
#include "pipeline/chain.h"
#include "proxy/proxy.h"
#include "transport/transport.h"

namespace sipwarden::admin {
namespace {

TEST(Prometheus, RendersTheSnapshot) {
  proxy::ProxyCounters proxyCounters;
  proxyCounters.requestsByMethod = {{"INVITE", 3}, {"MESSAGE", 7}};
  proxyCounters.responsesByClass = {{"2xx", 9}};
  transport::TransportCounters transportCounters;
  std::vector<pipeline::ChainEntry> entries(1);
  entries[0].label = "plugins[0] (odd \"name\")";
  entries[0].counters->invocations = 5;
  entries[0].counters->replied = 1;
  entries[0].counters->nanoseconds = 1'500'000'000;
  entries[0].counters->named = {{"lua_errors", 4}};
  const pipeline::FilterChain chain(std::move(entries));
  const std::atomic<bool> listenersUp{true};
  StatsRegistry registry;
  declareProxyMetrics(registry, proxyCounters, [] { return 0; });
  declareTransportMetrics(registry, transportCounters, [] { return 2; });
  declareFilterMetrics(registry, [&chain] { return &chain; });
  declareListenerMetrics(registry, listenersUp);
  registry.sample();
  const std::string text = registry.render();
  EXPECT_NE(text.find("# TYPE sipwarden_requests_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("sipwarden_requests_total{method=\"MESSAGE\"} 7\n"), std::string::npos);
  EXPECT_NE(text.find("sipwarden_responses_relayed_total{class=\"2xx\"} 9\n"), std::string::npos);
  EXPECT_NE(text.find("sipwarden_connections_open 2\n"), std::string::npos);
  const std::string plugin = "plugin=\"plugins[0] (odd \\\"name\\\")\"";
  EXPECT_NE(text.find("sipwarden_plugin_invocations_total{" + plugin + "} 5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("sipwarden_plugin_verdicts_total{" + plugin + ",verdict=\"reply\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("sipwarden_plugin_seconds_total{" + plugin + "} 1.500000000\n"), std::string::npos);
  EXPECT_NE(text.find("sipwarden_plugin_events_total{" + plugin + ",event=\"lua_errors\"} 4\n"), std::string::npos);
  EXPECT_EQ(text.find("sipwarden_archive_"), std::string::npos);  // no archive configured
}

TEST(Prometheus, ArchiveWriterCountersAndCommitHistogram) {
  const auto path = std::filesystem::temp_directory_path() / ("sipwarden-metrics-" + std::to_string(::getpid()) + ".db");
  archive::WriterSettings settings;
  settings.url = path.string();
  {
    archive::Writer writer(settings);
    MessageRecord r;
    r.timeMs = 1;
    r.sender = "a@example.com";
    r.recipient = "b@example.com";
    r.callId = "m1";
    r.verdict = "delivered";
    r.participants = "a@example.com,b@example.com";
    writer.submit(r);
    writer.drainAndStop();
    StatsRegistry registry;
    declareArchiveMetrics(registry, writer);
    const std::string text = registry.render();
    EXPECT_NE(text.find("sipwarden_archive_committed_total 1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("sipwarden_archive_queue_depth 0\n"), std::string::npos);
    EXPECT_NE(text.find("# TYPE sipwarden_archive_commit_seconds histogram\n"), std::string::npos);
    EXPECT_NE(text.find("sipwarden_archive_commit_seconds_bucket{le=\"+Inf\"} "), std::string::npos);
    EXPECT_NE(text.find("sipwarden_archive_commit_seconds_bucket{le=\"5\"} "), std::string::npos);
    EXPECT_NE(text.find("sipwarden_archive_commit_seconds_count "), std::string::npos);
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
}

}  // namespace
}  // namespace sipwarden::admin
