#include "pipeline/plugin_config.h"

#include <filesystem>

namespace sipwarden::pipeline {

JsonPluginConfig::JsonPluginConfig(Poco::JSON::Object::Ptr block, std::string path, std::string baseDir)
    : ownReader_(std::make_unique<config::Reader>(std::move(block), std::move(path), config::OnError::Record)),
      reader_(ownReader_.get()),
      baseDir_(std::move(baseDir)) {}

JsonPluginConfig::JsonPluginConfig(config::Reader& reader, std::string baseDir)
    : reader_(&reader), baseDir_(std::move(baseDir)) {}

std::string JsonPluginConfig::getPath(std::string_view key, std::string_view fallback) {
  std::string path = getString(key, fallback);
  if (path.empty() || baseDir_.empty() || path.front() == '/') return path;
  return (std::filesystem::path(baseDir_) / path).lexically_normal().string();
}

std::vector<PluginConfig*> JsonPluginConfig::getObjects(std::string_view key) {
  std::vector<PluginConfig*> out;
  for (config::Reader* child : reader_->getObjects(key)) {
    children_.push_back(std::unique_ptr<JsonPluginConfig>(new JsonPluginConfig(*child, baseDir_)));
    out.push_back(children_.back().get());
  }
  return out;
}

void JsonPluginConfig::watchFile(std::string_view path) { watched_.emplace_back(path); }

std::vector<std::string> JsonPluginConfig::watchedFiles() const {
  std::vector<std::string> out = watched_;
  for (const auto& child : children_) {
    auto more = child->watchedFiles();
    out.insert(out.end(), more.begin(), more.end());
  }
  return out;
}

}  // namespace sipwarden::pipeline
