// Over 500 lines because the matcher and the four functions built on it
// share one private state (captures, depth, unpaid steps) and must agree on
// every edge case of Lua 5.4's pattern semantics; split, they would need to
// expose that state.
//
// The semantics follow the Lua 5.4 reference manual (section 6.4.1) and
// the behaviour of its string library, including where it recurses: the
// matcher recurses exactly where Lua's does, so "pattern too complex"
// (200 nested attempts) appears for the same patterns.
#include "lua_policy/patterns.h"

#include <lua.hpp>

#include <cctype>
#include <cstdint>
#include <cstring>
#include <new>

#include "lua_policy/sandbox.h"

namespace sipwarden::plugins::lua_policy {
namespace {

constexpr char kEscape = '%';
constexpr int kMaxCaptures = 32;  // Lua's LUA_MAXCAPTURES (set in lstrlib.c, not exported)
constexpr int kMaxDepth = 200;    // Lua's MAXCCALLS for patterns
// Steps are paid in batches: Sandbox::charge also looks at the clock, too
// costly to do on every step, while a few thousand steps take microseconds.
constexpr std::int64_t kStepsPerCharge = 4096;
// Bytes compared or copied per step: a memcmp/memcpy of 16 bytes costs
// about one VM instruction.
constexpr std::int64_t kBytesPerStep = 16;

// A capture's length while it is open, and for a position capture "()".
constexpr std::ptrdiff_t kUnfinished = -1;
constexpr std::ptrdiff_t kPosition = -2;

// Lua's posrelatI: a 1-based start position from a possibly negative one.
std::size_t startPosition(lua_Integer position, std::size_t length) {
  if (position > 0) return static_cast<std::size_t>(position);
  if (position == 0) return 1;
  if (position < -static_cast<lua_Integer>(length)) return 1;
  return length + static_cast<std::size_t>(position) + 1;
}

// Whether string.find must treat the pattern as one (else it searches for
// the text). A NUL byte is never special: Lua's own check stops at each.
bool hasSpecials(const char* pattern, std::size_t size) {
  for (std::size_t i = 0; i < size; ++i) {
    if (std::strchr("^$*+?.([%-", pattern[i]) != nullptr && pattern[i] != '\0') return true;
  }
  return false;
}

// One match attempt's state. Pointers into the subject and pattern, which
// Lua keeps NUL-terminated: like Lua's matcher, this one reads the
// terminator at the end of either string (e.g. %f at the subject's end).
class Matcher {
 public:
  Matcher(lua_State* state, const char* subject, std::size_t subjectSize, const char* pattern, std::size_t patternSize)
      : state_(state),
        subjectBegin_(subject),
        subjectEnd_(subject + subjectSize),
        patternEnd_(pattern + patternSize) {}

  // Before each attempt at a new subject position.
  void restart() {
    level_ = 0;
    depthLeft_ = kMaxDepth;
  }

  // The end of the match of the pattern from `p` at `s`, or nullptr.
  const char* match(const char* s, const char* p) {
    if (depthLeft_-- == 0) luaL_error(state_, "pattern too complex");
    step(1);
    const char* end = matchFrom(s, p);
    ++depthLeft_;
    return end;
  }

  // Pays for the steps not yet charged; at the end of each library call.
  void settle() {
    const std::int64_t unpaid = unpaidSteps_;
    unpaidSteps_ = 0;
    if (unpaid > 0) Sandbox::charge(state_, unpaid);
  }

  void step(std::int64_t steps) {
    unpaidSteps_ += steps;
    if (unpaidSteps_ >= kStepsPerCharge) settle();
  }

  // Pushes capture `index` (0-based) of the match [s, e); when the pattern
  // has no captures, index 0 is the whole match. Returns its length, or
  // kPosition when a position was pushed.
  void pushCapture(int index, const char* s, const char* e) {
    const char* start = nullptr;
    const std::ptrdiff_t length = capture(index, s, e, start);
    if (length != kPosition) lua_pushlstring(state_, start, static_cast<std::size_t>(length));
  }

  // Pushes every capture (or the whole match when there is none and `s` is
  // given); returns how many.
  int pushCaptures(const char* s, const char* e) {
    const int count = (level_ == 0 && s != nullptr) ? 1 : level_;
    luaL_checkstack(state_, count, "too many captures");
    for (int i = 0; i < count; ++i) pushCapture(i, s, e);
    return count;
  }

  // Capture `index` of the match [s, e): sets `start`, returns the length;
  // for a position capture pushes the position and returns kPosition.
  std::ptrdiff_t capture(int index, const char* s, const char* e, const char*& start) {
    if (index >= level_) {
      if (index != 0) luaL_error(state_, "invalid capture index %%%d", index + 1);
      start = s;
      return e - s;
    }
    const Capture& found = captures_[index];
    start = found.start;
    if (found.length == kUnfinished) luaL_error(state_, "unfinished capture");
    if (found.length == kPosition) lua_pushinteger(state_, found.start - subjectBegin_ + 1);
    return found.length;
  }

  lua_State* state() const { return state_; }
  void setState(lua_State* state) { state_ = state; }
  const char* subjectBegin() const { return subjectBegin_; }
  const char* subjectEnd() const { return subjectEnd_; }

 private:
  struct Capture {
    const char* start;
    std::ptrdiff_t length;  // or kUnfinished, kPosition
  };

  // The body of match(): iterates where the pattern continues with the
  // rest of itself, recurses where the rest may have to be retried.
  const char* matchFrom(const char* s, const char* p) {
    while (p != patternEnd_) {
      step(1);
      switch (*p) {
        case '(':
          if (p[1] == ')') return openCapture(s, p + 2, kPosition);
          return openCapture(s, p + 1, kUnfinished);
        case ')':
          return closeCapture(s, p + 1);
        case '$':
          if (p + 1 == patternEnd_) return s == subjectEnd_ ? s : nullptr;
          break;  // a '$' elsewhere is an ordinary character
        case kEscape:
          if (p[1] == 'b') {
            s = matchBalanced(s, p + 2);
            if (s == nullptr) return nullptr;
            p += 4;
            continue;
          }
          if (p[1] == 'f') {
            p += 2;
            if (*p != '[') luaL_error(state_, "missing '[' after '%%f' in pattern");
            const char* setEnd = classEnd(p);
            const unsigned char before = s == subjectBegin_ ? '\0' : static_cast<unsigned char>(s[-1]);
            const unsigned char at = static_cast<unsigned char>(*s);
            if (inSet(before, p, setEnd - 1) || !inSet(at, p, setEnd - 1)) return nullptr;
            p = setEnd;
            continue;
          }
          if (std::isdigit(static_cast<unsigned char>(p[1])) != 0) {
            s = matchBackReference(s, static_cast<unsigned char>(p[1]));
            if (s == nullptr) return nullptr;
            p += 2;
            continue;
          }
          break;  // a class such as %a or an escaped character
        default:
          break;
      }
      const char* itemEnd = classEnd(p);
      if (!matchesOne(s, p, itemEnd)) {
        if (*itemEnd == '*' || *itemEnd == '?' || *itemEnd == '-') {  // zero repetitions allowed
          p = itemEnd + 1;
          continue;
        }
        return nullptr;
      }
      switch (*itemEnd) {
        case '?': {
          const char* withOne = match(s + 1, itemEnd + 1);
          if (withOne != nullptr) return withOne;
          p = itemEnd + 1;
          continue;
        }
        case '+':
          return longestFirst(s + 1, p, itemEnd);
        case '*':
          return longestFirst(s, p, itemEnd);
        case '-':
          return shortestFirst(s, p, itemEnd);
        default:
          ++s;
          p = itemEnd;
          continue;
      }
    }
    return s;
  }

  // Just past the single-character class starting at `p` (a character, '.',
  // %x, or a [set]).
  const char* classEnd(const char* p) {
    const char first = *p++;
    if (first == kEscape) {
      if (p == patternEnd_) luaL_error(state_, "malformed pattern (ends with '%%')");
      return p + 1;
    }
    if (first == '[') {
      if (*p == '^') ++p;
      do {  // the first character after '[' or '[^' is part of the set, even ']'
        if (p == patternEnd_) luaL_error(state_, "malformed pattern (missing ']')");
        if (*p++ == kEscape && p < patternEnd_) ++p;
      } while (*p != ']');
      return p + 1;
    }
    return p;
  }

  static bool inClass(unsigned char c, unsigned char letter) {
    bool in = false;
    switch (std::tolower(letter)) {
      case 'a': in = std::isalpha(c) != 0; break;
      case 'c': in = std::iscntrl(c) != 0; break;
      case 'd': in = std::isdigit(c) != 0; break;
      case 'g': in = std::isgraph(c) != 0; break;
      case 'l': in = std::islower(c) != 0; break;
      case 'p': in = std::ispunct(c) != 0; break;
      case 's': in = std::isspace(c) != 0; break;
      case 'u': in = std::isupper(c) != 0; break;
      case 'w': in = std::isalnum(c) != 0; break;
      case 'x': in = std::isxdigit(c) != 0; break;
      case 'z': in = c == '\0'; break;  // deprecated in Lua 5.2, still accepted by 5.4
      default: return letter == c;  // an escaped character stands for itself
    }
    return std::isupper(letter) != 0 ? !in : in;  // %A is the complement of %a
  }

  // Whether `c` is in the set whose '[' is at `open` and ']' at `close`.
  static bool inSet(unsigned char c, const char* open, const char* close) {
    bool complement = false;
    const char* p = open + 1;
    if (*p == '^') {
      complement = true;
      ++p;
    }
    for (; p < close; ++p) {
      if (*p == kEscape) {
        ++p;
        if (inClass(c, static_cast<unsigned char>(*p))) return !complement;
      } else if (p[1] == '-' && p + 2 < close) {
        const auto low = static_cast<unsigned char>(p[0]);
        const auto high = static_cast<unsigned char>(p[2]);
        p += 2;
        if (low <= c && c <= high) return !complement;
      } else if (static_cast<unsigned char>(*p) == c) {
        return !complement;
      }
    }
    return complement;
  }

  bool matchesOne(const char* s, const char* p, const char* itemEnd) const {
    if (s >= subjectEnd_) return false;
    const auto c = static_cast<unsigned char>(*s);
    switch (*p) {
      case '.': return true;
      case kEscape: return inClass(c, static_cast<unsigned char>(p[1]));
      case '[': return inSet(c, p, itemEnd - 1);
      default: return static_cast<unsigned char>(*p) == c;
    }
  }

  // item* and item+: take as many as match, then give back one at a time.
  const char* longestFirst(const char* s, const char* p, const char* itemEnd) {
    std::ptrdiff_t count = 0;
    while (matchesOne(s + count, p, itemEnd)) {
      ++count;
      step(1);
    }
    for (; count >= 0; --count) {
      const char* end = match(s + count, itemEnd + 1);
      if (end != nullptr) return end;
    }
    return nullptr;
  }

  // item-: take one more only when the rest fails.
  const char* shortestFirst(const char* s, const char* p, const char* itemEnd) {
    for (;;) {
      const char* end = match(s, itemEnd + 1);
      if (end != nullptr) return end;
      if (!matchesOne(s, p, itemEnd)) return nullptr;
      ++s;
    }
  }

  const char* openCapture(const char* s, const char* p, std::ptrdiff_t kind) {
    if (level_ >= kMaxCaptures) luaL_error(state_, "too many captures");
    captures_[level_] = {s, kind};
    ++level_;
    const char* end = match(s, p);
    if (end == nullptr) --level_;
    return end;
  }

  const char* closeCapture(const char* s, const char* p) {
    int open = level_ - 1;
    while (open >= 0 && captures_[open].length != kUnfinished) --open;
    if (open < 0) luaL_error(state_, "invalid pattern capture");
    captures_[open].length = s - captures_[open].start;
    const char* end = match(s, p);
    if (end == nullptr) captures_[open].length = kUnfinished;
    return end;
  }

  // %b xy: from an x to its balancing y.
  const char* matchBalanced(const char* s, const char* p) {
    if (p >= patternEnd_ - 1) luaL_error(state_, "malformed pattern (missing arguments to '%%b')");
    if (*s != *p) return nullptr;
    const char open = p[0];
    const char close = p[1];
    int depth = 1;
    while (++s < subjectEnd_) {
      step(1);
      if (*s == close) {
        if (--depth == 0) return s + 1;
      } else if (*s == open) {
        ++depth;
      }
    }
    return nullptr;
  }

  // %1..%9: the text of an earlier, closed capture again.
  const char* matchBackReference(const char* s, unsigned char digit) {
    const int index = digit - '1';
    if (index < 0 || index >= level_ || captures_[index].length == kUnfinished) {
      luaL_error(state_, "invalid capture index %%%d", index + 1);
    }
    const std::ptrdiff_t length = captures_[index].length;
    if (length == kPosition) return nullptr;  // a position is not text: never matches
    step(length / kBytesPerStep);
    if (subjectEnd_ - s >= length && std::memcmp(captures_[index].start, s, static_cast<std::size_t>(length)) == 0) {
      return s + length;
    }
    return nullptr;
  }

  lua_State* state_;
  const char* subjectBegin_;
  const char* subjectEnd_;
  const char* patternEnd_;
  int level_ = 0;
  int depthLeft_ = kMaxDepth;
  std::int64_t unpaidSteps_ = 0;
  Capture captures_[kMaxCaptures] = {};
};

// string.find with plain text (or a pattern without special characters):
// the first occurrence at or after `from`, or nullptr. Pays for the bytes
// scanned and compared.
const char* findPlain(Matcher& matcher, const char* from, const char* end, const char* text, std::size_t size) {
  if (size == 0) return from;
  if (static_cast<std::size_t>(end - from) < size) return nullptr;
  const char* lastStart = end - size;  // the last position where `text` fits
  const char* at = from;
  while (at <= lastStart) {
    const auto* candidate = static_cast<const char*>(std::memchr(at, text[0], static_cast<std::size_t>(lastStart - at) + 1));
    matcher.step(((candidate != nullptr ? candidate : lastStart) - at) / kBytesPerStep + 1);
    if (candidate == nullptr) return nullptr;
    matcher.step(static_cast<std::int64_t>(size) / kBytesPerStep + 1);
    if (std::memcmp(candidate + 1, text + 1, size - 1) == 0) return candidate;
    at = candidate + 1;
  }
  return nullptr;
}

int findOrMatch(lua_State* state, bool find) {
  std::size_t subjectSize = 0;
  std::size_t patternSize = 0;
  const char* subject = luaL_checklstring(state, 1, &subjectSize);
  const char* pattern = luaL_checklstring(state, 2, &patternSize);
  const std::size_t init = startPosition(luaL_optinteger(state, 3, 1), subjectSize) - 1;
  if (init > subjectSize) {
    luaL_pushfail(state);
    return 1;
  }
  // Anchoring moves the pattern's start, not its end: one matcher serves.
  Matcher matcher(state, subject, subjectSize, pattern, patternSize);
  matcher.step(static_cast<std::int64_t>(patternSize) / kBytesPerStep);
  if (find && (lua_toboolean(state, 4) != 0 || !hasSpecials(pattern, patternSize))) {
    const char* found = findPlain(matcher, subject + init, subject + subjectSize, pattern, patternSize);
    matcher.settle();
    if (found == nullptr) {
      luaL_pushfail(state);
      return 1;
    }
    lua_pushinteger(state, found - subject + 1);
    lua_pushinteger(state, static_cast<lua_Integer>(found - subject + patternSize));
    return 2;
  }
  const bool anchored = patternSize > 0 && *pattern == '^';
  const char* body = anchored ? pattern + 1 : pattern;
  const char* start = subject + init;
  do {
    matcher.restart();
    const char* end = matcher.match(start, body);
    if (end != nullptr) {
      matcher.settle();
      if (!find) return matcher.pushCaptures(start, end);
      lua_pushinteger(state, start - subject + 1);
      lua_pushinteger(state, end - subject);
      return matcher.pushCaptures(nullptr, nullptr) + 2;
    }
  } while (start++ < matcher.subjectEnd() && !anchored);
  matcher.settle();
  luaL_pushfail(state);
  return 1;
}

// What a gmatch iterator keeps between calls (a full userdata, upvalue 3;
// the subject and pattern strings it points into are upvalues 1 and 2).
struct GmatchState {
  Matcher matcher;
  const char* pattern;
  const char* next;       // where the next attempt starts
  const char* lastMatch;  // an empty match there is not repeated
};

int gmatchStep(lua_State* state) {
  auto* iteration = static_cast<GmatchState*>(lua_touserdata(state, lua_upvalueindex(3)));
  Matcher& matcher = iteration->matcher;
  matcher.setState(state);  // the iterator may be called from another coroutine
  for (const char* start = iteration->next; start <= matcher.subjectEnd(); ++start) {
    matcher.restart();
    const char* end = matcher.match(start, iteration->pattern);
    if (end != nullptr && end != iteration->lastMatch) {
      iteration->next = iteration->lastMatch = end;
      matcher.settle();
      return matcher.pushCaptures(start, end);
    }
  }
  iteration->next = matcher.subjectEnd() + 1;  // exhausted: later calls return nothing at once
  matcher.settle();
  return 0;
}

// gsub's replacement string: %0 the match, %1..%9 captures, %% a '%'.
void appendReplacementText(Matcher& matcher, luaL_Buffer& buffer, const char* s, const char* e) {
  lua_State* state = matcher.state();
  std::size_t left = 0;
  const char* text = lua_tolstring(state, 3, &left);
  std::int64_t bytes = static_cast<std::int64_t>(left);
  const char* escape = nullptr;
  while ((escape = static_cast<const char*>(std::memchr(text, kEscape, left))) != nullptr) {
    luaL_addlstring(&buffer, text, static_cast<std::size_t>(escape - text));
    const char code = escape[1];  // the string's terminator when '%' is last
    if (code == kEscape) {
      luaL_addchar(&buffer, kEscape);
    } else if (code == '0') {
      luaL_addlstring(&buffer, s, static_cast<std::size_t>(e - s));
      bytes += e - s;
    } else if (std::isdigit(static_cast<unsigned char>(code)) != 0) {
      const char* start = nullptr;
      const std::ptrdiff_t length = matcher.capture(code - '1', s, e, start);
      if (length == kPosition) {
        luaL_addvalue(&buffer);
      } else {
        luaL_addlstring(&buffer, start, static_cast<std::size_t>(length));
        bytes += length;
      }
    } else {
      luaL_error(state, "invalid use of '%c' in replacement string", kEscape);
    }
    left -= static_cast<std::size_t>(escape + 2 - text);
    text = escape + 2;
  }
  luaL_addlstring(&buffer, text, left);
  matcher.step(bytes / kBytesPerStep + 1);
}

// Adds the replacement of the match [s, e) to `buffer`; whether it changed
// the text (a false or nil from a table or function keeps the match).
bool appendReplacement(Matcher& matcher, luaL_Buffer& buffer, const char* s, const char* e, int replacementType) {
  lua_State* state = matcher.state();
  if (replacementType == LUA_TFUNCTION) {
    lua_pushvalue(state, 3);
    const int captures = matcher.pushCaptures(s, e);
    matcher.settle();  // pay before running the script's function
    lua_call(state, captures, 1);
  } else if (replacementType == LUA_TTABLE) {
    matcher.pushCapture(0, s, e);
    lua_gettable(state, 3);
  } else {
    appendReplacementText(matcher, buffer, s, e);
    return true;
  }
  if (lua_toboolean(state, -1) == 0) {
    lua_pop(state, 1);
    luaL_addlstring(&buffer, s, static_cast<std::size_t>(e - s));
    return false;
  }
  if (lua_isstring(state, -1) == 0) {
    luaL_error(state, "invalid replacement value (a %s)", luaL_typename(state, -1));
  }
  matcher.step(static_cast<std::int64_t>(lua_rawlen(state, -1)) / kBytesPerStep + 1);
  luaL_addvalue(&buffer);
  return true;
}

}  // namespace

int boundedFind(lua_State* state) { return findOrMatch(state, true); }

int boundedMatch(lua_State* state) { return findOrMatch(state, false); }

int boundedGmatch(lua_State* state) {
  std::size_t subjectSize = 0;
  std::size_t patternSize = 0;
  const char* subject = luaL_checklstring(state, 1, &subjectSize);
  const char* pattern = luaL_checklstring(state, 2, &patternSize);
  std::size_t init = startPosition(luaL_optinteger(state, 3, 1), subjectSize) - 1;
  if (init > subjectSize) init = subjectSize + 1;  // starts after the end: matches nothing
  lua_settop(state, 2);
  // In gmatch a leading '^' is an ordinary character (Lua 5.4): it is not
  // stripped.
  void* memory = lua_newuserdatauv(state, sizeof(GmatchState), 0);
  new (memory) GmatchState{Matcher(state, subject, subjectSize, pattern, patternSize), pattern, subject + init, nullptr};
  lua_pushcclosure(state, gmatchStep, 3);
  return 1;
}

int boundedGsub(lua_State* state) {
  std::size_t subjectSize = 0;
  std::size_t patternSize = 0;
  const char* subject = luaL_checklstring(state, 1, &subjectSize);
  const char* pattern = luaL_checklstring(state, 2, &patternSize);
  const int replacementType = lua_type(state, 3);
  const lua_Integer maxReplacements = luaL_optinteger(state, 4, static_cast<lua_Integer>(subjectSize) + 1);
  luaL_argexpected(state,
                   replacementType == LUA_TNUMBER || replacementType == LUA_TSTRING ||
                       replacementType == LUA_TFUNCTION || replacementType == LUA_TTABLE,
                   3, "string/function/table");
  luaL_Buffer buffer;
  luaL_buffinit(state, &buffer);
  const bool anchored = patternSize > 0 && *pattern == '^';
  if (anchored) {
    ++pattern;
    --patternSize;
  }
  Matcher matcher(state, subject, subjectSize, pattern, patternSize);
  const char* at = subject;
  const char* lastMatch = nullptr;
  lua_Integer replacements = 0;
  bool changed = false;
  while (replacements < maxReplacements) {
    matcher.restart();
    const char* end = matcher.match(at, pattern);
    if (end != nullptr && end != lastMatch) {  // an empty match right after a match does not count
      ++replacements;
      changed = appendReplacement(matcher, buffer, at, end, replacementType) || changed;
      at = lastMatch = end;
    } else if (at < matcher.subjectEnd()) {
      luaL_addchar(&buffer, *at++);
    } else {
      break;
    }
    if (anchored) break;
  }
  if (!changed) {
    lua_pushvalue(state, 1);
  } else {
    luaL_addlstring(&buffer, at, static_cast<std::size_t>(matcher.subjectEnd() - at));
    matcher.step((matcher.subjectEnd() - at) / kBytesPerStep);
    luaL_pushresult(&buffer);
  }
  matcher.settle();
  lua_pushinteger(state, replacements);
  return 2;
}

}  // namespace sipwarden::plugins::lua_policy
