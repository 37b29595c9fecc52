-- Flags (does not block) messages that mention watched words: each match
-- becomes a tag stored with the archived message, and the next hop sees an
-- X-Compliance-Flag header. config.words: {name = "RE2 pattern", ...}.

local words = config.words or {}

function on_request(msg)
  local text = msg.text
  if not text then return end
  local hits = {}
  for name, pattern in pairs(words) do
    if sw.re.match(text, pattern) then
      msg:tag("flag", name)
      hits[#hits + 1] = name
    end
  end
  if #hits > 0 then
    table.sort(hits)
    msg:set_header("X-Compliance-Flag", table.concat(hits, ","))
  end
end
