-- After hours, instant messages to external domains are refused. Business
-- hours are config.open_hour to config.close_hour, Monday to Friday, at
-- config.utc_offset_hours from UTC. Internal domains (and their subdomains)
-- are config.internal_domains.

local open_hour = config.open_hour or 8
local close_hour = config.close_hour or 18
local offset = (config.utc_offset_hours or 0) * 3600
local internal = config.internal_domains or {}

local function is_internal(host)
  for _, domain in ipairs(internal) do
    if host == domain or host:sub(-(#domain + 1)) == "." .. domain then return true end
  end
  return false
end

local function business_hours(now)
  local local_time = now + offset
  local day = math.floor(local_time / 86400)
  local weekday = (day + 3) % 7          -- 0 = Monday (1970-01-01 was a Thursday)
  local hour = math.floor(local_time % 86400 / 3600)
  return weekday < 5 and hour >= open_hour and hour < close_hour
end

function on_request(msg)
  if msg.method ~= "MESSAGE" or is_internal(msg.to.host) then return end
  if not business_hours(sw.now()) then
    msg:tag("after_hours", msg.to.host)
    msg:reject(403, "External messages are not allowed outside business hours")
  end
end
