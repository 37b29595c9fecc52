#pragma once
// Runs the hop until SIGTERM/SIGINT: binds the listeners, then polls the
// transport and fires transaction timers on this thread; on stop, drains the
// transactions in flight for at most the configured grace period.

#include <string>
#include <vector>

#include "app/config.h"

namespace sipwarden::app {

int run(const AppConfig& config);

// `sipwarden reload --pid-file FILE`: asks a running hop to rebuild its
// filter chain (SIGHUP).
int reloadCommand(const std::vector<std::string>& args);

}  // namespace sipwarden::app
