#pragma once
// Builds a FilterChain from the `plugins` list of the config: finds each
// plugin (linked in, or a module `sipwarden_<name>.so` in the plugin
// directories), checks its ABI stamp, and lets it read its config block.
// Any problem is a ConfigError naming the block: "plugins[1].action: ...".
//
// A module, once accepted, stays loaded for the life of the process: filters,
// vtables and statics of the old chain may outlive a reload on transactions
// still running, and a reload that names the same file (by its canonical
// path) reuses the loaded module instead of loading it again.

#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <Poco/JSON/Array.h>

#include "pipeline/chain.h"
#include "sipwarden/plugin.h"

namespace sipwarden::pipeline {

class PluginError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Plugins linked into the binary (or a test) instead of loaded as modules.
void registerBuiltinPlugin(const PluginDescriptor* descriptor);

struct ChainSettings {
  std::vector<std::string> pluginDirs;
  std::string configDir;  // relative paths in plugin blocks are resolved here
  // Top-level settings every plugin block inherits when it does not set the
  // key itself ("on_unreadable").
  std::map<std::string, std::string> chainDefaults = {};
};

// Throws PluginError with the key path of the first problem.
std::shared_ptr<const FilterChain> buildChain(const Poco::JSON::Array::Ptr& plugins, const ChainSettings& settings);

// The module file a plugin name maps to: "sipwarden_<name>.so".
std::string moduleFileName(const std::string& name);

// The first field in which a module's ABI stamp differs from the core's.
struct AbiDifference {
  std::string field;  // "plugin ABI", "compiler", "standard library", "string ABI"
  std::string moduleValue;
  std::string coreValue;
};

// Called by the loader for each module before anything else of its
// descriptor is read. Compares sdkVersion first and stops there when it
// differs (the rest of the module's stamp may be laid out differently);
// otherwise the other fields in order. nullopt when the stamps agree.
std::optional<AbiDifference> compareAbiStamps(const PluginAbiStamp& module, const PluginAbiStamp& core);

}  // namespace sipwarden::pipeline
