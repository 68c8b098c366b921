-- Shared by the scripts: the lines of the file $BENCH_LINES, and a setup()
-- that hands wrk thread i the i-th line as the global `name`.
local lines = {}
for line in io.lines(os.getenv("BENCH_LINES")) do
  if line ~= "" then lines[#lines + 1] = line end
end

local function hand_out(name)
  local handed = 0
  return function(thread)
    handed = handed + 1
    thread:set(name, lines[handed])
  end
end

return { lines = lines, hand_out = hand_out }
