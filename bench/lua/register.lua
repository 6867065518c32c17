-- POST /Account/RegisterByInvite?k=… with a fresh key each time; args: keys_file threads password (URL-encoded)
-- keys_file: one "key token username" per line; thread n takes lines n, n+threads, n+2*threads, …

local next_tid = 0
local lines = {}
local position = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
end

function init(args)
  local threads = tonumber(args[2])
  password = args[3]
  local n = 0
  for line in io.lines(args[1]) do
    if n % threads == tid then
      table.insert(lines, line)
    end
    n = n + 1
  end
end

function request()
  position = position + 1
  if position > #lines then
    position = 1 -- the keys are used up: these requests fail and count as errors
  end
  local key, token, username = string.match(lines[position], "(%S+) (%S+) (%S+)")
  local body = "csrf_token=" .. token .. "&username=" .. username .. "&password=" .. password
    .. "&password_confirm=" .. password .. "&consent=on"
  return wrk.format("POST", "/Account/RegisterByInvite?k=" .. key .. "&t=Expert",
    {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
