-- Display-name normalisation: removes invisible and control characters,
-- collapses white space and trims the From display name, and marks senders
-- from outside config.internal_domains with "[External] " so nobody outside
-- can pose as "IT Helpdesk".

local internal = config.internal_domains or {}
local prefix = config.external_prefix or "[External] "

local function is_internal(host)
  for _, domain in ipairs(internal) do
    if host == domain or host:sub(-(#domain + 1)) == "." .. domain then return true end
  end
  return false
end

local function clean(name)
  -- zero-width and bidirectional controls, then C0 controls and quotes
  name = sw.re.gsub(name, "[\\x{200B}-\\x{200F}\\x{202A}-\\x{202E}\\x{2060}-\\x{2064}\\x{FEFF}]", "")
  name = sw.re.gsub(name, "[\\x00-\\x1F\\x7F\"\\\\]", "")
  name = sw.re.gsub(name, "\\s+", " ")
  return sw.re.match(name, "^\\s*(.*?)\\s*$")
end

function on_request(msg)
  if msg.direction ~= "from_client" then return end
  local from = msg.from
  local name = clean(from.display)
  if not is_internal(from.host) and name:sub(1, #prefix) ~= prefix then
    name = prefix .. (name ~= "" and name or from.aor)
  end
  if name == from.display then return end
  local value = '"' .. name .. '" <' .. from.uri .. '>'
  if from.tag ~= "" then value = value .. ";tag=" .. from.tag end
  msg:set_header("From", value)
  msg:tag("display_name", "normalised")
end
