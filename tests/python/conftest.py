"""A throw-away Wristband per test, as a Python service's suite would start it.

The fixture spawns `wristband serve --ephemeral` in test mode, reads the
listening line for the address, and stops the server afterwards. Point
WRISTBAND_BIN at the binary (default: target/release/wristband).
"""

import json
import os
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INTROSPECTION_SECRET = "introspection-secret-for-the-python-suite"


@pytest.fixture
def wristband():
    binary = os.environ.get("WRISTBAND_BIN", str(ROOT / "target" / "release" / "wristband"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("WRISTBAND_")}
    env.update(
        WRISTBAND_TEST_MODE="true",
        WRISTBAND_JWT_ALG="EdDSA",
        WRISTBAND_INTROSPECTION_SECRET=INTROSPECTION_SECRET,
    )
    server = subprocess.Popen(
        [binary, "serve", "--ephemeral"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    try:
        line = server.stdout.readline()
        assert line.startswith("wristband listening on "), line
        yield line.split()[-1]
    finally:
        server.terminate()
        server.wait(timeout=10)


def call(method, url, body=None, token=None, form=None):
    """One HTTP call; returns (status, headers, parsed JSON or None)."""
    headers = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request) as response:
            raw = response.read()
            return response.status, response.headers, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, error.headers, json.loads(raw) if raw else None


# --- Servers on a real database (SQLite file or PostgreSQL), for the mail suite.

import secrets
import threading
import time

# Fixed keys, so a restarted server and a second instance on the same database
# share them (the refresh secret also keys the outbox's encryption at rest).
JWT_SECRET = "python-suite-jwt-secret-0123456789abcdef"
REFRESH_SECRET = "python-suite-refresh-secret-0123456789ab"


def wristband_binary():
    return os.environ.get("WRISTBAND_BIN", str(ROOT / "target" / "release" / "wristband"))


def _psql(admin_url, sql):
    subprocess.run(
        ["psql", admin_url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def database_url(backend, tmp_path):
    """A fresh, empty database for `backend` ("sqlite" or "postgres"), dropped
    afterwards. PostgreSQL cases need WRISTBAND_TEST_POSTGRES_URL (a database
    URL beside which a throw-away database is created) and are skipped
    without it."""
    if backend == "sqlite":
        yield f"sqlite://{tmp_path / 'wristband.db'}"
        return
    assert backend == "postgres", backend
    admin_url = os.environ.get("WRISTBAND_TEST_POSTGRES_URL")
    if not admin_url:
        pytest.skip("WRISTBAND_TEST_POSTGRES_URL is not set")
    name = f"wristband_test_py_{secrets.token_hex(6)}"
    parts = urllib.parse.urlsplit(admin_url)
    url = urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))
    _psql(admin_url, f"CREATE DATABASE {name}")
    try:
        yield url
    finally:
        _psql(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class Server:
    """One `wristband serve` process; `url` is its base address."""

    def __init__(self, process, url, log_path):
        self.process = process
        self.url = url
        self.log_path = log_path

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def log(self):
        try:
            return Path(self.log_path).read_text(errors="replace")
        except OSError:
            return ""


def start_server(database_url, log_path, **settings):
    """Starts `wristband serve` (not ephemeral) in test mode on `database_url`
    on a free loopback port, with the suite's fixed secrets, bcrypt cost 4 and
    `settings` (WRISTBAND_* names) on top; waits for its listening line.
    The caller stops it (`Server.stop`), in a finally block."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WRISTBAND_")}
    env.update(
        WRISTBAND_DATABASE_URL=database_url,
        WRISTBAND_BIND="127.0.0.1:0",
        WRISTBAND_TEST_MODE="true",
        WRISTBAND_BCRYPT_COST="4",
        WRISTBAND_JWT_SECRET=JWT_SECRET,
        WRISTBAND_REFRESH_SECRET=REFRESH_SECRET,
    )
    env.update({k: str(v) for k, v in settings.items()})
    log = open(log_path, "ab")
    try:
        process = subprocess.Popen(
            [wristband_binary(), "serve"],
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
            text=True,
        )
    finally:
        log.close()
    try:
        line = process.stdout.readline()
        assert line.startswith("wristband listening on "), (
            line + Path(log_path).read_text(errors="replace")
        )
    except BaseException:
        process.kill()
        process.wait(timeout=10)
        raise
    # Keep draining stdout so a chatty server never blocks on a full pipe.
    threading.Thread(target=lambda: process.stdout.read(), daemon=True).start()
    return Server(process, line.split()[-1], log_path)


def text_get(url):
    """GET returning (status, body text): for non-JSON routes such as /metrics."""
    try:
        with urllib.request.urlopen(url) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_for(predicate, timeout, interval=0.1, what="the condition"):
    """Polls `predicate` until it returns something truthy; returns that."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
