#include "admin/metrics.h"

#include <cstdio>
#include <mutex>

#include "archive/writer.h"
#include "pipeline/chain.h"
#include "proxy/proxy.h"
#include "transport/transport.h"

namespace sipwarden::admin {
namespace {

constexpr auto kCounter = MetricType::Counter;
constexpr auto kGauge = MetricType::Gauge;
constexpr auto kSip = ReadOn::OwnerThread;
constexpr auto kLive = ReadOn::AnyThread;

// One sample per plugin of the chain, labelled with the plugin's label.
// (The counters are not const: reading the named ones takes their lock.)
using PerPlugin = std::function<void(const pipeline::ChainEntry&, pipeline::PluginCounters&, MetricSamples&)>;
std::function<MetricSamples()> eachPlugin(std::function<const pipeline::FilterChain*()> chain, PerPlugin add) {
  return [chain = std::move(chain), add = std::move(add)] {
    MetricSamples samples;
    if (const pipeline::FilterChain* filters = chain()) {
      for (const auto& entry : filters->entries()) add(entry, *entry.counters, samples);
    }
    return samples;
  };
}

std::uint64_t relaxed(const std::atomic<std::uint64_t>& counter) { return counter.load(std::memory_order_relaxed); }

}  // namespace

void declareProxyMetrics(StatsRegistry& registry, const proxy::ProxyCounters& c,
                         std::function<std::uint64_t()> transactionsInFlight) {
  registry.labelled("sipwarden_requests_total", "SIP requests received, by method.", "method", kSip,
                    [&c] { return c.requestsByMethod; });
  registry.labelled("sipwarden_responses_relayed_total", "SIP responses relayed, by class.", "class", kSip,
                    [&c] { return c.responsesByClass; });
  registry.labelled("sipwarden_local_replies_total", "Responses sipwarden answered itself, by code.", "code", kSip,
                    [&c] { return c.localReplies; });
  registry.labelled("sipwarden_drops_total", "Messages dropped, by reason.", "reason", kSip, [&c] { return c.drops; });
  registry.single("sipwarden_transactions_created_total", kCounter, "Transactions created.", kSip,
                  [&c] { return c.transactionsCreated; });
  registry.single("sipwarden_transactions_in_flight", kGauge, "Transactions not finished.", kSip,
                  std::move(transactionsInFlight));
  registry.single("sipwarden_retransmissions_absorbed_total", kCounter, "Retransmissions answered from a transaction.",
                  kSip, [&c] { return c.retransmissionsAbsorbed; });
  registry.single("sipwarden_transaction_timeouts_total", kCounter, "Client transactions that timed out.", kSip,
                  [&c] { return c.timeouts; });
  registry.single("sipwarden_upstream_failovers_total", kCounter, "Requests retried on the next upstream.", kSip,
                  [&c] { return c.failovers; });
}

void declareTransportMetrics(StatsRegistry& registry, const transport::TransportCounters& c,
                             std::function<std::uint64_t()> connectionsOpen) {
  registry.single("sipwarden_datagrams_in_total", kCounter, "UDP datagrams received.", kSip,
                  [&c] { return c.datagramsIn; });
  registry.single("sipwarden_stream_messages_in_total", kCounter, "Messages framed from TCP streams.", kSip,
                  [&c] { return c.streamMessagesIn; });
  registry.single("sipwarden_messages_out_total", kCounter, "Messages sent.", kSip, [&c] { return c.messagesOut; });
  registry.single("sipwarden_send_failures_total", kCounter, "Sends that failed.", kSip,
                  [&c] { return c.sendFailures; });
  registry.single("sipwarden_framing_errors_total", kCounter, "TCP streams closed on a framing error.", kSip,
                  [&c] { return c.framingErrors; });
  registry.single("sipwarden_connections_accepted_total", kCounter, "TCP connections accepted.", kSip,
                  [&c] { return c.connectionsAccepted; });
  registry.single("sipwarden_connections_refused_total", kCounter, "TCP connections refused over the limit.", kSip,
                  [&c] { return c.connectionsRefused; });
  registry.single("sipwarden_connections_open", kGauge, "TCP and TLS connections open.", kSip,
                  std::move(connectionsOpen));
  registry.single("sipwarden_tls_handshakes_total", kCounter, "TLS handshakes completed (both directions).", kSip,
                  [&c] { return c.tlsHandshakes; });
  registry.single("sipwarden_tls_failures_total", kCounter,
                  "TLS connections refused: handshake, certificate verification or allowed subjects.", kSip,
                  [&c] { return c.tlsFailures; });
}

void declareFilterMetrics(StatsRegistry& registry, std::function<const pipeline::FilterChain*()> chain) {
  registry.family("sipwarden_plugin_invocations_total", kCounter, "Filter invocations, by plugin.", kSip,
                  eachPlugin(chain, [](const auto& entry, const auto& k, MetricSamples& out) {
                    out.push_back(countSample({{"plugin", entry.label}}, relaxed(k.invocations)));
                  }));
  registry.family("sipwarden_plugin_verdicts_total", kCounter, "Filter verdicts, by plugin and verdict.", kSip,
                  eachPlugin(chain, [](const auto& entry, const auto& k, MetricSamples& out) {
                    for (const auto& [verdict, count] : {std::pair{"continue", &k.continued},
                                                         std::pair{"reply", &k.replied}, std::pair{"drop", &k.dropped}}) {
                      out.push_back(countSample({{"plugin", entry.label}, {"verdict", verdict}}, relaxed(*count)));
                    }
                  }));
  registry.family("sipwarden_plugin_errors_total", kCounter, "Filter errors and exceptions, by plugin.", kSip,
                  eachPlugin(chain, [](const auto& entry, const auto& k, MetricSamples& out) {
                    out.push_back(countSample({{"plugin", entry.label}}, relaxed(k.errors)));
                  }));
  registry.family("sipwarden_plugin_seconds_total", kCounter, "Time spent in the filter (sampled 1 in 32), by plugin.",
                  kSip, eachPlugin(chain, [](const auto& entry, const auto& k, MetricSamples& out) {
                    out.push_back(
                        secondsSample({{"plugin", entry.label}}, static_cast<double>(relaxed(k.nanoseconds)) / 1e9));
                  }));
  registry.family("sipwarden_plugin_events_total", kCounter,
                  "Counters plugins name themselves (Lua errors and budget hits among them), by plugin and event.",
                  kSip, eachPlugin(chain, [](const auto& entry, auto& k, MetricSamples& out) {
                    std::lock_guard<std::mutex> hold(k.namedLock);
                    for (const auto& [event, count] : k.named) {
                      out.push_back(countSample({{"plugin", entry.label}, {"event", event}}, count));
                    }
                  }));
}

void declareListenerMetrics(StatsRegistry& registry, const std::atomic<bool>& listenersUp) {
  registry.single("sipwarden_listeners_up", kGauge, "1 when the SIP listeners are bound.", kLive,
                  [&listenersUp] { return listenersUp.load() ? 1 : 0; });
}

void declareArchiveMetrics(StatsRegistry& registry, const archive::Writer& archive) {
  const archive::WriterCounters& a = archive.counters();
  registry.single("sipwarden_archive_queue_depth", kGauge, "Records waiting for the archive writer.", kLive,
                  [&archive] { return archive.queueDepth(); });
  registry.single("sipwarden_archive_healthy", kGauge, "1 while the archive accepts writes.", kLive,
                  [&archive] { return archive.healthy() ? 1 : 0; });
  registry.single("sipwarden_archive_committed_total", kCounter, "Messages committed to the archive.", kLive,
                  [&a] { return a.committed.load(); });
  registry.single("sipwarden_archive_refused_total", kCounter, "Records refused (queue full or archive failing).",
                  kLive, [&a] { return a.refused.load(); });
  registry.single("sipwarden_archive_abandoned_total", kCounter,
                  "Messages not archived because their sender had been answered 503 before the archive took them.",
                  kLive, [&a] { return a.abandoned.load(); });
  registry.single("sipwarden_archive_failures_total", kCounter, "Batches that failed to commit.", kLive,
                  [&a] { return a.failures.load(); });
  if (const archive::Checkpointer* checkpoints = archive.checkpointer()) {
    registry.single("sipwarden_archive_checkpoints_signed_total", kCounter,
                    "Signed checkpoints of the chain heads written (archive.checkpoints).", kLive,
                    [checkpoints] { return checkpoints->written(); });
    registry.single("sipwarden_archive_checkpoint_failures_total", kCounter,
                    "Signed checkpoints that could not be written.", kLive,
                    [checkpoints] { return checkpoints->failures(); });
  }
  registry.family("sipwarden_archive_commit_seconds", MetricType::Histogram, "Time to write and commit one batch.",
                  kLive, [&a] {
                    MetricSamples samples;
                    std::uint64_t cumulative = 0;
                    for (std::size_t i = 0; i < a.commitBuckets.size(); ++i) {
                      cumulative += a.commitBuckets[i].load();
                      char le[32];
                      std::snprintf(le, sizeof le, "%g",
                                    static_cast<double>(archive::WriterCounters::kCommitBucketMicros[i]) / 1e6);
                      samples.push_back(countSample({{"le", le}}, cumulative, "_bucket"));
                    }
                    const std::uint64_t batches = a.batches.load();
                    samples.push_back(countSample({{"le", "+Inf"}}, batches, "_bucket"));
                    samples.push_back(secondsSample({}, static_cast<double>(a.commitMicrosTotal.load()) / 1e6, "_sum"));
                    samples.push_back(countSample({}, batches, "_count"));
                    return samples;
                  });
}

}  // namespace sipwarden::admin
