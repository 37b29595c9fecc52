-- Tells the next hop what the policy layer concluded: adds
-- X-Sipwarden-Policy with the sender's group (from config.groups_to_report)
-- so a downstream Kamailio can route on it without repeating the lookup.

local reported = config.groups_to_report or {}

function on_request(msg)
  local groups = {}
  for _, group in ipairs(reported) do
    if sw.groups.member(msg.from.uri, group) then groups[#groups + 1] = group end
  end
  msg:remove_header("X-Sipwarden-Policy")  -- never trust one a client sent
  msg:add_header("X-Sipwarden-Policy", "checked; sender-groups=" .. (#groups > 0 and table.concat(groups, ",") or "none"))
end
