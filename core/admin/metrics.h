#pragma once
// What sipwarden exposes on /metrics: each declare* function declares the
// metric families of one part of the process in the stats registry, naming
// each counter once (its Prometheus name, help and where its value lives).

#include <atomic>
#include <cstdint>
#include <functional>

#include "admin/stats_registry.h"

namespace sipwarden::archive {
class Writer;
}
namespace sipwarden::pipeline {
class FilterChain;
}
namespace sipwarden::proxy {
struct ProxyCounters;
}
namespace sipwarden::transport {
struct TransportCounters;
}

namespace sipwarden::admin {

// Called while wiring the process. The proxy's counters and the transaction
// count are read on the SIP thread (StatsRegistry::sample).
void declareProxyMetrics(StatsRegistry& registry, const proxy::ProxyCounters& counters,
                         std::function<std::uint64_t()> transactionsInFlight);

// Called while wiring the process. The transport's counters and the
// connection count are read on the SIP thread.
void declareTransportMetrics(StatsRegistry& registry, const transport::TransportCounters& counters,
                             std::function<std::uint64_t()> connectionsOpen);

// Called while wiring the process. `chain` returns the chain new
// transactions run through (it changes on reload), read on the SIP thread.
void declareFilterMetrics(StatsRegistry& registry, std::function<const pipeline::FilterChain*()> chain);

// Called while wiring the process: the gauge /readyz also reads.
void declareListenerMetrics(StatsRegistry& registry, const std::atomic<bool>& listenersUp);

// Called while wiring a process with an archive: the writer's live counters
// and its commit histogram (atomics, read on the HTTP threads).
void declareArchiveMetrics(StatsRegistry& registry, const archive::Writer& archive);

}  // namespace sipwarden::admin
