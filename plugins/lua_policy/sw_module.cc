#include "lua_policy/sw_module.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Logger.h>

#include <lua.hpp>

#include <chrono>
#include <cmath>
#include <vector>

#include "lua_policy/script.h"
#include "lua_policy/uri.h"

namespace sipwarden::plugins::lua_policy {
namespace {

std::string_view checkView(lua_State* state, int index) {
  std::size_t size = 0;
  const char* text = luaL_checklstring(state, index, &size);
  return {text, size};
}

void pushView(lua_State* state, std::string_view text) { lua_pushlstring(state, text.data(), text.size()); }

// What sw.re costs (Sandbox::charge units, ~3.5 ns each; docs/lua-api.md
// "Library calls and their cost"). RE2 runs in time linear in the subject,
// measured at 0.4-6 ns a byte for a search and ~300 ns more per
// replacement; compiling runs about 8 units a pattern byte (the cache
// makes repeats cheaper, but a pattern built from message text is new).
constexpr std::int64_t kSubjectBytesPerUnit = 2;
constexpr std::int64_t kUnitsPerPatternByte = 8;
constexpr std::int64_t kUnitsPerReplacement = 100;
constexpr std::int64_t kProgramStepsPerUnit = 16;  // subject byte x program instruction
constexpr std::int64_t kResultBytesPerUnit = 16;

// Pays for searching `subject` (arg 1) with the pattern (arg 2) before the
// search runs. RE2's DFA is linear in the subject, but when its memory runs
// out (kMemoryPerPattern) RE2 falls back to simulating the program over the
// text, subject x program size steps: a pattern of a few hundred
// instructions on 60 KB took 0.4 s in one call. That bound is what is paid,
// so a call that could run long is refused before it starts.
void chargeSearch(lua_State* state, const RE2& pattern) {
  const auto subjectBytes = static_cast<std::int64_t>(lua_rawlen(state, 1));
  const auto patternBytes = static_cast<std::int64_t>(lua_rawlen(state, 2));
  const auto programSize = static_cast<std::int64_t>(pattern.ProgramSize());
  Sandbox::charge(state, subjectBytes / kSubjectBytesPerUnit + patternBytes * kUnitsPerPatternByte +
                             subjectBytes * programSize / kProgramStepsPerUnit);
}

const RE2& checkPattern(lua_State* state, int index) {
  const std::string_view pattern = checkView(state, index);
  std::string error;
  const RE2* compiled = Script::of(state).patterns().get(pattern, error);
  if (compiled == nullptr) luaL_argerror(state, index, ("bad pattern: " + error).c_str());
  return *compiled;
}

// The match (1 + groups) of `pattern` in `subject` from `start`, or false.
bool search(const RE2& pattern, std::string_view subject, std::size_t start, std::vector<re2::StringPiece>& groups) {
  groups.assign(static_cast<std::size_t>(pattern.NumberOfCapturingGroups()) + 1, {});
  return pattern.Match(subject, start, subject.size(), RE2::UNANCHORED, groups.data(), static_cast<int>(groups.size()));
}

int pushCaptures(lua_State* state, const std::vector<re2::StringPiece>& groups) {
  if (groups.size() == 1) {
    pushView(state, std::string_view(groups[0].data(), groups[0].size()));
    return 1;
  }
  for (std::size_t i = 1; i < groups.size(); ++i) {
    groups[i].data() != nullptr ? pushView(state, std::string_view(groups[i].data(), groups[i].size())) : lua_pushnil(state);
  }
  return static_cast<int>(groups.size() - 1);
}

// sw.re.match(subject, pattern): the captures (or the whole match) of the
// first match anywhere, like string.match; nil when none.
int reMatch(lua_State* state) {
  const std::string_view subject = checkView(state, 1);
  const RE2& pattern = checkPattern(state, 2);
  chargeSearch(state, pattern);
  std::vector<re2::StringPiece> groups;
  if (!search(pattern, subject, 0, groups)) {
    lua_pushnil(state);
    return 1;
  }
  return pushCaptures(state, groups);
}

// sw.re.find(subject, pattern[, init]): start and end (1-based, inclusive)
// of the first match, then its captures, like string.find; nil when none.
int reFind(lua_State* state) {
  const std::string_view subject = checkView(state, 1);
  const RE2& pattern = checkPattern(state, 2);
  const lua_Integer init = luaL_optinteger(state, 3, 1);
  luaL_argcheck(state, init >= 1, 3, "positions start at 1");
  chargeSearch(state, pattern);
  std::vector<re2::StringPiece> groups;
  const auto start = static_cast<std::size_t>(init - 1);
  if (start > subject.size() || !search(pattern, subject, start, groups)) {
    lua_pushnil(state);
    return 1;
  }
  const auto first = static_cast<lua_Integer>(groups[0].data() - subject.data()) + 1;
  lua_pushinteger(state, first);
  lua_pushinteger(state, first + static_cast<lua_Integer>(groups[0].size()) - 1);
  return groups.size() == 1 ? 2 : 2 + pushCaptures(state, groups);
}

// How many bytes RE2's GlobalReplace steps over after an empty match that
// it may not repeat: a whole UTF-8 character when one starts at `at`
// (complete, shortest form, at most U+10FFFF), else one byte.
std::size_t characterLength(const char* at, const char* end) {
  const auto lead = static_cast<unsigned char>(*at);
  std::size_t length = 1;
  char32_t smallest = 0;
  if (lead >= 0xC0 && lead <= 0xDF) {
    length = 2;
    smallest = 0x80;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    smallest = 0x800;
  } else if (lead >= 0xF0 && lead <= 0xF7) {
    length = 4;
    smallest = 0x10000;
  }
  if (length == 1 || static_cast<std::size_t>(end - at) < length) return 1;
  char32_t character = lead & (0x7F >> length);
  for (std::size_t i = 1; i < length; ++i) {
    const auto next = static_cast<unsigned char>(at[i]);
    if ((next & 0xC0) != 0x80) return 1;
    character = (character << 6) | (next & 0x3F);
  }
  return character >= smallest && character <= 0x10FFFF ? length : 1;
}

// RE2::GlobalReplace, the same loop with the same rules (no empty match
// right where the previous match ended), but paying for each replacement
// as it is made: their number, up to one per byte, is what makes a gsub
// long. Returns the count; `subject` is replaced only when it is not 0.
int replaceAll(lua_State* state, std::string& subject, const RE2& pattern, std::string_view rewrite) {
  const int groups = 1 + RE2::MaxSubmatch(rewrite);
  std::vector<re2::StringPiece> match(static_cast<std::size_t>(groups));
  std::string out;
  const char* at = subject.data();
  const char* end = at + subject.size();
  const char* lastEnd = nullptr;
  int count = 0;
  while (at <= end) {
    if (!pattern.Match(subject, static_cast<std::size_t>(at - subject.data()), subject.size(), RE2::UNANCHORED,
                       match.data(), groups)) {
      break;
    }
    Sandbox::charge(state, kUnitsPerReplacement + (match[0].data() - at) / kResultBytesPerUnit);
    if (at < match[0].data()) out.append(at, static_cast<std::size_t>(match[0].data() - at));
    if (match[0].data() == lastEnd && match[0].empty()) {
      const std::size_t step = at < end ? characterLength(at, end) : 1;
      if (at < end) out.append(at, step);
      at += step;
      continue;
    }
    pattern.Rewrite(&out, rewrite, match.data(), groups);
    at = match[0].data() + match[0].size();
    lastEnd = at;
    ++count;
  }
  if (count == 0) return 0;
  if (at < end) out.append(at, static_cast<std::size_t>(end - at));
  Sandbox::charge(state, static_cast<std::int64_t>(out.size()) / kResultBytesPerUnit);
  subject.swap(out);
  return count;
}

// sw.re.gsub(subject, pattern, replacement): every match replaced
// (\0 is the match, \1..\9 the groups); returns the text and the count.
int reGsub(lua_State* state) {
  std::string subject(checkView(state, 1));
  const RE2& pattern = checkPattern(state, 2);
  const std::string_view replacement = checkView(state, 3);
  std::string error;
  if (!pattern.CheckRewriteString(replacement, &error)) luaL_argerror(state, 3, error.c_str());
  chargeSearch(state, pattern);
  const int count = replaceAll(state, subject, pattern, replacement);
  pushView(state, subject);
  lua_pushinteger(state, count);
  return 2;
}

int log(lua_State* state) {
  const std::string_view level = checkView(state, 1);
  LogLevel parsed = LogLevel::Info;
  if (level == "debug") {
    parsed = LogLevel::Debug;
  } else if (level == "warning" || level == "warn") {
    parsed = LogLevel::Warning;
  } else if (level == "error") {
    parsed = LogLevel::Error;
  } else if (level != "info") {
    luaL_argerror(state, 1, "debug, info, warning or error");
  }
  Script& script = Script::of(state);
  std::uint64_t suppressed = 0;
  if (!script.logAllowance().take(LogAllowance::Clock::now(), suppressed)) return 0;
  std::string text = script.settings().name + ":";
  if (suppressed > 0) text += " (" + std::to_string(suppressed) + " earlier lines suppressed: sw.log rate limit)";
  for (int i = 2, top = lua_gettop(state); i <= top && text.size() < kLogLineBytes; ++i) {
    std::size_t size = 0;
    const char* piece = luaL_tolstring(state, i, &size);
    text += " ";
    text.append(piece, std::min(size, kLogLineBytes));
    lua_pop(state, 1);
  }
  if (text.size() > kLogLineBytes) {
    text.resize(kLogLineBytes);
    text += "... (cut at 4 KiB)";
  }
  CallContext& call = Script::of(state).call();
  if (call.exchange != nullptr) {
    call.exchange->log(parsed, text);
    return 0;
  }
  Poco::Logger& logger = Poco::Logger::get("lua_policy");  // at load time: no exchange yet
  switch (parsed) {
    case LogLevel::Debug: logger.debug(text); break;
    case LogLevel::Info: logger.information(text); break;
    case LogLevel::Warning: logger.warning(text); break;
    case LogLevel::Error: logger.error(text); break;
  }
  return 0;
}

int now(lua_State* state) {
  CallContext& call = Script::of(state).call();
  const auto time = call.exchange != nullptr ? call.exchange->now() : std::chrono::system_clock::now();
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
  lua_pushnumber(state, static_cast<lua_Number>(millis) / 1000.0);
  return 1;
}

int groupMember(lua_State* state) {
  const std::string_view address = checkView(state, 1);
  const std::string group(checkView(state, 2));
  const auto& groups = Script::of(state).settings().groups;
  if (!groups || !groups->known(group)) {
    return luaL_error(state, "sw.groups.member: no group named '%s' in the plugin's groups", group.c_str());
  }
  lua_pushboolean(state, groups->member(address, group));
  return 1;
}

std::chrono::milliseconds optionalTtl(lua_State* state, int index) {
  const lua_Number seconds = luaL_optnumber(state, index, 0);
  luaL_argcheck(state, seconds >= 0 && seconds < 1e9, index, "a time to live in seconds");
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(seconds * 1000)));
}

SharedStore& shared(lua_State* state) { return *Script::of(state).settings().shared; }

int sharedGet(lua_State* state) {
  const auto value = shared(state).get(std::string(checkView(state, 1)));
  if (!value) {
    lua_pushnil(state);
  } else if (const double* number = std::get_if<double>(&*value)) {
    lua_pushnumber(state, *number);
  } else {
    pushView(state, std::get<std::string>(*value));
  }
  return 1;
}

int sharedSet(lua_State* state) {
  const std::string key(checkView(state, 1));
  SharedStore::Value value;
  if (lua_type(state, 2) == LUA_TNUMBER) {
    value = lua_tonumber(state, 2);
  } else {
    value = std::string(checkView(state, 2));
  }
  const auto& caps = shared(state).caps();
  switch (shared(state).set(key, std::move(value), optionalTtl(state, 3))) {
    case SharedStore::Refusal::None: return 0;
    case SharedStore::Refusal::KeyTooLong:
      return luaL_error(state, "sw.shared.set: a key longer than %d bytes", static_cast<int>(caps.keyBytes));
    case SharedStore::Refusal::ValueTooLong:
      return luaL_error(state, "sw.shared.set: a value longer than %d KiB", static_cast<int>(caps.valueBytes / 1024));
    case SharedStore::Refusal::Full: break;
  }
  return luaL_error(state, "sw.shared is full (%d keys, %d MiB at most)", static_cast<int>(caps.keys),
                    static_cast<int>(caps.totalBytes / (1024 * 1024)));
}

int sharedIncrement(lua_State* state) {
  const std::string key(checkView(state, 1));
  const lua_Number delta = luaL_optnumber(state, 2, 1);
  const auto value = shared(state).increment(key, delta, optionalTtl(state, 3));
  if (!value) return luaL_error(state, "sw.shared.incr: '%s' holds a string or is too long, or the store is full",
                                 key.substr(0, 64).c_str());
  lua_pushnumber(state, *value);
  return 1;
}

int sharedDelete(lua_State* state) {
  shared(state).erase(std::string(checkView(state, 1)));
  return 0;
}

int uriParse(lua_State* state) {
  const auto uri = parseUri(checkView(state, 1));
  if (!uri) {
    lua_pushnil(state);
    return 1;
  }
  lua_createtable(state, 0, 7);
  pushView(state, uri->scheme);
  lua_setfield(state, -2, "scheme");
  pushView(state, uri->user);
  lua_setfield(state, -2, "user");
  pushView(state, uri->host);
  lua_setfield(state, -2, "host");
  if (uri->port != 0) {
    lua_pushinteger(state, uri->port);
    lua_setfield(state, -2, "port");
  }
  pushView(state, uri->display);
  lua_setfield(state, -2, "display");
  pushView(state, uri->aor());
  lua_setfield(state, -2, "aor");
  lua_createtable(state, 0, static_cast<int>(uri->params.size()));
  for (const auto& [name, value] : uri->params) {
    pushView(state, value);
    lua_setfield(state, -2, name.c_str());
  }
  lua_setfield(state, -2, "params");
  return 1;
}

void setFunctions(lua_State* state, const char* name, const luaL_Reg* functions) {
  lua_newtable(state);
  luaL_setfuncs(state, functions, 0);
  lua_setfield(state, -2, name);
}

void pushPocoValue(lua_State* state, const Poco::Dynamic::Var& value, int depth) {
  if (depth > 32) luaL_error(state, "settings nested deeper than 32 levels");
  if (value.isEmpty()) {
    lua_pushnil(state);
  } else if (value.type() == typeid(Poco::JSON::Object::Ptr)) {
    const auto object = value.extract<Poco::JSON::Object::Ptr>();
    lua_createtable(state, 0, static_cast<int>(object->size()));
    for (const auto& [key, member] : *object) {
      pushPocoValue(state, member, depth + 1);
      lua_setfield(state, -2, key.c_str());
    }
  } else if (value.type() == typeid(Poco::JSON::Array::Ptr)) {
    const auto array = value.extract<Poco::JSON::Array::Ptr>();
    lua_createtable(state, static_cast<int>(array->size()), 0);
    for (unsigned i = 0; i < array->size(); ++i) {
      pushPocoValue(state, array->get(i), depth + 1);
      lua_rawseti(state, -2, i + 1);
    }
  } else if (value.isBoolean()) {
    lua_pushboolean(state, value.extract<bool>());
  } else if (value.isInteger()) {
    lua_pushinteger(state, value.convert<lua_Integer>());
  } else if (value.isNumeric()) {
    lua_pushnumber(state, value.convert<double>());
  } else {
    const std::string text = value.convert<std::string>();
    pushView(state, text);
  }
}

// Runs inside lua_pcall, so running out of the state's memory is an error,
// not a panic.
int pushSettings(lua_State* state) {
  pushPocoValue(state, *static_cast<const Poco::Dynamic::Var*>(lua_touserdata(state, 1)), 0);
  return 1;
}

}  // namespace

const RE2* PatternCache::get(std::string_view pattern, std::string& error) {
  auto found = patterns_.find(std::string(pattern));
  if (found != patterns_.end()) return found->second.get();
  if (pattern.size() > kPatternBytes) {
    error = "a pattern longer than " + std::to_string(kPatternBytes) + " bytes";
    return nullptr;
  }
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(kMemoryPerPattern);
  auto compiled = std::make_unique<RE2>(pattern, options);
  if (!compiled->ok()) {
    error = compiled->error();
    return nullptr;
  }
  if (patterns_.size() >= kCapacity) patterns_.clear();
  return patterns_.emplace(std::string(pattern), std::move(compiled)).first->second.get();
}

void registerSwModule(lua_State* state) {
  static const luaL_Reg top[] = {{"log", log}, {"now", now}, {nullptr, nullptr}};
  static const luaL_Reg re[] = {{"match", reMatch}, {"find", reFind}, {"gsub", reGsub}, {nullptr, nullptr}};
  static const luaL_Reg groups[] = {{"member", groupMember}, {nullptr, nullptr}};
  static const luaL_Reg sharedFunctions[] = {
      {"get", sharedGet}, {"set", sharedSet}, {"incr", sharedIncrement}, {"delete", sharedDelete}, {nullptr, nullptr}};
  static const luaL_Reg uri[] = {{"parse", uriParse}, {nullptr, nullptr}};
  luaL_newlib(state, top);
  setFunctions(state, "re", re);
  setFunctions(state, "groups", groups);
  setFunctions(state, "shared", sharedFunctions);
  setFunctions(state, "uri", uri);
  lua_newtable(state);
  lua_setfield(state, -2, "state");
  lua_setglobal(state, "sw");
}

bool pushJsonAsLua(lua_State* state, std::string_view json, std::string& error) {
  if (json.empty()) {
    lua_newtable(state);
    return true;
  }
  Poco::Dynamic::Var value;
  try {
    value = Poco::JSON::Parser().parse(std::string(json));
  } catch (const Poco::Exception& failure) {
    error = failure.displayText();
    return false;
  }
  lua_pushcfunction(state, pushSettings);
  lua_pushlightuserdata(state, &value);
  if (lua_pcall(state, 1, 1, 0) != LUA_OK) {
    error = std::string("settings: ") + lua_tostring(state, -1);
    lua_pop(state, 1);
    return false;
  }
  return true;
}

}  // namespace sipwarden::plugins::lua_policy
