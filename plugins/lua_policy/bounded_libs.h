#pragma once
// The standard library as a sandboxed script sees it: every C function
// whose work grows with its arguments pays for that work through
// Sandbox::charge (in VM-instruction units, docs/lua-api.md "Library calls
// and their cost"), so one call cannot run for long inside a budget meant
// for instructions. The pattern functions are replaced by budgeted
// reimplementations (patterns.h); the others are wrapped: a wrapper prices
// the call from its arguments, charges, then runs Lua's own function.

struct lua_State;

namespace sipwarden::plugins::lua_policy {

// Called once per sandbox, by Sandbox::openLibraries right after the
// standard libraries (base, string, table, math, utf8) are opened; replaces
// their entries in place. A second call on the same state does nothing.
void installBoundedLibraries(lua_State* state);

}  // namespace sipwarden::plugins::lua_policy
