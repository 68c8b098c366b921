-- GET with many distinct access tokens: $BENCH_LINES holds one token per
-- line; each request carries the next one, each thread starting at its own
-- place in the list.
local tokens = dofile(os.getenv("BENCH_WRK_DIR") .. "/lines.lua").lines
local started = 0

function setup(thread)
  thread:set("share", started)
  started = started + 1
end

local i = nil

function request()
  if i == nil then
    i = ((share or 0) * 7919) % #tokens
  end
  i = i % #tokens + 1
  return wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. tokens[i] })
end
