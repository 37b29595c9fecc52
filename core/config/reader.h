#pragma once
// The one way the config file is read: the app's top level and its blocks,
// the admin block and every plugin block walk their JSON object through a
// Reader. A getter names the key's full path in its error
// ("plugins[2].action: expected block|defang|warn", "admin.listen: ...",
// "timers.t1_ms: ..."), and keys nobody expects are refused.
//
// Two ways to fail, chosen per reader tree: the app and the admin block
// stop at the first error (Throw: a ConfigError), a plugin block records
// the first error and carries on with the fallback (Record), since no
// exception may cross the plugin boundary (sipwarden/plugin.h).

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include "sipwarden/plugin.h"

namespace sipwarden::config {

// "timers.t1_ms: expected an integer from 10 to 10000"
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class OnError { Throw, Record };

class Reader {
 public:
  using Kind = PluginConfig::Kind;

  // Called by whoever reads one block of the config: `path` is the block's
  // key path ("" for the top level, "admin", "plugins[2]").
  Reader(Poco::JSON::Object::Ptr object, std::string path, OnError onError);
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  const std::string& path() const { return path_; }
  // The full path of `key` in this block: "admin.listen", or "listen" at the top.
  std::string pathOf(std::string_view key) const;
  bool has(std::string_view key) const;
  Kind kind(std::string_view key) const;

  // Typed getters: a missing key yields the fallback (and counts as read);
  // a value of the wrong type or range fails naming the key.
  std::string getString(std::string_view key, std::string_view fallback);
  // A string the block must give: a missing key fails as a wrong type would
  // ("expected a string").
  std::string requireString(std::string_view key);
  // One of `choices`; anything else is an error listing them ("expected a|b").
  std::string getChoice(std::string_view key, const std::vector<std::string>& choices, std::string_view fallback);
  std::int64_t getInteger(std::string_view key, std::int64_t fallback, std::int64_t min, std::int64_t max);
  // Any JSON number within [min, max].
  double getNumber(std::string_view key, double fallback, double min, double max);
  bool getBool(std::string_view key, bool fallback);
  // A list of strings; a single string counts as a list of one.
  std::vector<std::string> getStrings(std::string_view key, const std::vector<std::string>& fallback);
  // The value as JSON text ("" when absent).
  std::string getJson(std::string_view key);
  // A nested block ("tls" in the top level): nullptr when absent or (after
  // the error) not an object. The child lives as long as this reader.
  Reader* getObject(std::string_view key, std::string_view notAnObject = "expected an object");
  // A list kept as JSON for a reader of its own later (the plugin blocks,
  // read by the loader): nullptr when absent or (after the error) not a list.
  Poco::JSON::Array::Ptr getArray(std::string_view key, std::string_view notAList);
  // A list of blocks, each a reader with a path such as "plugins[2].scripts[1]";
  // a single object counts as a list of one. Empty after an error.
  std::vector<Reader*> getObjects(std::string_view key, std::string_view notAList = "expected a list of objects",
                                  std::string_view notAnObject = "expected an object");

  // Chain-wide settings (the top-level `on_unreadable` in a plugin block): a
  // string key this block does not set reads as `value`, not the fallback.
  void setDefault(std::string key, std::string value) { defaults_[std::move(key)] = std::move(value); }
  // A key read by other means (the loader's "plugin" and "module").
  void markRead(std::string_view key) { read_.emplace(key); }
  // For blocks whose keys are known up front: fails now on the first key not
  // in `known`, listing them ("tcp.max_conns: unknown key (expected one of: ...)").
  void refuseUnknown(const std::set<std::string>& known);
  // For blocks whose keys are whatever their reader asked for (plugin
  // blocks): fails on the first key nobody read, here or in a child.
  void refuseUnread();

  // Fails for `key` of this block ("" for the block itself): throws, or
  // records the message unless an earlier error was recorded.
  void fail(std::string_view key, std::string_view message);
  // The first error here, else the first of the children; "" when none.
  std::string firstError() const;
  bool failed() const { return !firstError().empty(); }

 private:
  // Marks `key` read and gives its value; nullopt when absent (the fallback applies).
  std::optional<Poco::Dynamic::Var> take(std::string_view key);
  Reader& adopt(Poco::JSON::Object::Ptr object, std::string path);

  Poco::JSON::Object::Ptr object_;
  std::string path_;
  OnError onError_;
  std::set<std::string, std::less<>> read_;
  std::string error_;
  std::vector<std::unique_ptr<Reader>> children_;
  std::map<std::string, std::string, std::less<>> defaults_;
};

}  // namespace sipwarden::config
