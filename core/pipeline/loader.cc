#include "pipeline/loader.h"

#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/JSON/Object.h>
#include <Poco/Path.h>
#include <Poco/SharedLibrary.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "pipeline/plugin_config.h"

namespace sipwarden::pipeline {
namespace {

std::mutex& builtinLock() {
  static std::mutex lock;
  return lock;
}

std::map<std::string, const PluginDescriptor*>& builtins() {
  static std::map<std::string, const PluginDescriptor*> registry;
  return registry;
}

struct Found {
  const PluginDescriptor* descriptor = nullptr;
  const Poco::SharedLibrary* library = nullptr;  // null for a linked-in plugin
};

// An accepted module. Never unloaded: see loader.h.
struct LoadedModule {
  Poco::SharedLibrary library;
  const PluginDescriptor* descriptor = nullptr;
};

std::mutex& moduleLock() {
  static std::mutex lock;
  return lock;
}

// By canonical path, so that two spellings of one file are one module.
std::map<std::string, std::unique_ptr<LoadedModule>>& loadedModules() {
  static std::map<std::string, std::unique_ptr<LoadedModule>> registry;
  return registry;
}

std::string stampText(const char* value) { return value != nullptr ? value : "(none)"; }

// Loads the module at `path`, or finds it loaded, and checks its entry point
// and ABI stamp. A refused module is unloaded again, so that the file can be
// fixed and the chain reloaded.
Found loadModule(const std::string& path, const std::string& name, const std::string& label) {
  std::error_code noCanonicalPath;
  const std::filesystem::path canonical = std::filesystem::canonical(path, noCanonicalPath);
  const std::string key = noCanonicalPath ? path : canonical.string();

  std::lock_guard<std::mutex> hold(moduleLock());
  auto known = loadedModules().find(key);
  if (known != loadedModules().end()) return Found{known->second->descriptor, &known->second->library};

  auto module = std::make_unique<LoadedModule>();
  try {
    module->library.load(path);
  } catch (const Poco::Exception& error) {
    throw PluginError(label + ".module: cannot load " + path + ": " + error.displayText());
  }
  const auto refuse = [&](const std::string& why) {
    module->library.unload();
    return PluginError(label + ".module: " + path + why);
  };
  if (!module->library.hasSymbol(SIPWARDEN_PLUGIN_SYMBOL)) throw refuse(" has no " SIPWARDEN_PLUGIN_SYMBOL " entry point");
  using EntryPoint = const PluginDescriptor* (*)();
  auto entry = reinterpret_cast<EntryPoint>(module->library.getSymbol(SIPWARDEN_PLUGIN_SYMBOL));
  const PluginDescriptor* descriptor = entry();
  if (descriptor == nullptr) throw refuse(" returned no descriptor");
  // Named by the config, not the descriptor: a module of another ABI may
  // keep its name elsewhere.
  if (const auto difference = compareAbiStamps(descriptor->abi, kPluginAbiStamp)) {
    throw refuse(" (" + name + ") was built with " + difference->field + " " + difference->moduleValue +
                 ", this sipwarden with " + difference->field + " " + difference->coreValue);
  }
  module->descriptor = descriptor;
  const LoadedModule& accepted = *loadedModules().emplace(key, std::move(module)).first->second;
  return Found{accepted.descriptor, &accepted.library};
}

Found findPlugin(const std::string& name, const std::string& modulePath, const ChainSettings& settings,
                 const std::string& label) {
  if (modulePath.empty()) {
    std::lock_guard<std::mutex> hold(builtinLock());
    auto found = builtins().find(name);
    if (found != builtins().end()) return Found{found->second, nullptr};
  }
  std::string path = modulePath;
  if (path.empty()) {
    for (const auto& dir : settings.pluginDirs) {
      Poco::Path candidate(Poco::Path::forDirectory(dir), moduleFileName(name));
      if (Poco::File(candidate).exists()) {
        path = candidate.toString();
        break;
      }
    }
    if (path.empty()) {
      std::string dirs;
      for (const auto& dir : settings.pluginDirs) dirs += (dirs.empty() ? "" : ", ") + dir;
      throw PluginError(label + ".plugin: no plugin '" + name + "' (looked for " + moduleFileName(name) + " in " +
                        (dirs.empty() ? "no directory" : dirs) + ")");
    }
  }
  return loadModule(path, name, label);
}

}  // namespace

void registerBuiltinPlugin(const PluginDescriptor* descriptor) {
  std::lock_guard<std::mutex> hold(builtinLock());
  builtins()[descriptor->name] = descriptor;
}

std::string moduleFileName(const std::string& name) { return "sipwarden_" + name + ".so"; }

std::optional<AbiDifference> compareAbiStamps(const PluginAbiStamp& module, const PluginAbiStamp& core) {
  if (module.sdkVersion != core.sdkVersion) {
    return AbiDifference{"plugin ABI", std::to_string(module.sdkVersion), std::to_string(core.sdkVersion)};
  }
  const std::pair<const char*, const char* PluginAbiStamp::*> fields[] = {
      {"compiler", &PluginAbiStamp::compiler},
      {"standard library", &PluginAbiStamp::standardLibrary},
      {"string ABI", &PluginAbiStamp::stringAbi},
  };
  for (const auto& [field, member] : fields) {
    const std::string moduleValue = stampText(module.*member);
    const std::string coreValue = stampText(core.*member);
    if (moduleValue != coreValue) return AbiDifference{field, moduleValue, coreValue};
  }
  return std::nullopt;
}

std::shared_ptr<const FilterChain> buildChain(const Poco::JSON::Array::Ptr& plugins, const ChainSettings& settings) {
  std::vector<ChainEntry> entries;
  if (!plugins) return std::make_shared<const FilterChain>(std::move(entries));
  for (unsigned i = 0; i < plugins->size(); ++i) {
    const std::string label = "plugins[" + std::to_string(i) + "]";
    Poco::JSON::Object::Ptr block = plugins->getObject(i);
    if (!block) throw PluginError(label + ": expected an object");
    if (!block->has("plugin") || !block->get("plugin").isString()) {
      throw PluginError(label + ".plugin: the plugin's name is required");
    }
    const std::string name = block->getValue<std::string>("plugin");
    std::string modulePath;
    if (block->has("module")) {
      if (!block->get("module").isString()) throw PluginError(label + ".module: expected a path");
      modulePath = block->getValue<std::string>("module");
    }

    JsonPluginConfig config(block, label, settings.configDir);
    for (const auto& [key, value] : settings.chainDefaults) config.setChainDefault(key, value);
    ChainEntry entry;
    entry.name = name;
    entry.label = label + " (" + name + ")";
    const std::string failMode = config.getChoice("fail_mode", {"open", "closed"}, "open");
    entry.failMode = failMode == "closed" ? FailMode::Closed : FailMode::Open;
    entry.failCode = static_cast<int>(config.getInteger("fail_code", 503, 400, 699));
    config.markRead("plugin");
    config.markRead("module");
    if (config.failed()) throw PluginError(config.firstError());

    const Found found = findPlugin(name, modulePath, settings, label);
    std::unique_ptr<Filter> filter;
    try {
      filter = found.descriptor->create(config);
    } catch (const std::exception& error) {
      throw PluginError(label + ": " + name + " failed to start: " + error.what());
    }
    if (config.failed()) throw PluginError(config.firstError());
    if (!filter) throw PluginError(label + ": " + name + " refused its configuration");
    config.rejectUnread();
    if (config.failed()) throw PluginError(config.firstError());
    for (auto& path : config.watchedFiles()) {
      const auto modified = modificationTime(path);
      entry.watchedFiles.push_back(WatchedFile{std::move(path), modified});
    }
    entry.methods = filter->methods().bits();
    entry.filter = std::move(filter);
    entry.library = found.library;
    entries.push_back(std::move(entry));
  }
  return std::make_shared<const FilterChain>(std::move(entries));
}

}  // namespace sipwarden::pipeline
