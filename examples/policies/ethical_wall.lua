-- Ethical wall: members of two groups may not exchange instant messages or
-- calls, in either direction. The groups come from the plugin's "groups"
-- (or "groups_file"); config.walls lists the pairs kept apart.
--
--   "scripts": [{"file": "examples/policies/ethical_wall.lua",
--                "config": {"walls": [["research", "trading"]]}}]

local walls = config.walls or {}
local member = sw.groups.member  -- a local is faster than three table lookups

local function separated(a, b)
  for i = 1, #walls do
    local left, right = walls[i][1], walls[i][2]
    if (member(a, left) and member(b, right)) or (member(a, right) and member(b, left)) then
      return left, right
    end
  end
end

function on_request(msg)
  if msg.method ~= "MESSAGE" and msg.method ~= "INVITE" then return end
  local left, right = separated(msg.from.uri, msg.to.uri)
  if left then
    msg:tag("ethical_wall", left .. "/" .. right)
    msg:reject(403, "Ethical wall between " .. left .. " and " .. right)
  end
end
