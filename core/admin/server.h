#pragma once
// The admin HTTP server (Poco HTTPServer, its own threads and listen
// address): the JSON API over the archive, /metrics, /healthz, /readyz and
// the web console. Started by `sipwarden run` when the config has an
// `admin` block; stopped before the archive writer.
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

namespace Poco::Net {
class HTTPServer;
}
namespace Poco {
class ThreadPool;
}

namespace sipwarden::admin {

struct ServerHooks {
  // The Prometheus text for /metrics (called on an HTTP thread).
  std::function<std::string()> metrics;
  // Whether the hop can take traffic, and if not why (for /readyz).
  std::function<bool(std::string& why)> ready;
};

struct SharedState;

class AdminServer {
 public:
  // `archivePath` may be empty (no archive): the API then answers 503.
  AdminServer(const AdminSettings& settings, std::string archivePath, ServerHooks hooks);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds and starts serving. Throws Poco::Exception when it cannot bind.
  void start();
  // Stops accepting and waits for requests in progress (bounded by Poco's
  // timeouts); safe to call twice.
  void stop();
  // The bound address, e.g. "127.0.0.1:8080" (the real port when 0 was asked).
  std::string address() const;

 private:
  AdminSettings settings_;
  std::shared_ptr<SharedState> state_;
  std::unique_ptr<Poco::ThreadPool> threads_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

// The web console page (embedded from core/admin/console.html at build time).
const std::string& consoleHtml();

}  // namespace sipwarden::admin
