#pragma once
// The readers of the config file's blocks, one per block, each called by
// parseConfig (app/config.cc) with the top level's throwing reader; a
// missing block leaves the settings at their defaults. Private to the app.

#include "app/config.h"
#include "config/reader.h"

namespace sipwarden::app {

// "access" and "rate_limits": who may send, and how fast (app/config_network.cc).
void readAdmission(config::Reader& top, proxy::ProxyConfig& proxy);
// "tls": certificates and peer checks for TLS listeners and next hops.
void readTls(config::Reader& top, AppConfig& config);
// "dns": which servers answer, whether SRV is used, how long answers live.
void readDns(config::Reader& top, proxy::DnsSettings& dns);
// "timers": the RFC 3261 timers and how long a finished transaction lingers.
void readTimers(config::Reader& top, proxy::TimerSettings& timers);
// "tcp": connection caps and deadlines for stream listeners.
void readTcp(config::Reader& top, transport::TransportLimits& limits);

// "archive", with its "checkpoints" (app/config_archive.cc).
void readArchive(config::Reader& top, archive::WriterSettings& settings);

}  // namespace sipwarden::app
