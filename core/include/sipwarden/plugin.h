#pragma once
// How a plugin module presents itself. A module (.so) exports one C symbol,
// `sipwarden_plugin_v1`, returning its descriptor; the loader refuses a
// descriptor whose abiVersion differs from its own and says which.
//
//   SIPWARDEN_PLUGIN(url_filter, "url_filter", "1.0", &createUrlFilter)
//
// `create` is called at start and on every reload with the plugin's config
// block. It reads its keys through PluginConfig (which records the first
// error and every key read: unread keys are reported as unknown), and
// returns the filter, or nullptr after config.fail(...) or with an error.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sipwarden/filter.h"

namespace sipwarden {

// Bump on any change to the SDK headers that breaks binary compatibility.
inline constexpr std::uint32_t kPluginAbiVersion = 6;

// A plugin's config block. Getters never throw: a missing key yields the
// fallback, a wrong type records an error naming the key's full path
// ("plugins[2].action: expected block|defang|warn") and yields the fallback.
class PluginConfig {
 public:
  virtual ~PluginConfig() = default;
  virtual std::string path() const = 0;  // "plugins[2]"
  virtual bool has(std::string_view key) const = 0;
  virtual std::string getString(std::string_view key, std::string_view fallback) = 0;
  // One of `choices`; anything else is an error listing them.
  virtual std::string getChoice(std::string_view key, const std::vector<std::string>& choices,
                                std::string_view fallback) = 0;
  virtual std::int64_t getInteger(std::string_view key, std::int64_t fallback, std::int64_t min,
                                  std::int64_t max) = 0;
  virtual bool getBool(std::string_view key, bool fallback) = 0;
  // A file path; a relative one is resolved against the directory of the
  // config file it was read from, so a config works from any directory.
  virtual std::string getPath(std::string_view key, std::string_view fallback) = 0;
  // A list of strings (a single string counts as a list of one).
  virtual std::vector<std::string> getStrings(std::string_view key, const std::vector<std::string>& fallback) = 0;
  // Records an error for `key` (e.g. a regex that does not compile).
  virtual void fail(std::string_view key, std::string_view message) = 0;
  virtual bool failed() const = 0;

  // What `key` holds, for options that accept more than one form (a switch
  // or a list, say) before calling the matching getter.
  enum class Kind { Missing, Null, Bool, Integer, Number, String, List, Object };
  virtual Kind kind(std::string_view key) const = 0;
  // A list of objects ("lexicons": [{...}, {...}]; a single object counts as
  // a list of one), each a config of its own with a path such as
  // "plugins[2].scripts[1]": its errors and unknown keys are reported like
  // the block's. The children live as long as this config (during create).
  virtual std::vector<PluginConfig*> getObjects(std::string_view key) = 0;
  // The value of `key` as JSON text ("" when absent), for settings a plugin
  // passes on without interpreting them (a script's own settings table).
  virtual std::string getJson(std::string_view key) = 0;
  // Names a file the plugin's behaviour depends on (a script, a word list).
  // When it changes on disk the hop rebuilds the chain as on SIGHUP; if the
  // new chain fails to build the running one stays.
  virtual void watchFile(std::string_view path) = 0;
};

using CreateFilter = std::unique_ptr<Filter> (*)(PluginConfig& config);

struct PluginDescriptor {
  std::uint32_t abiVersion;
  const char* name;
  const char* version;
  CreateFilter create;
};

}  // namespace sipwarden

#define SIPWARDEN_PLUGIN_SYMBOL "sipwarden_plugin_v1"

// Defines the module's descriptor as sipwarden::plugins::ID() and, unless
// the plugin is compiled for static linking (SIPWARDEN_PLUGIN_STATIC, as
// tests do to link several plugins into one binary), the module's C entry
// point. Use once per module.
#ifdef SIPWARDEN_PLUGIN_STATIC
#define SIPWARDEN_PLUGIN_ENTRY_POINT(ID)
#else
#define SIPWARDEN_PLUGIN_ENTRY_POINT(ID)                                                        \
  extern "C" __attribute__((visibility("default"))) const ::sipwarden::PluginDescriptor*        \
  sipwarden_plugin_v1() {                                                                       \
    return ::sipwarden::plugins::ID();                                                          \
  }
#endif

#define SIPWARDEN_PLUGIN(ID, NAME, VERSION, CREATE)                                             \
  namespace sipwarden::plugins {                                                                \
  const ::sipwarden::PluginDescriptor* ID() {                                                   \
    static const ::sipwarden::PluginDescriptor descriptor{::sipwarden::kPluginAbiVersion, NAME, \
                                                          VERSION, CREATE};                     \
    return &descriptor;                                                                         \
  }                                                                                             \
  }                                                                                             \
  SIPWARDEN_PLUGIN_ENTRY_POINT(ID)
