-- Logins: run with -tN -cN and N JSON bodies (one per line, one user each)
-- in $BENCH_LINES; each connection logs its own user in, again and again.
-- (Parallel attempts on one account would trip the per-account lockout,
-- which counts an attempt before its password is checked.)
setup = dofile(os.getenv("BENCH_WRK_DIR") .. "/lines.lua").hand_out("body")

function request()
  return wrk.format("POST", "/auth/login", { ["Content-Type"] = "application/json" }, body)
end
