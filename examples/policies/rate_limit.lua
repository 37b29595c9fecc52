-- Per-sender rate limit for page-mode messages: at most config.max MESSAGE
-- requests per sender in each window of config.window_seconds, counted in
-- sw.shared so the count survives a reload of this script. Over the limit
-- the sender gets 503 with Retry-After (RFC 3261 21.5.4).

local max = config.max or 20
local window = config.window_seconds or 60

function on_request(msg)
  if msg.method ~= "MESSAGE" then return end
  local key = "rate:" .. msg.from.aor
  local count = sw.shared.incr(key, 1, window)
  if count > max then
    msg:tag("rate_limited", msg.from.aor)
    msg:reply(503, "Rate Limit Exceeded", {["Retry-After"] = tostring(window)})
  end
end
