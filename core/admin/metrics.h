#pragma once
// Prometheus text for /metrics. The proxy's and transport's counters are
// plain fields owned by the SIP thread, so that thread copies them into a
// MetricsSnapshot (about once a second, see runner.cc) and the HTTP threads
// read the copy under a lock. The archive writer's counters are atomics and
// are read live.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace sipwarden::archive {
class Writer;
}
namespace sipwarden::proxy {
class Proxy;
}
namespace sipwarden::transport {
class Transport;
}

namespace sipwarden::admin {

struct PluginSnapshot {
  std::string name;  // plugin name ("url_filter")
  std::string label; // "plugins[2] (url_filter)"
  std::uint64_t invocations = 0, continued = 0, replied = 0, dropped = 0, errors = 0, nanoseconds = 0;
  std::map<std::string, std::uint64_t> named;  // counters the plugin names (Exchange::count)
};

struct MetricsSnapshot {
  std::map<std::string, std::uint64_t> requestsByMethod, responsesByClass, localReplies, drops;
  std::uint64_t retransmissionsAbsorbed = 0, transactionsCreated = 0, timeouts = 0, failovers = 0;
  std::uint64_t transactionsInFlight = 0;
  std::uint64_t datagramsIn = 0, streamMessagesIn = 0, messagesOut = 0, sendFailures = 0, framingErrors = 0;
  std::uint64_t connectionsAccepted = 0, connectionsRefused = 0, connectionsOpen = 0;
  std::uint64_t tlsHandshakes = 0, tlsFailures = 0;
  std::vector<PluginSnapshot> plugins;
  bool listenersUp = false;
};

// Called on the SIP thread only.
MetricsSnapshot collect(const proxy::Proxy& proxy, const transport::Transport& transport, bool listenersUp);

// The snapshot shared between the SIP thread (writer) and HTTP threads.
class MetricsBoard {
 public:
  void publish(MetricsSnapshot snapshot);
  MetricsSnapshot read() const;

 private:
  mutable std::mutex lock_;
  MetricsSnapshot snapshot_;
};

// Called by the HTTP handler: the snapshot plus the writer's live counters
// (`archive` may be null) in the Prometheus text exposition format 0.0.4.
std::string renderPrometheus(const MetricsSnapshot& snapshot, const archive::Writer* archive);

}  // namespace sipwarden::admin
