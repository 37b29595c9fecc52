#pragma once
// For tests of config readers: a JSON object from text, and the error a
// reading throws ("no error" when it throws none).
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <string>

#include "config/reader.h"

namespace sipwarden::config::testing {

inline Poco::JSON::Object::Ptr jsonObject(const std::string& json) {
  return Poco::JSON::Parser().parse(json).extract<Poco::JSON::Object::Ptr>();
}

template <typename Read>
std::string thrownError(Read&& read) {
  try { read(); } catch (const ConfigError& error) { return error.what(); }
  return "no error";
}

}  // namespace sipwarden::config::testing
