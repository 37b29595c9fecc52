#pragma once
// Runs a filter chain offline on one message, as the hop would on arrival:
// the hop's own request checks, then each plugin. What `policy test` prints
// and what its --cases mode checks.

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/chain.h"

namespace sipwarden::app {

struct RunOptions {
  bool fromUpstream = false;
  std::string sourceIp = "127.0.0.1";
  std::optional<std::chrono::system_clock::time_point> now;  // the time filters see
};

struct Outcome {
  std::string file;
  std::vector<pipeline::TraceStep> steps;
  std::string result;  // forward, reply, drop, pending, invalid
  int code = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> replyHeaders;
  std::vector<std::pair<std::string, std::string>> tags;
  std::string wire;  // the message as it leaves, or the reply
  bool edited = false;
};

Outcome runMessage(const pipeline::FilterChain& chain, const std::string& file, const RunOptions& options);

}  // namespace sipwarden::app
