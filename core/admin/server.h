#pragma once
// The admin HTTP server (its own threads and listen address): the JSON API
// over the archive, /metrics, /healthz, /readyz and the web console.
// Started by `sipwarden run` when the config has an `admin` block; stopped
// before the archive writer.
//
// Containment: one poll thread reads every connection (TLS handshake,
// request head, body) within the deadlines and caps of
// AdminSettings::limits and hands only complete requests to the worker
// threads, so slow or idle clients cost a buffer each, never a thread, and
// cannot keep the probes or an auditor's search from being answered.
//
// Access: every data path needs "Authorization: Bearer TOKEN"; without a
// valid token the answer is 401 and nothing else. `metrics` tokens reach
// /metrics only, `auditor` tokens the API (searches and exports, each
// written to the audit table). The console page itself and the health
// probes carry no archive data and are open.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "admin/settings.h"
#include "admin/stats_registry.h"

namespace sipwarden::admin {

struct ServerHooks {
  // The Prometheus text for /metrics (called on a worker thread).
  std::function<std::string()> metrics;
  // Whether the hop can take traffic, and if not why (for /readyz: 503
  // "not ready: WHY"). Called on the connection thread: must not block.
  std::function<bool(std::string& why)> ready;
  // Whether the hop is alive (e.g. its SIP thread still turns), and if not
  // why (for /healthz: 503 "not live: WHY"). Empty: /healthz answers ok
  // while the server runs. Called on the connection thread: must not block.
  std::function<bool(std::string& why)> live;
};

struct SharedState;
class FrontEnd;

class AdminServer {
 public:
  // `archivePath` may be empty (no archive): the API then answers 503.
  AdminServer(const AdminSettings& settings, std::string archivePath, ServerHooks hooks);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds and starts serving. Throws Poco::Exception when it cannot bind.
  void start();
  // Stops accepting, closes every connection and waits for the requests
  // the workers are answering; safe to call twice.
  void stop();
  // The bound address, e.g. "127.0.0.1:8080" (the real port when 0 was asked).
  std::string address() const;
  // Called while wiring, before the registry renders: declares the front
  // end's connection counters (open, accepted, and cut by reason:
  // header/body/idle/write timeout, over a cap, bad request), read live.
  void declareMetrics(StatsRegistry& registry) const;

 private:
  AdminSettings settings_;
  std::shared_ptr<SharedState> state_;
  std::unique_ptr<FrontEnd> frontEnd_;
};

// The web console page (embedded from core/admin/console.html at build time).
const std::string& consoleHtml();

}  // namespace sipwarden::admin
