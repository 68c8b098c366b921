-- RFC 7662 introspection as a resource server calls it: $BENCH_LINES holds
-- the introspection secret on its first line and the token on the second.
local lines = dofile(os.getenv("BENCH_WRK_DIR") .. "/lines.lua").lines
wrk.method = "POST"
wrk.body = "token=" .. lines[2]
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Bearer " .. lines[1]
