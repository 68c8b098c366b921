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
