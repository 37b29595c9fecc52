#pragma once
// A plugin's config block as the SDK's PluginConfig, over the config reader
// (config/reader.h) in its recording mode: getters record the first error
// with its full key path and which keys were read, so unread (unknown)
// keys can be refused; nothing throws into the plugin.

#include <memory>
#include <string>
#include <vector>

#include <Poco/JSON/Object.h>

#include "config/reader.h"
#include "sipwarden/plugin.h"

namespace sipwarden::pipeline {

class JsonPluginConfig final : public PluginConfig {
 public:
  // Called by the loader for each plugin block. `baseDir`: where relative
  // paths are resolved ("" for the working directory).
  JsonPluginConfig(Poco::JSON::Object::Ptr block, std::string path, std::string baseDir = "");

  std::string path() const override { return reader_->path(); }
  bool has(std::string_view key) const override { return reader_->has(key); }
  std::string getString(std::string_view key, std::string_view fallback) override {
    return reader_->getString(key, fallback);
  }
  std::string getChoice(std::string_view key, const std::vector<std::string>& choices,
                        std::string_view fallback) override {
    return reader_->getChoice(key, choices, fallback);
  }
  std::int64_t getInteger(std::string_view key, std::int64_t fallback, std::int64_t min, std::int64_t max) override {
    return reader_->getInteger(key, fallback, min, max);
  }
  bool getBool(std::string_view key, bool fallback) override { return reader_->getBool(key, fallback); }
  std::string getPath(std::string_view key, std::string_view fallback) override;
  std::vector<std::string> getStrings(std::string_view key, const std::vector<std::string>& fallback) override {
    return reader_->getStrings(key, fallback);
  }
  void fail(std::string_view key, std::string_view message) override { reader_->fail(key, message); }
  bool failed() const override { return reader_->failed(); }
  Kind kind(std::string_view key) const override { return reader_->kind(key); }
  std::vector<PluginConfig*> getObjects(std::string_view key) override;
  std::string getJson(std::string_view key) override { return reader_->getJson(key); }
  void watchFile(std::string_view path) override;

  void markRead(std::string_view key) { reader_->markRead(key); }
  // Chain-wide settings (the top-level `on_unreadable`): a string key the
  // block does not set reads as this value instead of the plugin's fallback.
  void setChainDefault(std::string key, std::string value) { reader_->setDefault(std::move(key), std::move(value)); }
  // Records an error for the first key nobody read, here or in a child.
  void rejectUnread() { reader_->refuseUnread(); }
  // The first error here or in a child config.
  std::string firstError() const { return reader_->firstError(); }
  // Files named by watchFile, here and in the children.
  std::vector<std::string> watchedFiles() const;

 private:
  // A child block (getObjects): its reader belongs to the parent's reader.
  JsonPluginConfig(config::Reader& reader, std::string baseDir);

  std::unique_ptr<config::Reader> ownReader_;  // the block's own; null in a child
  config::Reader* reader_;
  std::string baseDir_;
  std::vector<std::unique_ptr<JsonPluginConfig>> children_;
  std::vector<std::string> watched_;
};

}  // namespace sipwarden::pipeline
