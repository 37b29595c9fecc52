#pragma once
// How a plugin module presents itself. A module (.so) exports one C symbol,
// `sipwarden_plugin_v1`, returning its descriptor; the loader compares the
// descriptor's ABI stamp with its own field by field and refuses a module
// that differs in any, naming the field and both values.
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
#include <version>  // the standard library's own macros, for the ABI stamp

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

// What a module and the core must share for std::string, std::map,
// std::function and shared_ptr to cross between them: the SDK, the compiler
// and the standard library. Each side computes its stamp when it is compiled
// (SIPWARDEN_PLUGIN_ABI_STAMP below); the loader compares the module's with
// kPluginAbiStamp field by field, sdkVersion first: a module whose sdkVersion
// differs may lay out everything after it differently, so nothing past it is
// read.
struct PluginAbiStamp {
  std::uint32_t sdkVersion;     // kPluginAbiVersion
  const char* compiler;         // "gcc 13", "clang 18": compiler and major version
  const char* standardLibrary;  // "libstdc++ 13" (_GLIBCXX_RELEASE), "libc++ 180100" (_LIBCPP_VERSION)
  const char* stringAbi;        // libstdc++'s _GLIBCXX_USE_CXX11_ABI ("cxx11", "gcc4"), libc++'s ABI version
};

struct PluginDescriptor {
  PluginAbiStamp abi;  // first, in every version of the descriptor
  const char* name;
  const char* version;
  CreateFilter create;
};

}  // namespace sipwarden

#define SIPWARDEN_ABI_TEXT_(X) #X
#define SIPWARDEN_ABI_TEXT(X) SIPWARDEN_ABI_TEXT_(X)

// Clang first: it defines __GNUC__ too.
#if defined(__clang__)
#define SIPWARDEN_ABI_COMPILER "clang " SIPWARDEN_ABI_TEXT(__clang_major__)
#elif defined(__GNUC__)
#define SIPWARDEN_ABI_COMPILER "gcc " SIPWARDEN_ABI_TEXT(__GNUC__)
#else
#error "the sipwarden plugin SDK is built with GCC or Clang"
#endif

// The release, not __GLIBCXX__'s date: that changes with every patch
// release of one compiler, whose library keeps its layout.
#if defined(_LIBCPP_VERSION)
#define SIPWARDEN_ABI_STANDARD_LIBRARY "libc++ " SIPWARDEN_ABI_TEXT(_LIBCPP_VERSION)
#define SIPWARDEN_ABI_STRING_ABI "libc++ abi " SIPWARDEN_ABI_TEXT(_LIBCPP_ABI_VERSION)
#elif defined(_GLIBCXX_RELEASE)
#define SIPWARDEN_ABI_STANDARD_LIBRARY "libstdc++ " SIPWARDEN_ABI_TEXT(_GLIBCXX_RELEASE)
#if _GLIBCXX_USE_CXX11_ABI
#define SIPWARDEN_ABI_STRING_ABI "cxx11"
#else
#define SIPWARDEN_ABI_STRING_ABI "gcc4"
#endif
#else
#error "the sipwarden plugin SDK is built with libstdc++ or libc++"
#endif

// The stamp of whatever is being compiled: literals only, so a module's
// descriptor holds its own values and never the core's (an inline variable
// could be bound to the core's copy when the module is loaded).
#define SIPWARDEN_PLUGIN_ABI_STAMP                                                             \
  ::sipwarden::PluginAbiStamp {                                                                \
    ::sipwarden::kPluginAbiVersion, SIPWARDEN_ABI_COMPILER, SIPWARDEN_ABI_STANDARD_LIBRARY,    \
        SIPWARDEN_ABI_STRING_ABI                                                               \
  }

namespace sipwarden {
// The core's stamp, compiled into the loader from this same header.
inline constexpr PluginAbiStamp kPluginAbiStamp = SIPWARDEN_PLUGIN_ABI_STAMP;
}  // namespace sipwarden

#define SIPWARDEN_PLUGIN_SYMBOL "sipwarden_plugin_v1"

// Defines the module's descriptor as sipwarden::plugins::ID::descriptor()
// (a plugin keeps its code in namespace sipwarden::plugins::ID) and, unless
// the plugin is compiled for static linking (SIPWARDEN_PLUGIN_STATIC, as
// tests do to link several plugins into one binary), the module's C entry
// point. Use once per module.
#ifdef SIPWARDEN_PLUGIN_STATIC
#define SIPWARDEN_PLUGIN_ENTRY_POINT(ID)
#else
#define SIPWARDEN_PLUGIN_ENTRY_POINT(ID)                                                        \
  extern "C" __attribute__((visibility("default"))) const ::sipwarden::PluginDescriptor*        \
  sipwarden_plugin_v1() {                                                                       \
    return ::sipwarden::plugins::ID::descriptor();                                              \
  }
#endif

#define SIPWARDEN_PLUGIN(ID, NAME, VERSION, CREATE)                                             \
  namespace sipwarden::plugins::ID {                                                            \
  const ::sipwarden::PluginDescriptor* descriptor() {                                           \
    static const ::sipwarden::PluginDescriptor value{SIPWARDEN_PLUGIN_ABI_STAMP, NAME, VERSION, \
                                                     CREATE};                                   \
    return &value;                                                                              \
  }                                                                                             \
  }                                                                                             \
  SIPWARDEN_PLUGIN_ENTRY_POINT(ID)
