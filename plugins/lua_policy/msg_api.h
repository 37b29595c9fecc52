#pragma once
// The `msg` object a hook receives: fields read from the message, methods
// that edit it or decide its fate. A msg is bound to the call that received
// it; touching it afterwards raises an error instead of reading freed data.

#include <cstdint>

struct lua_State;

namespace sipwarden::plugins::lua_policy {

// Creates the metatable; once per state, before any pushMsg.
void registerMsgApi(lua_State* state);
// Pushes a msg bound to the call with this generation (Script::call()).
void pushMsg(lua_State* state, std::uint64_t generation);

}  // namespace sipwarden::plugins::lua_policy
