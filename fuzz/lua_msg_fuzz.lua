-- Driven by fuzz/lua_msg_fuzz.cc: the body is a program of random calls on
-- the msg API and the sw module, each in pcall so misuse is an error the
-- script survives; the harness checks that whatever the calls did leaves a
-- message that still parses.
local ops = {
  function(msg, a) return msg:header(a) end,
  function(msg, a) return msg:headers(a) end,
  function(msg, a, b) msg:set_header(a, b) end,
  function(msg, a, b) msg:add_header(a, b) end,
  function(msg, a) msg:remove_header(a) end,
  function(msg, a, b) msg:set_body(a, b) end,
  function(msg, a) msg:set_text(a) end,
  function(msg, a, b) msg:reply(#a * 37 % 650 + 100, b) end,
  function(msg, a, b) msg:reject(#a * 13 % 500 + 200, b) end,
  function(msg) msg:drop() end,
  function(msg, a, b) msg:tag(a, b) end,
  function(msg, a) return msg[a] end,
  function(msg) return msg.from.uri, msg.to.aor, tostring(msg.from), msg.text, msg.source.ip, msg.cseq end,
  function(msg, a, b) return msg.from[a], msg.to[b] end,
  function(msg, a, b) return sw.re.match(a, b) end,
  function(msg, a, b) return sw.re.find(a, b, #b) end,
  function(msg, a, b) return sw.re.gsub(a, b, "\\0x") end,
  function(msg, a) return sw.uri.parse(a) end,
  function(msg, a) return sw.shared.incr("fuzz:" .. a, 1, 1) end,
  function(msg, a) return sw.groups.member(a, "g") end,
  function(msg, a, b) sw.state[a] = b end,
}

local function run(msg)
  local program = msg.body
  local i = 1
  while i <= #program do
    local op = ops[program:byte(i) % #ops + 1]
    local alen = (program:byte(i + 1) or 0) % 24
    local blen = (program:byte(i + 2) or 0) % 24
    local a = program:sub(i + 3, i + 2 + alen)
    local b = program:sub(i + 3 + alen, i + 2 + alen + blen)
    pcall(op, msg, a, b)
    i = i + 3 + alen + blen
  end
end

on_request = run
on_response = run
