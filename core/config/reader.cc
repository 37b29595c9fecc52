#include "config/reader.h"

#include <Poco/JSON/Stringifier.h>

#include <cmath>
#include <sstream>

namespace sipwarden::config {
namespace {

std::string indexed(std::string_view key, unsigned index) {
  return std::string(key) + "[" + std::to_string(index) + "]";
}

// Bounds as an operator writes them: 3600, not 3600.000000.
std::string numberText(double number) {
  if (std::floor(number) == number) return std::to_string(static_cast<long long>(number));
  std::ostringstream out;
  out << number;
  return out.str();
}

}  // namespace

Reader::Reader(Poco::JSON::Object::Ptr object, std::string path, OnError onError)
    : object_(std::move(object)), path_(std::move(path)), onError_(onError) {}

std::string Reader::pathOf(std::string_view key) const {
  if (key.empty()) return path_;
  if (path_.empty()) return std::string(key);
  return path_ + "." + std::string(key);
}

bool Reader::has(std::string_view key) const { return object_->has(std::string(key)); }

void Reader::fail(std::string_view key, std::string_view message) {
  const std::string error = pathOf(key) + ": " + std::string(message);
  if (onError_ == OnError::Throw) throw ConfigError(error);
  if (error_.empty()) error_ = error;
}

std::string Reader::firstError() const {
  if (!error_.empty()) return error_;
  for (const auto& child : children_) {
    std::string error = child->firstError();
    if (!error.empty()) return error;
  }
  return {};
}

Reader::Kind Reader::kind(std::string_view key) const {
  if (!has(key)) return Kind::Missing;
  const std::string name(key);
  const auto value = object_->get(name);
  if (value.isEmpty()) return Kind::Null;
  if (value.isBoolean()) return Kind::Bool;
  if (value.isInteger()) return Kind::Integer;
  if (value.isNumeric()) return Kind::Number;
  if (value.isString()) return Kind::String;
  if (object_->isArray(name)) return Kind::List;
  if (object_->isObject(name)) return Kind::Object;
  return Kind::Null;
}

std::optional<Poco::Dynamic::Var> Reader::take(std::string_view key) {
  markRead(key);
  if (!has(key)) return std::nullopt;
  return object_->get(std::string(key));
}

std::string Reader::getString(std::string_view key, std::string_view fallback) {
  const auto value = take(key);
  if (!value) {
    const auto preset = defaults_.find(key);
    return preset != defaults_.end() ? preset->second : std::string(fallback);
  }
  if (value->isString()) return value->extract<std::string>();
  fail(key, "expected a string");
  return std::string(fallback);
}

std::string Reader::requireString(std::string_view key) {
  if (!has(key)) fail(key, "expected a string");
  return getString(key, "");
}

std::string Reader::getChoice(std::string_view key, const std::vector<std::string>& choices,
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

std::int64_t Reader::getInteger(std::string_view key, std::int64_t fallback, std::int64_t min, std::int64_t max) {
  const auto value = take(key);
  if (!value) return fallback;
  if (!value->isInteger()) {
    fail(key, "expected an integer");
    return fallback;
  }
  const auto number = value->convert<std::int64_t>();
  if (number >= min && number <= max) return number;
  fail(key, "expected an integer from " + std::to_string(min) + " to " + std::to_string(max));
  return fallback;
}

double Reader::getNumber(std::string_view key, double fallback, double min, double max) {
  const auto value = take(key);
  if (!value) return fallback;
  if (!value->isNumeric()) {
    fail(key, "expected a number");
    return fallback;
  }
  const double number = value->convert<double>();
  if (number >= min && number <= max) return number;
  fail(key, "expected a number from " + numberText(min) + " to " + numberText(max));
  return fallback;
}

bool Reader::getBool(std::string_view key, bool fallback) {
  const auto value = take(key);
  if (!value) return fallback;
  if (value->isBoolean()) return value->extract<bool>();
  fail(key, "expected true or false");
  return fallback;
}

std::vector<std::string> Reader::getStrings(std::string_view key, const std::vector<std::string>& fallback) {
  const auto value = take(key);
  if (!value) return fallback;
  if (value->isString()) return {value->extract<std::string>()};
  Poco::JSON::Array::Ptr array = object_->getArray(std::string(key));
  if (!array) {
    fail(key, "expected a list of strings");
    return fallback;
  }
  std::vector<std::string> out;
  for (unsigned i = 0; i < array->size(); ++i) {
    if (!array->get(i).isString()) {
      fail(indexed(key, i), "expected a string");
      return fallback;
    }
    out.push_back(array->getElement<std::string>(i));
  }
  return out;
}

std::string Reader::getJson(std::string_view key) {
  const auto value = take(key);
  if (!value) return {};
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(*value, out);
  return out.str();
}

Reader& Reader::adopt(Poco::JSON::Object::Ptr object, std::string path) {
  children_.push_back(std::make_unique<Reader>(std::move(object), std::move(path), onError_));
  return *children_.back();
}

Reader* Reader::getObject(std::string_view key, std::string_view notAnObject) {
  markRead(key);
  if (!has(key)) return nullptr;
  Poco::JSON::Object::Ptr object = object_->getObject(std::string(key));
  if (!object) {
    fail(key, notAnObject);
    return nullptr;
  }
  return &adopt(object, pathOf(key));
}

Poco::JSON::Array::Ptr Reader::getArray(std::string_view key, std::string_view notAList) {
  markRead(key);
  if (!has(key)) return nullptr;
  Poco::JSON::Array::Ptr array = object_->getArray(std::string(key));
  if (!array) fail(key, notAList);
  return array;
}

std::vector<Reader*> Reader::getObjects(std::string_view key, std::string_view notAList,
                                        std::string_view notAnObject) {
  markRead(key);
  std::vector<Reader*> out;
  if (!has(key)) return out;
  const std::string name(key);
  if (Poco::JSON::Object::Ptr single = object_->getObject(name)) {
    out.push_back(&adopt(single, pathOf(key)));
    return out;
  }
  Poco::JSON::Array::Ptr array = object_->getArray(name);
  if (!array) {
    fail(key, notAList);
    return out;
  }
  for (unsigned i = 0; i < array->size(); ++i) {
    Poco::JSON::Object::Ptr element = array->getObject(i);
    if (!element) {
      fail(indexed(key, i), notAnObject);
      return {};
    }
    out.push_back(&adopt(element, pathOf(indexed(key, i))));
  }
  return out;
}

void Reader::refuseUnknown(const std::set<std::string>& known) {
  for (const auto& [key, value] : *object_) {
    if (!known.count(key)) {
      std::string list;
      for (const auto& name : known) list += (list.empty() ? "" : ", ") + name;
      fail(key, "unknown key (expected one of: " + list + ")");
      return;
    }
  }
}

void Reader::refuseUnread() {
  for (const auto& [key, value] : *object_) {
    if (!read_.count(key)) {
      fail(key, "unknown key");
      return;
    }
  }
  for (const auto& child : children_) child->refuseUnread();
}

}  // namespace sipwarden::config
