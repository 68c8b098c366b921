-- Logins: run with -tN -cN and N JSON bodies (one per line) in $BENCH_LINES;
-- each connection logs its body's user in, again and again. The harness gives
-- every connection the same user: parallel right-password logins of one
-- account wait their turn in the lockout's budget but are never refused.
setup = dofile(os.getenv("BENCH_WRK_DIR") .. "/lines.lua").hand_out("body")

function request()
  return wrk.format("POST", "/auth/login", { ["Content-Type"] = "application/json" }, body)
end
