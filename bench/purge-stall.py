"""Refresh rotations on a SQLite database of a million sessions while the
purge runs every EVERY (1s), to see what the purge's writes cost the
rotations' tail. Usage: BIN=target/release/wristband python3 bench/purge-stall.py
(the seeded database is made once, in /tmp/wristband-purge-1m.db)."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.argv = [sys.argv[0]]
import harness  # noqa: E402

SEEDED = "/tmp/wristband-purge-1m.db"
harness.WRISTBAND = os.path.abspath(os.environ.get("BIN", harness.WRISTBAND))
try:
    if not os.path.exists(SEEDED):
        subprocess.run([harness.WRISTBAND, "migrate"], check=True, capture_output=True,
                       env={**os.environ, "WRISTBAND_DATABASE_URL": "sqlite://" + SEEDED,
                            "WRISTBAND_JWT_SECRET": harness.SECRET})
        harness.seed(SEEDED, 1_000_000)
    path = os.path.join(harness.WORK, "p.db")
    shutil.copy(SEEDED, path)
    os.sync()  # see harness.seed
    server = harness.wristband("purge", "sqlite://" + path, purge_interval=os.environ.get("EVERY", "1s"))
    r = harness.refresh_run(server, harness.fresh_cookies(server, 16), 10)
    print(f"{os.path.basename(harness.WRISTBAND)}: {r['rps']:,.0f}/s, p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms, "
          f"p99.9 {r['p999']:.2f} ms, {r['errors']} errors")
finally:
    for s in harness.SERVERS:
        s.stop()
    shutil.rmtree(harness.WORK, ignore_errors=True)
