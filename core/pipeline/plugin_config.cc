#include "pipeline/plugin_config.h"

#include <Poco/JSON/Array.h>

namespace sipwarden::pipeline {

JsonPluginConfig::JsonPluginConfig(Poco::JSON::Object::Ptr block, std::string path)
    : block_(std::move(block)), path_(std::move(path)) {}

bool JsonPluginConfig::has(std::string_view key) const { return block_->has(std::string(key)); }

void JsonPluginConfig::fail(std::string_view key, std::string_view message) {
  if (error_.empty()) error_ = path_ + "." + std::string(key) + ": " + std::string(message);
}

std::string JsonPluginConfig::getString(std::string_view key, std::string_view fallback) {
  markRead(key);
  if (!has(key)) return std::string(fallback);
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

void JsonPluginConfig::rejectUnread() {
  for (const auto& [key, value] : *block_) {
    if (!read_.count(key)) {
      fail(key, "unknown key");
      return;
    }
  }
}

}  // namespace sipwarden::pipeline
