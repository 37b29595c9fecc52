#pragma once
// Runs the hop until SIGTERM/SIGINT: binds the listeners, then polls the
// transport and fires transaction timers on this thread; on stop, drains the
// transactions in flight for at most the configured grace period.

#include "app/config.h"

namespace sipwarden::app {

int run(const AppConfig& config);

}  // namespace sipwarden::app
