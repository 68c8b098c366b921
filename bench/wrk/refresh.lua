-- Refresh rotation: run with -tN -cN so each wrk thread has one connection,
-- and give it N cookies (one per line) in $BENCH_LINES. Each connection
-- sends its own cookie and takes the next one from every answer.
setup = dofile(os.getenv("BENCH_WRK_DIR") .. "/lines.lua").hand_out("cookie")

function request()
  return wrk.format("POST", "/auth/refresh", { ["Cookie"] = cookie })
end

function response(status, headers, body)
  local set = headers["set-cookie"] or headers["Set-Cookie"]
  if status == 200 and set then
    cookie = set:match("^([^;]+)")
  end
end

-- wrk --latency prints up to p99; the tail beyond it, for the harness.
function done(summary, latency, requests)
  io.write(string.format("p99.9 %dus\n", latency:percentile(99.9)))
end
