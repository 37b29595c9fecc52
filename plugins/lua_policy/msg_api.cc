#include "lua_policy/msg_api.h"

#include <lua.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <string_view>

#include "lua_policy/script.h"
#include "sipwarden/html_text.h"
#include "sipwarden/text.h"

namespace sipwarden::plugins::lua_policy {
namespace {

constexpr const char* kMsgType = "sipwarden.msg";

struct MsgHandle {
  std::uint64_t generation;
};

// The msg metatable's identity, to recognise a msg without the registry
// lookup by name luaL_checkudata makes on every field access. Set once per
// state (the metatable lives in the registry for the state's lifetime).
const void*& metatableIdentity(lua_State* state) { return Script::of(state).call().msgMetatable; }

MsgHandle* toMsg(lua_State* state, int index) {
  void* data = lua_touserdata(state, index);
  if (data == nullptr || !lua_getmetatable(state, index)) return nullptr;
  const bool isMsg = lua_topointer(state, -1) == metatableIdentity(state);
  lua_pop(state, 1);
  return isMsg ? static_cast<MsgHandle*>(data) : nullptr;
}

CallContext& activeCall(lua_State* state) {
  MsgHandle* handle = toMsg(state, 1);
  if (handle == nullptr) luaL_typeerror(state, 1, "msg");
  CallContext& call = Script::of(state).call();
  if (call.exchange == nullptr || handle->generation != call.generation) {
    luaL_error(state, "msg is only valid during the on_request/on_response call that received it");
  }
  return call;
}

// Counts one edit (or tag) of `bytes` against the call's KeepLimits; raises
// a script error naming the limit when it would pass it.
void keep(lua_State* state, CallContext& call, const char* what, std::size_t bytes, bool isTag = false) {
  if (isTag ? call.tags >= KeepLimits::kTags : call.edits >= KeepLimits::kEdits) {
    luaL_error(state, "%s: more than %d %s in one call", what, static_cast<int>(isTag ? KeepLimits::kTags : KeepLimits::kEdits),
               isTag ? "tags" : "edits");
  }
  if (call.keptBytes + bytes > KeepLimits::kBytes) {
    luaL_error(state, "%s: more than %d KiB of headers, tags and bodies in one call", what,
               static_cast<int>(KeepLimits::kBytes / 1024));
  }
  ++(isTag ? call.tags : call.edits);
  call.keptBytes += bytes;
}

void pushView(lua_State* state, std::string_view text) { lua_pushlstring(state, text.data(), text.size()); }

std::string_view checkView(lua_State* state, int index) {
  std::size_t size = 0;
  const char* text = luaL_checklstring(state, index, &size);
  return {text, size};
}

// Header names are RFC 3261 tokens; values may not break the message apart.
std::string_view checkHeaderName(lua_State* state, int index) {
  const std::string_view name = checkView(state, index);
  static constexpr std::string_view kTokenPunctuation = "-.!%*_+`'~";
  const bool token = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || kTokenPunctuation.find(c) != std::string_view::npos;
  });
  if (!token) luaL_argerror(state, index, "not a header name");
  // The hop's transaction and framing depend on these.
  static constexpr std::array<std::string_view, 8> kReserved = {"via", "v", "call-id", "i", "cseq",
                                                                "content-length", "l", "max-forwards"};
  for (auto reserved : kReserved) {
    if (text::iequals(name, reserved)) luaL_argerror(state, index, "this header belongs to the hop");
  }
  return name;
}

std::string_view checkHeaderValue(lua_State* state, int index) {
  const std::string_view value = checkView(state, index);
  if (value.find_first_of("\r\n") != std::string_view::npos) luaL_argerror(state, index, "CR or LF in a header value");
  if (value.size() > KeepLimits::kHeaderValueBytes) {
    luaL_argerror(state, index, "a header value longer than 8 KiB");
  }
  return value;
}

int msgNewIndex(lua_State* state);

// msg.from and msg.to are views, not tables: a policy usually reads one or
// two of their fields, and building a six-field table per access cost more
// than the rest of a typical policy. Like msg, a view is bound to its call.
struct AddressHandle {
  std::uint64_t generation;
  bool isTo;
};

void pushAddress(lua_State* state, bool isTo) {
  CallContext& call = Script::of(state).call();
  auto* handle = static_cast<AddressHandle*>(lua_newuserdatauv(state, sizeof(AddressHandle), 0));
  handle->generation = call.generation;
  handle->isTo = isTo;
  lua_rawgeti(state, LUA_REGISTRYINDEX, call.addressMetatableRef);
  lua_setmetatable(state, -2);
}

const Address* activeAddress(lua_State* state) {
  CallContext& call = Script::of(state).call();
  auto* handle = static_cast<AddressHandle*>(lua_touserdata(state, 1));
  if (handle == nullptr || call.exchange == nullptr || handle->generation != call.generation) {
    luaL_error(state, "msg.from and msg.to are only valid during the call that read them");
  }
  const MessageView& message = call.exchange->message();
  return handle->isTo ? &message.to() : &message.from();
}

int addressIndex(lua_State* state) {
  const Address& address = *activeAddress(state);
  const std::string_view key = lua_type(state, 2) == LUA_TSTRING ? checkView(state, 2) : std::string_view();
  if (key == "uri") {
    pushView(state, address.uri);
  } else if (key == "user") {
    pushView(state, address.user);
  } else if (key == "host") {
    pushView(state, address.host);
  } else if (key == "display") {
    pushView(state, address.display);
  } else if (key == "tag") {
    pushView(state, address.tag);
  } else if (key == "aor") {
    pushView(state, address.aor());
  } else {
    return luaL_error(state, "an address has no field '%s' (uri, user, host, display, tag, aor)",
                      std::string(key).c_str());
  }
  return 1;
}

int addressToString(lua_State* state) {
  pushView(state, activeAddress(state)->uri);
  return 1;
}

void registerAddressType(lua_State* state) {
  lua_createtable(state, 0, 4);
  lua_pushcfunction(state, addressIndex);
  lua_setfield(state, -2, "__index");
  lua_pushcfunction(state, msgNewIndex);
  lua_setfield(state, -2, "__newindex");
  lua_pushcfunction(state, addressToString);
  lua_setfield(state, -2, "__tostring");
  lua_pushliteral(state, "address");
  lua_setfield(state, -2, "__metatable");
  Script::of(state).call().addressMetatableRef = luaL_ref(state, LUA_REGISTRYINDEX);
}

int pushField(lua_State* state, Exchange& exchange, std::string_view key) {
  const MessageView& message = exchange.message();
  if (key == "method") {
    pushView(state, message.method());
  } else if (key == "ruri") {
    message.isRequest() ? pushView(state, message.requestUri()) : lua_pushnil(state);
  } else if (key == "status") {
    message.isRequest() ? lua_pushnil(state) : lua_pushinteger(state, message.statusCode());
  } else if (key == "reason") {
    message.isRequest() ? lua_pushnil(state) : pushView(state, message.reasonPhrase());
  } else if (key == "from") {
    pushAddress(state, false);
  } else if (key == "to") {
    pushAddress(state, true);
  } else if (key == "call_id") {
    pushView(state, message.callId());
  } else if (key == "cseq") {
    lua_pushinteger(state, message.cseqNumber());
  } else if (key == "body") {
    Sandbox::charge(state, static_cast<std::int64_t>(message.body().size()) / 16);
    pushView(state, message.body());
  } else if (key == "content_type") {
    pushView(state, message.contentType());
  } else if (key == "text") {
    InstantMessage& text = exchange.instantMessage();
    if (text.present()) {
      // Reading the text decodes the body again (HTML to text, base64):
      // paid per read, like the library's string functions.
      Sandbox::charge(state, static_cast<std::int64_t>(message.body().size()) / 4);
      const std::string plain = text.plainText();
      pushView(state, plain);
    } else {
      lua_pushnil(state);
    }
  } else if (key == "unreadable") {
    // Why the body reader could not read some of the text (nil when it
    // read everything): a policy decides what that means.
    InstantMessage& text = exchange.instantMessage();
    if (text.unreadableCount() == 0) {
      lua_pushnil(state);
    } else {
      std::string reasons;
      for (std::size_t i = 0; i < text.unreadableCount(); ++i) {
        if (!reasons.empty()) reasons += "; ";
        reasons += text.unreadableReason(i);
      }
      pushView(state, reasons);
    }
  } else if (key == "source") {
    lua_createtable(state, 0, 3);
    pushView(state, exchange.sourceIp());
    lua_setfield(state, -2, "ip");
    lua_pushinteger(state, exchange.sourcePort());
    lua_setfield(state, -2, "port");
    // Lua sees the lower-case form; the constant avoids a string per read.
    static constexpr const char* kLowerName[] = {"udp", "tcp", "tls"};
    lua_pushstring(state, kLowerName[static_cast<int>(exchange.transport())]);
    lua_setfield(state, -2, "transport");
  } else if (key == "direction") {
    lua_pushstring(state, exchange.direction() == Direction::FromClient ? "from_client" : "from_upstream");
  } else if (key == "is_request") {
    lua_pushboolean(state, message.isRequest());
  } else {
    return 0;
  }
  return 1;
}

int msgIndex(lua_State* state) {
  CallContext& call = activeCall(state);
  lua_pushvalue(state, 2);
  if (lua_rawget(state, lua_upvalueindex(1)) != LUA_TNIL) return 1;  // a method
  lua_pop(state, 1);
  if (lua_type(state, 2) != LUA_TSTRING) return luaL_error(state, "msg fields are named by strings");
  const std::string_view key = checkView(state, 2);
  if (pushField(state, *call.exchange, key) == 1) return 1;
  return luaL_error(state, "msg has no field '%s'", std::string(key).c_str());
}

int msgNewIndex(lua_State* state) {
  return luaL_error(state, "msg fields are read-only: use msg:set_header, msg:set_body or msg:set_text");
}

int msgToString(lua_State* state) {
  MsgHandle* handle = toMsg(state, 1);
  if (handle == nullptr) return luaL_typeerror(state, 1, "msg");
  lua_pushfstring(state, "msg (call %I)", static_cast<lua_Integer>(handle->generation));
  return 1;
}

int header(lua_State* state) {
  CallContext& call = activeCall(state);
  const auto value = call.exchange->message().header(checkView(state, 2));
  value ? pushView(state, *value) : lua_pushnil(state);
  return 1;
}

int headers(lua_State* state) {
  CallContext& call = activeCall(state);
  const auto values = call.exchange->message().headers(checkView(state, 2));
  lua_createtable(state, static_cast<int>(values.size()), 0);
  for (std::size_t i = 0; i < values.size(); ++i) {
    pushView(state, values[i]);
    lua_rawseti(state, -2, static_cast<lua_Integer>(i + 1));
  }
  return 1;
}

int setHeader(lua_State* state) {
  CallContext& call = activeCall(state);
  const auto name = checkHeaderName(state, 2);
  const auto value = checkHeaderValue(state, 3);
  keep(state, call, "msg:set_header()", name.size() + value.size());
  call.exchange->edits().setHeader(name, value);
  return 0;
}

int addHeader(lua_State* state) {
  CallContext& call = activeCall(state);
  const auto name = checkHeaderName(state, 2);
  const auto value = checkHeaderValue(state, 3);
  keep(state, call, "msg:add_header()", name.size() + value.size());
  call.exchange->edits().addHeader(name, value);
  return 0;
}

int removeHeader(lua_State* state) {
  CallContext& call = activeCall(state);
  const auto name = checkHeaderName(state, 2);
  keep(state, call, "msg:remove_header()", name.size());
  call.exchange->edits().removeHeader(name);
  return 0;
}

int setBody(lua_State* state) {
  CallContext& call = activeCall(state);
  const auto body = checkView(state, 2);
  const std::string_view type = lua_isnoneornil(state, 3) ? std::string_view() : checkHeaderValue(state, 3);
  keep(state, call, "msg:set_body()", body.size() + type.size());
  call.exchange->edits().setBody(body, type);
  return 0;
}

int setText(lua_State* state) {
  CallContext& call = activeCall(state);
  const auto text = checkView(state, 2);
  InstantMessage& message = call.exchange->instantMessage();
  if (!message.present()) return luaL_error(state, "msg:set_text(): the message carries no instant-message text");
  for (std::size_t part = 0; part < message.partCount(); ++part) {
    // A redaction that silently missed an RTF part would leak what the
    // script meant to remove: the script hears about it and decides.
    if (!message.partEditable(part)) {
      // Built on the Lua stack: lua_error longjmps past C++ destructors.
      const std::string_view type = message.partMediaType(part);
      const std::string_view where = message.partLocation(part);
      lua_pushliteral(state, "msg:set_text(): the ");
      lua_pushlstring(state, type.data(), type.size());
      lua_pushliteral(state, " text in ");
      lua_pushlstring(state, where.data(), where.size());
      lua_pushliteral(state, " cannot be rewritten");
      lua_concat(state, 5);
      return lua_error(state);
    }
  }
  keep(state, call, "msg:set_text()", text.size() * std::max<std::size_t>(1, message.partCount()));
  for (std::size_t part = 0; part < message.partCount(); ++part) {
    if (message.partType(part) == "text/html") {
      message.setPartText(part, html::escape(text));
    } else {
      message.setPartText(part, text);
    }
  }
  return 0;
}

CallContext& undecidedRequest(lua_State* state, const char* what) {
  CallContext& call = activeCall(state);
  if (!call.request) luaL_error(state, "msg:%s() is for requests: a response cannot be answered", what);
  if (call.decision) {
    luaL_error(state, "msg:%s(): this request already has a verdict (%s %d)", what,
               call.decision->kind() == Verdict::Kind::Drop ? "drop" : "reply", call.decision->code());
  }
  return call;
}

int checkCode(lua_State* state, int index) {
  const lua_Integer code = luaL_checkinteger(state, index);
  luaL_argcheck(state, code >= 200 && code <= 699, index, "a final response code (200-699)");
  return static_cast<int>(code);
}

Verdict::Headers checkHeaderTable(lua_State* state, int index) {
  Verdict::Headers out;
  if (lua_isnoneornil(state, index)) return out;
  luaL_checktype(state, index, LUA_TTABLE);
  lua_pushnil(state);
  while (lua_next(state, index) != 0) {
    if (lua_type(state, -2) == LUA_TSTRING) {  // {["X-Reason"] = "..."}
      const int top = lua_gettop(state);
      out.emplace_back(std::string(checkHeaderName(state, top - 1)), std::string(checkHeaderValue(state, top)));
    } else {  // { {"Warning", "..."}, ... } keeps order and repeats
      luaL_checktype(state, -1, LUA_TTABLE);
      lua_rawgeti(state, -1, 1);
      lua_rawgeti(state, -2, 2);
      const int top = lua_gettop(state);
      out.emplace_back(std::string(checkHeaderName(state, top - 1)), std::string(checkHeaderValue(state, top)));
      lua_pop(state, 2);
    }
    lua_pop(state, 1);
  }
  return out;
}

int reply(lua_State* state) {
  CallContext& call = undecidedRequest(state, "reply");
  const int code = checkCode(state, 2);
  std::string reason(checkHeaderValue(state, 3));
  Verdict::Headers extra = checkHeaderTable(state, 4);
  call.decision = Verdict::reply(code, std::move(reason), std::move(extra));
  return 0;
}

int reject(lua_State* state) {
  CallContext& call = undecidedRequest(state, "reject");
  const int code = checkCode(state, 2);
  luaL_argcheck(state, code >= 300, 2, "a rejection is 300-699");
  std::string reason(checkHeaderValue(state, 3));
  std::string quoted = reason;
  std::replace(quoted.begin(), quoted.end(), '"', '\'');
  std::replace(quoted.begin(), quoted.end(), '\\', '/');
  const std::string warning = "399 sipwarden \"" + Script::of(state).settings().name + ": " + quoted + "\"";
  call.decision = Verdict::reply(code, std::move(reason), {{"Warning", warning}});
  return 0;
}

int drop(lua_State* state) {
  CallContext& call = undecidedRequest(state, "drop");
  call.decision = Verdict::drop("dropped by " + Script::of(state).settings().name);
  return 0;
}

int tag(lua_State* state) {
  CallContext& call = activeCall(state);
  const auto key = checkView(state, 2);
  std::size_t size = 0;
  const char* value = luaL_tolstring(state, 3, &size);
  if (key.size() > KeepLimits::kTagKeyBytes) luaL_argerror(state, 2, "a tag name longer than 128 bytes");
  if (size > KeepLimits::kTagValueBytes) luaL_argerror(state, 3, "a tag value longer than 4 KiB");
  keep(state, call, "msg:tag()", key.size() + size, true);
  call.exchange->tag(key, std::string_view(value, size));
  return 0;
}

}  // namespace

void registerMsgApi(lua_State* state) {
  static const luaL_Reg methods[] = {{"header", header},         {"headers", headers},     {"set_header", setHeader},
                                     {"add_header", addHeader},   {"remove_header", removeHeader},
                                     {"set_body", setBody},       {"set_text", setText},    {"reply", reply},
                                     {"reject", reject},          {"drop", drop},           {"tag", tag},
                                     {nullptr, nullptr}};
  luaL_newmetatable(state, kMsgType);
  luaL_newlib(state, methods);
  lua_pushcclosure(state, msgIndex, 1);
  lua_setfield(state, -2, "__index");
  lua_pushcfunction(state, msgNewIndex);
  lua_setfield(state, -2, "__newindex");
  lua_pushcfunction(state, msgToString);
  lua_setfield(state, -2, "__tostring");
  lua_pushliteral(state, "msg");
  lua_setfield(state, -2, "__metatable");
  metatableIdentity(state) = lua_topointer(state, -1);
  Script::of(state).call().msgMetatableRef = luaL_ref(state, LUA_REGISTRYINDEX);
  registerAddressType(state);
}

void pushMsg(lua_State* state, std::uint64_t generation) {
  auto* handle = static_cast<MsgHandle*>(lua_newuserdatauv(state, sizeof(MsgHandle), 0));
  handle->generation = generation;
  lua_rawgeti(state, LUA_REGISTRYINDEX, Script::of(state).call().msgMetatableRef);
  lua_setmetatable(state, -2);
}

}  // namespace sipwarden::plugins::lua_policy
