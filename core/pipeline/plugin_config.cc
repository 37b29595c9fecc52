#include "pipeline/plugin_config.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Stringifier.h>

#include <filesystem>
#include <sstream>

namespace sipwarden::pipeline {

JsonPluginConfig::JsonPluginConfig(Poco::JSON::Object::Ptr block, std::string path, std::string baseDir)
    : block_(std::move(block)), path_(std::move(path)), baseDir_(std::move(baseDir)) {}

std::string JsonPluginConfig::getPath(std::string_view key, std::string_view fallback) {
  std::string path = getString(key, fallback);
  if (path.empty() || baseDir_.empty() || path.front() == '/') return path;
  return (std::filesystem::path(baseDir_) / path).lexically_normal().string();
}

bool JsonPluginConfig::has(std::string_view key) const { return block_->has(std::string(key)); }

void JsonPluginConfig::fail(std::string_view key, std::string_view message) {
  if (error_.empty()) error_ = path_ + "." + std::string(key) + ": " + std::string(message);
}

std::string JsonPluginConfig::getString(std::string_view key, std::string_view fallback) {
  markRead(key);
  if (!has(key)) {
    const auto chainDefault = chainDefaults_.find(key);
    return chainDefault != chainDefaults_.end() ? chainDefault->second : std::string(fallback);
  }
  const auto value = block_->get(std::string(key));
  if (!value.isString()) {
    fail(key, "expected a string");
    return std::string(fallback);
  }
  return value.extract<std::string>();
}

std::string JsonPluginConfig::getChoice(std::string_view key, const std::vector<std::string>& choices,
                                        std::string_view fallback) {
  const std::string value = getString(key, fallback);
  for (const auto& choice : choices) {
    if (choice == value) return value;
  }
  std::string list;
  for (const auto& choice : choices) list += (list.empty() ? "" : "|") + choice;
  fail(key, "expected " + list);
  return std::string(fallback);
}

std::int64_t JsonPluginConfig::getInteger(std::string_view key, std::int64_t fallback, std::int64_t min,
                                          std::int64_t max) {
  markRead(key);
  if (!has(key)) return fallback;
  const auto value = block_->get(std::string(key));
  if (!value.isInteger()) {
    fail(key, "expected an integer");
    return fallback;
  }
  const auto number = value.convert<std::int64_t>();
  if (number < min || number > max) {
    fail(key, "expected an integer from " + std::to_string(min) + " to " + std::to_string(max));
    return fallback;
  }
  return number;
}

bool JsonPluginConfig::getBool(std::string_view key, bool fallback) {
  markRead(key);
  if (!has(key)) return fallback;
  const auto value = block_->get(std::string(key));
  if (!value.isBoolean()) {
    fail(key, "expected true or false");
    return fallback;
  }
  return value.extract<bool>();
}

std::vector<std::string> JsonPluginConfig::getStrings(std::string_view key, const std::vector<std::string>& fallback) {
  markRead(key);
  if (!has(key)) return fallback;
  const auto value = block_->get(std::string(key));
  if (value.isString()) return {value.extract<std::string>()};
  Poco::JSON::Array::Ptr array = block_->getArray(std::string(key));
  if (!array) {
    fail(key, "expected a list of strings");
    return fallback;
  }
  std::vector<std::string> out;
  for (unsigned i = 0; i < array->size(); ++i) {
    if (!array->get(i).isString()) {
      fail(std::string(key) + "[" + std::to_string(i) + "]", "expected a string");
      return fallback;
    }
    out.push_back(array->getElement<std::string>(i));
  }
  return out;
}

bool JsonPluginConfig::failed() const { return !firstError().empty(); }

std::string JsonPluginConfig::firstError() const {
  if (!error_.empty()) return error_;
  for (const auto& child : children_) {
    std::string error = child->firstError();
    if (!error.empty()) return error;
  }
  return {};
}

PluginConfig::Kind JsonPluginConfig::kind(std::string_view key) const {
  if (!has(key)) return Kind::Missing;
  const auto value = block_->get(std::string(key));
  if (value.isEmpty()) return Kind::Null;
  if (value.isBoolean()) return Kind::Bool;
  if (value.isInteger()) return Kind::Integer;
  if (value.isNumeric()) return Kind::Number;
  if (value.isString()) return Kind::String;
  if (block_->isArray(std::string(key))) return Kind::List;
  if (block_->isObject(std::string(key))) return Kind::Object;
  return Kind::Null;
}

std::vector<PluginConfig*> JsonPluginConfig::getObjects(std::string_view key) {
  markRead(key);
  std::vector<PluginConfig*> out;
  const std::string name(key);
  if (!has(key)) return out;
  if (Poco::JSON::Object::Ptr single = block_->getObject(name)) {
    children_.push_back(std::make_unique<JsonPluginConfig>(single, path_ + "." + name, baseDir_));
    out.push_back(children_.back().get());
    return out;
  }
  Poco::JSON::Array::Ptr array = block_->getArray(name);
  if (!array) {
    fail(key, "expected a list of objects");
    return out;
  }
  for (unsigned i = 0; i < array->size(); ++i) {
    Poco::JSON::Object::Ptr element = array->getObject(i);
    if (!element) {
      fail(name + "[" + std::to_string(i) + "]", "expected an object");
      return {};
    }
    children_.push_back(
        std::make_unique<JsonPluginConfig>(element, path_ + "." + name + "[" + std::to_string(i) + "]", baseDir_));
    out.push_back(children_.back().get());
  }
  return out;
}

std::string JsonPluginConfig::getJson(std::string_view key) {
  markRead(key);
  if (!has(key)) return {};
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(block_->get(std::string(key)), out);
  return out.str();
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

void JsonPluginConfig::rejectUnread() {
  for (const auto& [key, value] : *block_) {
    if (!read_.count(key)) {
      fail(key, "unknown key");
      return;
    }
  }
  for (const auto& child : children_) child->rejectUnread();
}

}  // namespace sipwarden::pipeline
