#pragma once
// What every plugin test needs: a chain built from JSON with the plugin
// linked in, the error such a build stops with, and the shared IM samples.

#include <Poco/JSON/Parser.h>

#include <fstream>
#include <sstream>
#include <string>

#include "pipeline/loader.h"

namespace sipwarden::pipeline::test_support {

inline std::shared_ptr<const FilterChain> chainWith(const PluginDescriptor* plugin, const std::string& json) {
  registerBuiltinPlugin(plugin);
  Poco::JSON::Parser parser;
  return buildChain(parser.parse(json).extract<Poco::JSON::Array::Ptr>(), ChainSettings{});
}

// The config error building the chain stops with ("" when it builds).
inline std::string chainError(const PluginDescriptor* plugin, const std::string& json) {
  try {
    chainWith(plugin, json);
  } catch (const PluginError& error) {
    return error.what();
  }
  return "";
}

inline std::string readSample(const std::string& name) {
  std::ifstream in(std::string(SIPWARDEN_SAMPLES_DIR) + "/" + name, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

}  // namespace sipwarden::pipeline::test_support
