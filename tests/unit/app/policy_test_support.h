#pragma once
// A chain of probe plugins (tests/plugins/probe.cc) and a sample MESSAGE,
// for the offline `policy test` runs.
#include <Poco/JSON/Parser.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "pipeline/loader.h"

namespace sipwarden::plugins {
namespace probe { const PluginDescriptor* descriptor(); }
}

namespace sipwarden::app::testing {

// `blocks`: the JSON list of plugin blocks, e.g. [{"plugin": "probe"}].
inline std::shared_ptr<const pipeline::FilterChain> probeChain(const std::string& blocks) {
  pipeline::registerBuiltinPlugin(plugins::probe::descriptor());
  return pipeline::buildChain(Poco::JSON::Parser().parse(blocks).extract<Poco::JSON::Array::Ptr>(),
                              pipeline::ChainSettings{});
}

// A plain-text MESSAGE from alice to bob that passes the hop's own checks.
inline std::string sampleMessage() {
  std::ifstream in(std::string(SIPWARDEN_SAMPLES_DIR) + "/01-message-text-plain.sip", std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace sipwarden::app::testing
