#include "admin/metrics.h"

#include "archive/writer.h"
#include "pipeline/chain.h"
#include "proxy/proxy.h"
#include "transport/transport.h"

namespace sipwarden::admin {
namespace {

// Label values escape backslash, double quote and newline.
std::string label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    out += c == '\n' ? std::string("\\n") : std::string(1, c);
  }
  return out;
}

class Writer {
 public:
  void family(const char* name, const char* type, const char* help) {
    out_ += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  }
  void sample(const std::string& name, const std::string& labels, std::uint64_t value) {
    out_ += name + (labels.empty() ? "" : "{" + labels + "}") + " " + std::to_string(value) + "\n";
  }
  void sampleDouble(const std::string& name, double value) {
    char text[64];
    std::snprintf(text, sizeof text, "%.9f", value);
    out_ += name + " " + text + "\n";
  }
  void counterMap(const char* name, const char* help, const char* key,
                  const std::map<std::string, std::uint64_t>& values) {
    family(name, "counter", help);
    for (const auto& [k, v] : values) sample(name, std::string(key) + "=\"" + label(k) + "\"", v);
  }
  void single(const char* name, const char* type, const char* help, std::uint64_t value) {
    family(name, type, help);
    sample(name, "", value);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

MetricsSnapshot collect(const proxy::Proxy& proxy, const transport::Transport& transport, bool listenersUp) {
  MetricsSnapshot s;
  const auto& c = proxy.counters();
  s.requestsByMethod = c.requestsByMethod;
  s.responsesByClass = c.responsesByClass;
  s.localReplies = c.localReplies;
  s.drops = c.drops;
  s.retransmissionsAbsorbed = c.retransmissionsAbsorbed;
  s.transactionsCreated = c.transactionsCreated;
  s.timeouts = c.timeouts;
  s.failovers = c.failovers;
  s.transactionsInFlight = proxy.inFlightCount();
  const auto& t = transport.counters();
  s.datagramsIn = t.datagramsIn;
  s.streamMessagesIn = t.streamMessagesIn;
  s.messagesOut = t.messagesOut;
  s.sendFailures = t.sendFailures;
  s.framingErrors = t.framingErrors;
  s.connectionsAccepted = t.connectionsAccepted;
  s.connectionsRefused = t.connectionsRefused;
  s.connectionsOpen = transport.connectionCount();
  s.tlsHandshakes = t.tlsHandshakes;
  s.tlsFailures = t.tlsFailures;
  if (const auto& chain = proxy.chain()) {
    for (const auto& entry : chain->entries()) {
      PluginSnapshot p;
      p.name = entry.name;
      p.label = entry.label;
      auto& k = *entry.counters;  // the lock is taken, so not const
      p.invocations = k.invocations.load(std::memory_order_relaxed);
      p.continued = k.continued.load(std::memory_order_relaxed);
      p.replied = k.replied.load(std::memory_order_relaxed);
      p.dropped = k.dropped.load(std::memory_order_relaxed);
      p.errors = k.errors.load(std::memory_order_relaxed);
      p.nanoseconds = k.nanoseconds.load(std::memory_order_relaxed);
      {
        std::lock_guard<std::mutex> hold(k.namedLock);
        p.named = k.named;
      }
      s.plugins.push_back(std::move(p));
    }
  }
  s.listenersUp = listenersUp;
  return s;
}

void MetricsBoard::publish(MetricsSnapshot snapshot) {
  std::lock_guard<std::mutex> hold(lock_);
  snapshot_ = std::move(snapshot);
}

MetricsSnapshot MetricsBoard::read() const {
  std::lock_guard<std::mutex> hold(lock_);
  return snapshot_;
}

std::string renderPrometheus(const MetricsSnapshot& s, const archive::Writer* archive) {
  Writer w;
  w.counterMap("sipwarden_requests_total", "SIP requests received, by method.", "method", s.requestsByMethod);
  w.counterMap("sipwarden_responses_relayed_total", "SIP responses relayed, by class.", "class", s.responsesByClass);
  w.counterMap("sipwarden_local_replies_total", "Responses sipwarden answered itself, by code.", "code",
               s.localReplies);
  w.counterMap("sipwarden_drops_total", "Messages dropped, by reason.", "reason", s.drops);
  w.single("sipwarden_transactions_created_total", "counter", "Transactions created.", s.transactionsCreated);
  w.single("sipwarden_transactions_in_flight", "gauge", "Transactions not finished.", s.transactionsInFlight);
  w.single("sipwarden_retransmissions_absorbed_total", "counter", "Retransmissions answered from a transaction.",
           s.retransmissionsAbsorbed);
  w.single("sipwarden_transaction_timeouts_total", "counter", "Client transactions that timed out.", s.timeouts);
  w.single("sipwarden_upstream_failovers_total", "counter", "Requests retried on the next upstream.", s.failovers);
  w.single("sipwarden_datagrams_in_total", "counter", "UDP datagrams received.", s.datagramsIn);
  w.single("sipwarden_stream_messages_in_total", "counter", "Messages framed from TCP streams.", s.streamMessagesIn);
  w.single("sipwarden_messages_out_total", "counter", "Messages sent.", s.messagesOut);
  w.single("sipwarden_send_failures_total", "counter", "Sends that failed.", s.sendFailures);
  w.single("sipwarden_framing_errors_total", "counter", "TCP streams closed on a framing error.", s.framingErrors);
  w.single("sipwarden_connections_accepted_total", "counter", "TCP connections accepted.", s.connectionsAccepted);
  w.single("sipwarden_connections_refused_total", "counter", "TCP connections refused over the limit.",
           s.connectionsRefused);
  w.single("sipwarden_connections_open", "gauge", "TCP and TLS connections open.", s.connectionsOpen);
  w.single("sipwarden_tls_handshakes_total", "counter", "TLS handshakes completed (both directions).",
           s.tlsHandshakes);
  w.single("sipwarden_tls_failures_total", "counter",
           "TLS connections refused: handshake, certificate verification or allowed subjects.", s.tlsFailures);

  w.family("sipwarden_plugin_invocations_total", "counter", "Filter invocations, by plugin.");
  for (const auto& p : s.plugins) w.sample("sipwarden_plugin_invocations_total", "plugin=\"" + label(p.label) + "\"", p.invocations);
  w.family("sipwarden_plugin_verdicts_total", "counter", "Filter verdicts, by plugin and verdict.");
  for (const auto& p : s.plugins) {
    const std::string plugin = "plugin=\"" + label(p.label) + "\",verdict=";
    w.sample("sipwarden_plugin_verdicts_total", plugin + "\"continue\"", p.continued);
    w.sample("sipwarden_plugin_verdicts_total", plugin + "\"reply\"", p.replied);
    w.sample("sipwarden_plugin_verdicts_total", plugin + "\"drop\"", p.dropped);
  }
  w.family("sipwarden_plugin_errors_total", "counter", "Filter errors and exceptions, by plugin.");
  for (const auto& p : s.plugins) w.sample("sipwarden_plugin_errors_total", "plugin=\"" + label(p.label) + "\"", p.errors);
  w.family("sipwarden_plugin_seconds_total", "counter", "Time spent in the filter (sampled 1 in 32), by plugin.");
  for (const auto& p : s.plugins) {
    w.sampleDouble("sipwarden_plugin_seconds_total{plugin=\"" + label(p.label) + "\"}",
                   static_cast<double>(p.nanoseconds) / 1e9);
  }
  Writer& more = w;
  more.family("sipwarden_plugin_events_total", "counter",
              "Counters plugins name themselves (Lua errors and budget hits among them), by plugin and event.");
  for (const auto& p : s.plugins) {
    for (const auto& [event, count] : p.named) {
      more.sample("sipwarden_plugin_events_total", "plugin=\"" + label(p.label) + "\",event=\"" + label(event) + "\"",
                  count);
    }
  }
  more.single("sipwarden_listeners_up", "gauge", "1 when the SIP listeners are bound.", s.listenersUp ? 1 : 0);
  if (archive) {
    const auto& a = archive->counters();
    more.single("sipwarden_archive_queue_depth", "gauge", "Records waiting for the archive writer.", archive->queueDepth());
    more.single("sipwarden_archive_healthy", "gauge", "1 while the archive accepts writes.", archive->healthy() ? 1 : 0);
    more.single("sipwarden_archive_committed_total", "counter", "Messages committed to the archive.",
                a.committed.load());
    more.single("sipwarden_archive_refused_total", "counter", "Records refused (queue full or archive failing).",
                a.refused.load());
    more.single("sipwarden_archive_abandoned_total", "counter",
                "Messages not archived because their sender had been answered 503 before the archive took them.",
                a.abandoned.load());
    more.single("sipwarden_archive_failures_total", "counter", "Batches that failed to commit.", a.failures.load());
    if (const archive::Checkpointer* checkpoints = archive->checkpointer()) {
      more.single("sipwarden_archive_checkpoints_signed_total", "counter",
                  "Signed checkpoints of the chain heads written (archive.checkpoints).", checkpoints->written());
      more.single("sipwarden_archive_checkpoint_failures_total", "counter",
                  "Signed checkpoints that could not be written.", checkpoints->failures());
    }
    more.family("sipwarden_archive_commit_seconds", "histogram", "Time to write and commit one batch.");
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < a.commitBuckets.size(); ++i) {
      cumulative += a.commitBuckets[i].load();
      char le[32];
      std::snprintf(le, sizeof le, "%g", static_cast<double>(archive::WriterCounters::kCommitBucketMicros[i]) / 1e6);
      more.sample("sipwarden_archive_commit_seconds_bucket", std::string("le=\"") + le + "\"", cumulative);
    }
    const std::uint64_t batches = a.batches.load();
    more.sample("sipwarden_archive_commit_seconds_bucket", "le=\"+Inf\"", batches);
    more.sampleDouble("sipwarden_archive_commit_seconds_sum", static_cast<double>(a.commitMicrosTotal.load()) / 1e6);
    more.sample("sipwarden_archive_commit_seconds_count", "", batches);
  }
  return w.take();
}

}  // namespace sipwarden::admin
