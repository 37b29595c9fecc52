#pragma once
// A plugin's config block as the SDK's PluginConfig: typed getters over the
// JSON object that record the first error with its full key path and which
// keys were read, so unread (unknown) keys can be refused.

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <Poco/JSON/Object.h>

#include "sipwarden/plugin.h"

namespace sipwarden::pipeline {

class JsonPluginConfig final : public PluginConfig {
 public:
  // `baseDir`: where relative paths are resolved ("" for the working directory).
  JsonPluginConfig(Poco::JSON::Object::Ptr block, std::string path, std::string baseDir = "");

  std::string path() const override { return path_; }
  bool has(std::string_view key) const override;
  std::string getString(std::string_view key, std::string_view fallback) override;
  std::string getChoice(std::string_view key, const std::vector<std::string>& choices,
                        std::string_view fallback) override;
  std::int64_t getInteger(std::string_view key, std::int64_t fallback, std::int64_t min, std::int64_t max) override;
  bool getBool(std::string_view key, bool fallback) override;
  std::string getPath(std::string_view key, std::string_view fallback) override;
  std::vector<std::string> getStrings(std::string_view key, const std::vector<std::string>& fallback) override;
  void fail(std::string_view key, std::string_view message) override;
  bool failed() const override;
  Kind kind(std::string_view key) const override;
  std::vector<PluginConfig*> getObjects(std::string_view key) override;
  std::string getJson(std::string_view key) override;
  void watchFile(std::string_view path) override;

  void markRead(std::string_view key) { read_.emplace(key); }
  // Chain-wide settings (the top-level `on_unreadable`): a string key the
  // block does not set reads as this value instead of the plugin's fallback.
  void setChainDefault(std::string key, std::string value) { chainDefaults_[std::move(key)] = std::move(value); }
  // Records an error for the first key nobody read, here or in a child.
  void rejectUnread();
  // The first error here or in a child config.
  std::string firstError() const;
  // Files named by watchFile, here and in the children.
  std::vector<std::string> watchedFiles() const;

 private:
  Poco::JSON::Object::Ptr block_;
  std::string path_;
  std::string baseDir_;
  std::set<std::string> read_;
  std::string error_;
  std::vector<std::unique_ptr<JsonPluginConfig>> children_;
  std::vector<std::string> watched_;
  std::map<std::string, std::string, std::less<>> chainDefaults_;
};

}  // namespace sipwarden::pipeline
