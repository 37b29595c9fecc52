#include "lua_policy/bounded_libs.h"

#include <lua.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "lua_policy/patterns.h"
#include "lua_policy/sandbox.h"

namespace sipwarden::plugins::lua_policy {
namespace {

// Unit costs: one unit is about the time of one VM instruction, 3.5 ns on
// the development machine (a numeric for loop: 2e8 instructions in 0.69 s).
// Each figure below was measured the same way, on large inputs, and rounded
// towards the dearer side; docs/lua-api.md lists them per function.
constexpr std::int64_t kBytesCopiedPerUnit = 16;   // memcpy-like work: sub, rep, concat's result, format's %s
constexpr std::int64_t kBytesConvertedPerUnit = 2;  // a loop over bytes: upper, lower, reverse, utf8.len (0.8-1.8 ns/byte)
constexpr std::int64_t kUnitsPerParsedByte = 1;     // tonumber of a string (3 ns/byte), format's %q (4.4 ns/byte)
constexpr std::int64_t kUnitsPerShiftedSlot = 4;    // table.insert / remove at a position (11 ns/slot)
constexpr std::int64_t kUnitsPerMovedSlot = 16;     // table.move: large or growing tables (60-240 ns/slot)
constexpr std::int64_t kUnitsPerComparison = 10;    // table.sort of numbers, per comparison (35 ns)
constexpr std::int64_t kUnitsPerStringComparison = 35;  // ... of strings: strcoll (120 ns)
constexpr std::int64_t kUnitsPerJoinedElement = 12;     // table.concat, per element (40 ns)
constexpr std::int64_t kUnitsPerValue = 8;          // a value returned (byte, unpack, select) or passed in (char, pack)
constexpr std::int64_t kUnitsPerCompiledByte = 8;   // load: parser and code generator (30 ns/byte)

constexpr std::int64_t kMaxPrice = std::numeric_limits<std::int64_t>::max() / 4;

std::int64_t saturate(double price) {
  if (!(price < static_cast<double>(kMaxPrice))) return kMaxPrice;
  return price > 0 ? static_cast<std::int64_t>(price) : 0;
}

// Argument probes that never raise: when an argument is invalid the price
// is that of the default, and Lua's own function raises its usual error.
lua_Integer integerOr(lua_State* state, int index, lua_Integer fallback) {
  int isInteger = 0;
  const lua_Integer value = lua_tointegerx(state, index, &isInteger);
  return isInteger != 0 ? value : fallback;
}

std::int64_t stringLength(lua_State* state, int index) {
  return lua_type(state, index) == LUA_TSTRING ? static_cast<std::int64_t>(lua_rawlen(state, index)) : 0;
}

// The length table functions will use: the raw length, or __len's answer
// when there is one (then __len runs twice: once here, once in the call).
lua_Integer tableLength(lua_State* state, int index) {
  if (luaL_getmetafield(state, index, "__len") != LUA_TNIL) {
    lua_pop(state, 1);
    return luaL_len(state, index);
  }
  return lua_type(state, index) == LUA_TTABLE ? static_cast<lua_Integer>(lua_rawlen(state, index)) : 0;
}

// How many elements the range [first, last] holds (0 when empty); a
// double, so that multiplying it by a unit cost cannot overflow before
// saturate() bounds the price.
double rangeCount(lua_Integer first, lua_Integer last) {
  if (last < first) return 0;
  return static_cast<double>(last) - static_cast<double>(first) + 1;
}

// The string library's start (posrelatI) and end (getendpos) positions.
lua_Integer startPosition(lua_Integer position, lua_Integer length) {
  if (position > 0) return position;
  if (position == 0 || position < -length) return 1;
  return length + position + 1;
}
lua_Integer endPosition(lua_Integer position, lua_Integer length) {
  if (position > length) return length;
  if (position >= 0) return position;
  if (position < -length) return 0;
  return length + position + 1;
}
// utf8's u_posrelat.
lua_Integer utf8Position(lua_Integer position, lua_Integer length) {
  if (position >= 0) return position;
  return position < -length ? 0 : length + position + 1;
}

// ---- prices: each reads the arguments of the function it prices -----------

std::int64_t priceStringByte(lua_State* state) {
  const lua_Integer length = stringLength(state, 1);
  const lua_Integer first = startPosition(integerOr(state, 2, 1), length);
  const lua_Integer last = endPosition(integerOr(state, 3, first), length);
  return saturate(rangeCount(first, last) * kUnitsPerValue);
}

std::int64_t priceStringSub(lua_State* state) {
  const lua_Integer length = stringLength(state, 1);
  const lua_Integer first = startPosition(integerOr(state, 2, 1), length);
  const lua_Integer last = endPosition(integerOr(state, 3, -1), length);
  return saturate(rangeCount(first, last) / kBytesCopiedPerUnit);
}

std::int64_t priceArguments(lua_State* state) { return static_cast<std::int64_t>(lua_gettop(state)) * kUnitsPerValue; }

std::int64_t priceConvertFirstString(lua_State* state) { return stringLength(state, 1) / kBytesConvertedPerUnit; }

// string.rep, as Lua 5.4 defines it, but filled by doubling (one copy of
// `s` and `sep`, then the filled part copied onto the rest) so that its
// work is the result's bytes whatever the count: string.rep("v", 1e6) is
// 1 MB of memcpy, not a million calls. Pays after the result's buffer is
// allocated (a result beyond the memory cap fails there, at no cost) and
// before it is filled.
int boundedRep(lua_State* state) {
  std::size_t size = 0;
  std::size_t separatorSize = 0;
  const char* text = luaL_checklstring(state, 1, &size);
  const lua_Integer count = luaL_checkinteger(state, 2);
  const char* separator = luaL_optlstring(state, 3, "", &separatorSize);
  if (count <= 0) {
    lua_pushliteral(state, "");
    return 1;
  }
  constexpr auto kMaxResult = static_cast<std::size_t>(std::numeric_limits<int>::max());  // Lua's MAXSIZE
  if (size + separatorSize < size || size + separatorSize > kMaxResult / static_cast<std::size_t>(count)) {
    return luaL_error(state, "resulting string too large");
  }
  const std::size_t total = static_cast<std::size_t>(count) * size + static_cast<std::size_t>(count - 1) * separatorSize;
  if (total == 0) {  // Lua's own would copy nothing `count` times
    lua_pushliteral(state, "");
    return 1;
  }
  luaL_Buffer buffer;
  char* out = luaL_buffinitsize(state, &buffer, total);
  Sandbox::charge(state, static_cast<std::int64_t>(total) / kBytesCopiedPerUnit + 1);
  // The result is the first `total` bytes of s sep s sep ...: it ends with s.
  std::memcpy(out, text, size);
  std::size_t filled = size;
  if (filled < total) {
    std::memcpy(out + filled, separator, separatorSize);
    filled += separatorSize;
  }
  while (filled < total) {
    const std::size_t copied = std::min(filled, total - filled);
    std::memcpy(out + filled, out, copied);
    filled += copied;
  }
  luaL_pushresultsize(&buffer, total);
  return 1;
}

// The format string is interpreted byte by byte; an argument for %q is
// escaped byte by byte, any other string argument copied once.
std::int64_t priceStringFormat(lua_State* state) {
  std::size_t size = 0;
  const char* format = lua_type(state, 1) == LUA_TSTRING ? lua_tolstring(state, 1, &size) : "";
  std::int64_t price = static_cast<std::int64_t>(size) / kBytesConvertedPerUnit + lua_gettop(state) * kUnitsPerValue;
  int argument = 1;
  for (std::size_t i = 0; i < size; ++i) {
    if (format[i] != '%') continue;
    if (++i < size && format[i] == '%') continue;
    while (i < size && std::strchr("-+ #0123456789.", format[i]) != nullptr) ++i;  // flags, width, precision
    ++argument;
    const std::int64_t bytes = stringLength(state, argument);
    price += i < size && format[i] == 'q' ? bytes * kUnitsPerParsedByte : bytes / kBytesCopiedPerUnit;
  }
  return price;
}

// string.pack / unpack / packsize: the format is interpreted option by
// option, and a size such as "c1000000" or "i16" pads or copies that many
// bytes, so every number in the format counts as bytes to write.
std::int64_t priceBinaryFormat(lua_State* state) {
  std::size_t size = 0;
  const char* format = lua_type(state, 1) == LUA_TSTRING ? lua_tolstring(state, 1, &size) : "";
  double sizes = 0;
  double number = 0;
  for (std::size_t i = 0; i <= size; ++i) {
    if (i < size && format[i] >= '0' && format[i] <= '9') {
      number = number * 10 + (format[i] - '0');
    } else {
      sizes += number;
      number = 0;
    }
  }
  std::int64_t strings = 0;
  for (int i = 2, top = lua_gettop(state); i <= top; ++i) strings += stringLength(state, i);
  return saturate(static_cast<double>(size) * kUnitsPerValue + sizes / kBytesCopiedPerUnit +
                  static_cast<double>(strings) / kBytesCopiedPerUnit);
}

std::int64_t priceTonumber(lua_State* state) { return stringLength(state, 1) * kUnitsPerParsedByte; }

// select(n, ...) returns the arguments from n on; select('#', ...) is O(1).
std::int64_t priceSelect(lua_State* state) {
  const lua_Integer first = integerOr(state, 1, 0);
  const lua_Integer given = lua_gettop(state) - 1;
  if (first == 0) return 0;
  const lua_Integer from = first < 0 ? given + first + 1 : first;
  return saturate(rangeCount(from, given) * kUnitsPerValue);
}

std::int64_t priceLoad(lua_State* state) { return stringLength(state, 1) * kUnitsPerCompiledByte; }

std::int64_t priceTableInsert(lua_State* state) {
  if (lua_gettop(state) != 3) return kUnitsPerShiftedSlot;  // an append
  // In doubles: a __len may claim math.maxinteger, and #t + 1 would overflow.
  const double end = static_cast<double>(tableLength(state, 1)) + 1;
  const double shifted = end - static_cast<double>(integerOr(state, 2, 0));
  return saturate((std::max(shifted, 0.0) + 1) * kUnitsPerShiftedSlot);
}

std::int64_t priceTableRemove(lua_State* state) {
  const lua_Integer size = tableLength(state, 1);
  return saturate(rangeCount(integerOr(state, 2, size), size) * kUnitsPerShiftedSlot);
}

std::int64_t priceTableMove(lua_State* state) {
  return saturate(rangeCount(integerOr(state, 2, 1), integerOr(state, 3, 0)) * kUnitsPerMovedSlot);
}

// The elements [i, j] of table.unpack(t, i, j) (first = 2) and
// table.concat(t, sep, i, j) (first = 3); j defaults to #t.
template <int first, std::int64_t unitsPerElement>
std::int64_t priceTableRange(lua_State* state) {
  const lua_Integer from = integerOr(state, first, 1);
  const lua_Integer to = lua_isnoneornil(state, first + 1) != 0 ? tableLength(state, 1) : integerOr(state, first + 1, 0);
  return saturate(rangeCount(from, to) * unitsPerElement);
}

// n log n comparisons; comparing strings costs more (strcoll) and reads
// their common prefix, so the share of strings and their average length
// count too. They are read from every element the table really holds (its
// raw length: a __len may claim a billion elements, and a sample of the
// first ones could be all short strings followed by long ones); that walk
// is linear, the sort it prices n log n.
std::int64_t priceTableSort(lua_State* state) {
  const lua_Integer size = tableLength(state, 1);
  if (size < 2) return 0;
  double sampled = 0;
  double strings = 0;
  double stringBytes = 0;
  if (lua_type(state, 1) == LUA_TTABLE) {
    const auto held = static_cast<lua_Integer>(lua_rawlen(state, 1));
    for (lua_Integer i = 1; i <= std::min(size, held); ++i) {
      if (lua_rawgeti(state, 1, i) == LUA_TSTRING) {
        strings += 1;
        stringBytes += static_cast<double>(lua_rawlen(state, -1));
      }
      lua_pop(state, 1);
      sampled += 1;
    }
  }
  const double count = static_cast<double>(size);
  const double comparisons = count * static_cast<double>(std::bit_width(static_cast<std::uint64_t>(size)));
  const double stringShare = sampled > 0 ? strings / sampled : 0;
  const double averageLength = strings > 0 ? stringBytes / strings : 0;
  const double perComparison = kUnitsPerComparison + stringShare * (kUnitsPerStringComparison - kUnitsPerComparison +
                                                                     averageLength / kBytesCopiedPerUnit);
  return saturate(count + comparisons * perComparison);
}

std::int64_t priceUtf8Codepoint(lua_State* state) {
  const lua_Integer length = stringLength(state, 1);
  const lua_Integer first = utf8Position(integerOr(state, 2, 1), length);
  const lua_Integer last = utf8Position(integerOr(state, 3, first), length);
  return saturate(rangeCount(first, last) * kUnitsPerValue);
}

std::int64_t priceUtf8Len(lua_State* state) {
  const lua_Integer length = stringLength(state, 1);
  const lua_Integer first = utf8Position(integerOr(state, 2, 1), length);
  const lua_Integer last = utf8Position(integerOr(state, 3, -1), length);
  return saturate(rangeCount(first, last) / kBytesConvertedPerUnit);
}

// utf8.offset walks |n| characters, or back to a character's start: at most
// the whole string.
std::int64_t priceUtf8Offset(lua_State* state) {
  const lua_Integer length = stringLength(state, 1);
  const lua_Integer characters = integerOr(state, 2, 0);
  const double walk = std::min(static_cast<double>(length), 4.0 * std::abs(static_cast<double>(characters)) + 4);
  return saturate(walk / kBytesConvertedPerUnit);
}

// ---- wrappers ---------------------------------------------------------------

using Price = std::int64_t (*)(lua_State*);

// Charges the price, then runs the original (upvalue 1) on the same stack,
// as if Lua had called it: its errors name the same function and caller.
// Only for originals without upvalues of their own.
template <Price price>
int charged(lua_State* state) {
  Sandbox::charge(state, price(state));
  return lua_tocfunction(state, lua_upvalueindex(1))(state);
}

// The same for an original that is a closure (the sandbox's load): called
// through Lua, with all its results.
template <Price price>
int chargedClosure(lua_State* state) {
  Sandbox::charge(state, price(state));
  const int given = lua_gettop(state);
  lua_pushvalue(state, lua_upvalueindex(1));
  lua_insert(state, 1);
  lua_call(state, given, LUA_MULTRET);
  return lua_gettop(state);
}

// table.concat: priced on the elements before, and on the result's bytes
// after (element strings can be long).
int chargedConcat(lua_State* state) {
  Sandbox::charge(state, priceTableRange<3, kUnitsPerJoinedElement>(state));
  const int results = lua_tocfunction(state, lua_upvalueindex(1))(state);
  Sandbox::charge(state, static_cast<std::int64_t>(lua_rawlen(state, -1)) / kBytesCopiedPerUnit);
  return results;
}

// load with a reader function: each chunk the reader returns is compiled
// in C, so it is paid for as it arrives (priceLoad pays for a string).
int chargedReader(lua_State* state) {
  lua_pushvalue(state, lua_upvalueindex(1));
  lua_call(state, 0, 1);
  if (lua_type(state, -1) == LUA_TSTRING) {
    Sandbox::charge(state, static_cast<std::int64_t>(lua_rawlen(state, -1)) * kUnitsPerCompiledByte);
  }
  return 1;
}

int chargedLoad(lua_State* state) {
  if (lua_type(state, 1) == LUA_TFUNCTION) {
    lua_pushvalue(state, 1);
    lua_pushcclosure(state, chargedReader, 1);
    lua_replace(state, 1);
  }
  Sandbox::charge(state, priceLoad(state));
  return lua_tocfunction(state, lua_upvalueindex(1))(state);
}

// utf8.codes' iterator skips the continuation bytes after a position in
// one call, so a script calling it directly on a long run of them does
// linear work per call: the skip is counted and paid before the call.
int chargedCodesStep(lua_State* state) {
  std::size_t length = 0;
  const char* text = lua_type(state, 1) == LUA_TSTRING ? lua_tolstring(state, 1, &length) : nullptr;
  if (text != nullptr && lua_isinteger(state, 2) != 0) {
    const lua_Integer position = lua_tointeger(state, 2);
    std::size_t at = position > 0 ? static_cast<std::size_t>(position) : 0;
    std::size_t skipped = 0;
    while (at < length && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80) {
      ++at;
      ++skipped;
    }
    Sandbox::charge(state, 1 + static_cast<std::int64_t>(skipped) / kBytesConvertedPerUnit);
  }
  return lua_tocfunction(state, lua_upvalueindex(1))(state);
}

int chargedCodes(lua_State* state) {
  const int results = lua_tocfunction(state, lua_upvalueindex(1))(state);
  if (results >= 1 && lua_tocfunction(state, -results) != nullptr) {
    lua_pushvalue(state, -results);
    lua_pushcclosure(state, chargedCodesStep, 1);
    lua_replace(state, -results - 1);
  }
  return results;
}

// collectgarbage: a full collection of a large heap takes milliseconds in
// one call, and stopping the collector is for the host to decide; only
// "count" is left.
int countOnlyCollectgarbage(lua_State* state) {
  const char* option = luaL_optstring(state, 1, "collect");
  if (std::strcmp(option, "count") != 0) {
    luaL_argerror(state, 1, "only \"count\" is available in the sandbox: the host runs the collector");
  }
  return lua_tocfunction(state, lua_upvalueindex(1))(state);
}

struct Wrapper {
  const char* library;  // nullptr for the globals
  const char* name;
  lua_CFunction wrapper;
  lua_CFunction closureWrapper;  // when the original has upvalues; nullptr: leave it as it is
};

template <Price price>
constexpr Wrapper wrap(const char* library, const char* name) {
  return {library, name, charged<price>, chargedClosure<price>};
}

const Wrapper kWrappers[] = {
    {nullptr, "collectgarbage", countOnlyCollectgarbage, nullptr},
    wrap<priceTonumber>(nullptr, "tonumber"),
    wrap<priceSelect>(nullptr, "select"),
    {nullptr, "load", chargedLoad, nullptr},
    wrap<priceStringByte>(LUA_STRLIBNAME, "byte"),
    wrap<priceArguments>(LUA_STRLIBNAME, "char"),
    wrap<priceStringFormat>(LUA_STRLIBNAME, "format"),
    wrap<priceConvertFirstString>(LUA_STRLIBNAME, "lower"),
    wrap<priceConvertFirstString>(LUA_STRLIBNAME, "upper"),
    wrap<priceConvertFirstString>(LUA_STRLIBNAME, "reverse"),
    wrap<priceStringSub>(LUA_STRLIBNAME, "sub"),
    wrap<priceBinaryFormat>(LUA_STRLIBNAME, "pack"),
    wrap<priceBinaryFormat>(LUA_STRLIBNAME, "packsize"),
    wrap<priceBinaryFormat>(LUA_STRLIBNAME, "unpack"),
    {LUA_TABLIBNAME, "concat", chargedConcat, nullptr},
    wrap<priceTableInsert>(LUA_TABLIBNAME, "insert"),
    wrap<priceTableRemove>(LUA_TABLIBNAME, "remove"),
    wrap<priceTableMove>(LUA_TABLIBNAME, "move"),
    wrap<priceArguments>(LUA_TABLIBNAME, "pack"),
    wrap<priceTableRange<2, kUnitsPerValue>>(LUA_TABLIBNAME, "unpack"),
    wrap<priceTableSort>(LUA_TABLIBNAME, "sort"),
    wrap<priceArguments>(LUA_UTF8LIBNAME, "char"),
    wrap<priceUtf8Codepoint>(LUA_UTF8LIBNAME, "codepoint"),
    wrap<priceUtf8Len>(LUA_UTF8LIBNAME, "len"),
    {LUA_UTF8LIBNAME, "codes", chargedCodes, nullptr},
    wrap<priceUtf8Offset>(LUA_UTF8LIBNAME, "offset"),
};

// Pushes the table that holds `library`'s functions (the globals for nullptr),
// or nothing and false when that library is not open.
bool pushLibrary(lua_State* state, const char* library) {
  if (library == nullptr) {
    lua_pushglobaltable(state);
    return true;
  }
  if (lua_getglobal(state, library) == LUA_TTABLE) return true;
  lua_pop(state, 1);
  return false;
}

void installWrapper(lua_State* state, const Wrapper& entry) {
  if (!pushLibrary(state, entry.library)) return;
  if (lua_getfield(state, -1, entry.name) != LUA_TFUNCTION || lua_iscfunction(state, -1) == 0) {
    lua_pop(state, 2);  // absent (removed by the sandbox) or not Lua's
    return;
  }
  const bool hasUpvalues = lua_getupvalue(state, -1, 1) != nullptr;
  if (hasUpvalues) lua_pop(state, 1);
  const lua_CFunction wrapper = hasUpvalues ? entry.closureWrapper : entry.wrapper;
  if (wrapper == nullptr) {
    lua_pop(state, 2);
    return;
  }
  lua_pushcclosure(state, wrapper, 1);  // the original as upvalue 1
  lua_setfield(state, -2, entry.name);
  lua_pop(state, 1);
}

}  // namespace

void installBoundedLibraries(lua_State* state) {
  static const char kInstalled = 0;  // its address marks a state already done
  if (lua_rawgetp(state, LUA_REGISTRYINDEX, &kInstalled) != LUA_TNIL) {
    lua_pop(state, 1);
    return;
  }
  lua_pop(state, 1);
  lua_pushboolean(state, 1);
  lua_rawsetp(state, LUA_REGISTRYINDEX, &kInstalled);

  // Replaced outright: the pattern functions (patterns.h) and string.rep.
  if (pushLibrary(state, LUA_STRLIBNAME)) {  // also the strings' methods: their __index is this table
    static const luaL_Reg patterns[] = {{"find", boundedFind},
                                        {"match", boundedMatch},
                                        {"gmatch", boundedGmatch},
                                        {"gsub", boundedGsub},
                                        {nullptr, nullptr}};
    luaL_setfuncs(state, patterns, 0);
    lua_pushcfunction(state, boundedRep);
    lua_setfield(state, -2, "rep");
    lua_pop(state, 1);
  }
  for (const Wrapper& entry : kWrappers) installWrapper(state, entry);
}

}  // namespace sipwarden::plugins::lua_policy
