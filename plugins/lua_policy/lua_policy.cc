// lua_policy: runs operator-written Lua scripts on each message
// (docs/lua-api.md). One sandboxed state per script; the chain is rebuilt
// when a script changes on disk, and transactions in flight finish on the
// scripts they started with.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "lua_policy/script.h"
#include "lua_policy/time_share.h"
#include "sipwarden/plugin.h"

namespace sipwarden::plugins::lua_policy {
namespace {

class LuaPolicy final : public Filter {
 public:
  LuaPolicy(std::vector<std::unique_ptr<Script>> scripts, MethodSet methods, TimeShare timeShare)
      : scripts_(std::move(scripts)), methods_(methods), timeShare_(timeShare) {}

  MethodSet methods() const override { return methods_; }

  Verdict onRequest(Exchange& exchange) override {
    for (const auto& script : scripts_) {
      if (!script->hooksRequest()) continue;
      if (!timeShare_.admit()) return shed(exchange, *script);
      Script::Result result = script->runRequest(exchange);
      timeShare_.spent(result.took, result.lookedAt);
      if (result.failure != Sandbox::Failure::None) return failed(exchange, *script, result);
      if (result.decision) return std::move(*result.decision);
    }
    return Verdict::proceed();
  }

  void onResponse(Exchange& exchange) override {
    for (const auto& script : scripts_) {
      if (!script->hooksResponse()) continue;
      if (!timeShare_.admit()) {
        (void)shed(exchange, *script);
        continue;
      }
      Script::Result result = script->runResponse(exchange);
      timeShare_.spent(result.took, result.lookedAt);
      // A response cannot be refused: the failure is logged and counted.
      if (result.failure != Sandbox::Failure::None) (void)failed(exchange, *script, result);
    }
  }

 private:
  static Verdict shed(Exchange& exchange, const Script& script) {
    exchange.count("shed");
    return Verdict::error(script.settings().name +
                          ": not run: the scripts used their share of the SIP thread (time_share_percent)");
  }

  static Verdict failed(Exchange& exchange, const Script& script, const Script::Result& result) {
    switch (result.failure) {
      case Sandbox::Failure::Budget: exchange.count("budget_exceeded"); break;
      case Sandbox::Failure::Memory: exchange.count("memory_exceeded"); break;
      case Sandbox::Failure::Deadline: exchange.count("deadline_exceeded"); break;
      default: exchange.count("script_errors"); break;
    }
    exchange.log(LogLevel::Error, "lua_policy " + script.settings().name + ": " + result.error);
    return Verdict::error(script.settings().name + ": " + result.error);
  }

  std::vector<std::unique_ptr<Script>> scripts_;
  MethodSet methods_;
  TimeShare timeShare_;
};

std::string readFile(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read " + path;
    return {};
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

MethodSet readMethods(PluginConfig& config) {
  if (!config.has("methods")) return MethodSet::all();
  std::uint32_t bits = 0;
  for (const auto& method : config.getStrings("methods", {})) {
    const std::uint32_t bit = MethodSet::bitFor(method);
    if (bit == MethodSet::Other && method != "OTHER") {
      config.fail("methods", "unknown method " + method + " (use OTHER for extension methods)");
    }
    bits |= bit;
  }
  return MethodSet(bits);
}

std::shared_ptr<const Groups> readGroups(PluginConfig& config) {
  auto groups = std::make_shared<Groups>();
  if (config.has("groups")) {
    const std::string error = groups->addJson(config.getJson("groups"));
    if (!error.empty()) config.fail("groups", error);
  }
  const std::string file = config.getPath("groups_file", "");
  if (!file.empty()) {
    config.watchFile(file);
    std::string error;
    const std::string text = readFile(file, error);
    if (error.empty()) error = groups->addJson(text);
    if (!error.empty()) config.fail("groups_file", file + ": " + error);
  }
  return groups;
}

std::unique_ptr<Filter> createLuaPolicy(PluginConfig& config) {
  Limits limits;
  limits.instructions = config.getInteger("instruction_budget", limits.instructions, 1000,
                                          std::numeric_limits<int>::max());
  limits.deadline = std::chrono::milliseconds(config.getInteger("deadline_ms", limits.deadline.count(), 1, 10'000));
  limits.memoryBytes = static_cast<std::size_t>(config.getInteger("memory_limit_kb", 32 * 1024, 256, 4 * 1024 * 1024)) * 1024;
  const double share = static_cast<double>(config.getInteger("time_share_percent", 50, 1, 100)) / 100.0;
  const MethodSet methods = readMethods(config);
  const auto groups = readGroups(config);
  const auto shared = SharedStore::process();

  std::vector<PluginConfig*> entries = config.getObjects("scripts");
  if (entries.empty() && !config.failed()) config.fail("scripts", "at least one script is required: [{\"file\": \"policy.lua\"}]");
  std::vector<std::unique_ptr<Script>> scripts;
  for (PluginConfig* entry : entries) {
    ScriptSettings settings;
    settings.file = entry->getPath("file", "");
    settings.configJson = entry->getJson("config");
    if (entry->kind("config") != PluginConfig::Kind::Missing && entry->kind("config") != PluginConfig::Kind::Object) {
      entry->fail("config", "expected an object (the script's `config` table)");
    }
    if (settings.file.empty()) {
      entry->fail("file", "the script's path is required");
      continue;
    }
    entry->watchFile(settings.file);
    settings.name = std::filesystem::path(settings.file).filename().string();
    settings.limits = limits;
    settings.groups = groups;
    settings.shared = shared;
    std::string error;
    auto script = Script::load(std::move(settings), error);
    if (!script) {
      entry->fail("file", error);
      continue;
    }
    scripts.push_back(std::move(script));
  }
  if (config.failed()) return nullptr;
  return std::make_unique<LuaPolicy>(std::move(scripts), methods, TimeShare(share, std::max<std::chrono::nanoseconds>(limits.deadline / 2, std::chrono::milliseconds(1)),
                                                         std::chrono::milliseconds(1) + Sandbox::callClockResolution()));
}

}  // namespace
}  // namespace sipwarden::plugins::lua_policy

SIPWARDEN_PLUGIN(lua_policy, "lua_policy", "1.0", &sipwarden::plugins::lua_policy::createLuaPolicy)
