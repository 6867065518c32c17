-- POST /admin/mailing/invite with a new address each time; args: csrf_token municipality_id tag
local count = 0

local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
end

function init(args)
  token, municipality, tag = args[1], args[2], args[3]
end

function request()
  count = count + 1
  local email = string.format("wrk-%s-%d-%d@example.ru", tag, tid, count)
  local body = "csrf_token=" .. token .. "&role=expert&email=" .. email .. "&municipality_id=" .. municipality
    .. "&organization_id="
  -- wrk.format uses the headers given instead of wrk.headers (the -H options): keep the session cookie
  local headers = {["Content-Type"] = "application/x-www-form-urlencoded"}
  for name, value in pairs(wrk.headers) do
    headers[name] = value
  end
  return wrk.format("POST", "/admin/mailing/invite", headers, body)
end
