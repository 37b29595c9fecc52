#pragma once
// Lua 5.4's pattern functions (string.find, string.match, string.gmatch and
// string.gsub), reimplemented so that their work is paid for: the matcher
// counts its steps (one per attempt at a pattern item, one per character a
// repetition or %b scans, one per 16 bytes a back-reference or a plain
// search compares) and hands them to Sandbox::charge every few thousand
// steps, so a backtracking pattern on attacker text ends with the budget
// error instead of stalling the thread. Results and error messages are those
// of Lua 5.4's own functions (tests/unit/plugins/lua_bounded_libs_test.cc
// compares them).

struct lua_State;

namespace sipwarden::plugins::lua_policy {

// Installed over the `string` table's entries by installBoundedLibraries
// (bounded_libs.h); called by Lua with the arguments of the functions they
// replace, and return what those return.
int boundedFind(lua_State* state);
int boundedMatch(lua_State* state);
int boundedGmatch(lua_State* state);
int boundedGsub(lua_State* state);

}  // namespace sipwarden::plugins::lua_policy
