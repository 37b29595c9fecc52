-- Ethical wall: members of two groups may not exchange instant messages or
-- calls, in either direction. The groups come from the plugin's "groups"
-- (or "groups_file"); config.walls lists the pairs kept apart.
--
--   "scripts": [{"file": "examples/policies/ethical_wall.lua",
--                "config": {"walls": [["research", "trading"]]}}]

local walls = config.walls or {}

local function separated(a, b)
  for _, wall in ipairs(walls) do
    local left, right = wall[1], wall[2]
    if (sw.groups.member(a, left) and sw.groups.member(b, right))
        or (sw.groups.member(a, right) and sw.groups.member(b, left)) then
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
