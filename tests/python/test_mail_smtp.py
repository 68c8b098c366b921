"""Mail through a real SMTP server (aiosmtpd): the message as a mail client
sees it, delivery after an SMTP outage and after a restart, and two instances
on one database sending each mail exactly once. Every test runs on SQLite and
on PostgreSQL (skipped without WRISTBAND_TEST_POSTGRES_URL)."""

import email
import email.policy
import re
import socket
import threading
import time

import pytest
from aiosmtpd.controller import Controller

from conftest import call, start_server, text_get, wait_for

PASSWORD = "correct horse battery staple"
MAIL_FROM = "Wristband Tests <no-reply@wristband.test>"
VERIFY_SUBJECT = "Verify your Wristband email address"
VERIFY_LINK = re.compile(r"#verify-email=([A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])")
MESSAGE_ID = re.compile(r"^<[^<>@\s]+@[^<>@\s]+>$")

BACKENDS = pytest.mark.parametrize("backend", ["sqlite", "postgres"])


class Recorder:
    """aiosmtpd handler: keeps every message it accepts."""

    def __init__(self):
        self.lock = threading.Lock()
        self.received = []  # (rcpt_tos, content bytes)

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.received.append((list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 Message accepted for delivery"

    def messages(self):
        with self.lock:
            return list(self.received)


class SmtpServer:
    """An aiosmtpd server on a fixed loopback port that can go down and come
    back on the same port, keeping what it received across restarts."""

    def __init__(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.recorder = Recorder()
        self.controller = None

    @property
    def url(self):
        return f"smtp://127.0.0.1:{self.port}"

    def start(self):
        assert self.controller is None
        controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)
        controller.start()
        self.controller = controller

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def messages(self):
        return self.recorder.messages()

    def to(self, address):
        return [content for rcpts, content in self.messages() if address in rcpts]


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def servers(tmp_path):
    """Starts Wristband processes (all stopped afterwards, whatever happens)."""
    started = []

    def start(database_url, **settings):
        log = tmp_path / f"wristband-{len(started)}.log"
        server = start_server(
            database_url, log, WRISTBAND_RATE_LIMIT_PER_MINUTE=1000, **settings
        )
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


def register(base, address):
    status, _, body = call("POST", f"{base}/auth/register", {"email": address, "password": PASSWORD})
    assert status == 201, body
    assert body["user"]["email_verified"] is False, body
    return body


def mailbox(base, address):
    status, _, mails = call("GET", f"{base}/test/mailbox?to={address}")
    assert status == 200, mails
    return mails


def metric(base, name):
    status, text = text_get(f"{base}/metrics")
    assert status == 200, text
    for line in text.splitlines():
        match = re.match(rf"^{re.escape(name)}(?:\{{[^}}]*\}})?\s+(\S+)$", line)
        if match:
            return float(match.group(1))
    raise AssertionError(f"{name} not in /metrics:\n{text}")


def parse(content):
    return email.message_from_bytes(content, policy=email.policy.default)


def advance_clock(base, by):
    status, _, body = call("POST", f"{base}/test/clock", {"advance": by})
    assert status == 200, body


def arrives_once(smtp, address, timeout):
    """Waits for a message to `address`, then a little longer: exactly one."""
    wait_for(lambda: smtp.to(address), timeout, what=f"a mail to {address}")
    time.sleep(1.5)
    messages = smtp.to(address)
    assert len(messages) == 1, [parse(m)["Message-ID"] for m in messages]
    return parse(messages[0])


@BACKENDS
def test_a_verification_mail_as_a_mail_client_sees_it(backend, database_url, smtp, servers):
    server = servers(database_url, WRISTBAND_SMTP_URL=smtp.url, WRISTBAND_MAIL_FROM=MAIL_FROM)
    address = "ada@example.com"
    register(server.url, address)

    message = arrives_once(smtp, address, timeout=5)
    assert [rcpts for rcpts, _ in smtp.messages()] == [[address]]
    assert message["From"] == MAIL_FROM
    assert message["To"] == address
    assert message["Subject"] == VERIFY_SUBJECT
    assert message["Date"] is not None and message["Date"].datetime is not None
    assert message["Date"].datetime.tzinfo is not None
    assert MESSAGE_ID.match(str(message["Message-ID"])), message["Message-ID"]

    assert message.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part.get_content() for part in message.iter_parts()}
    assert set(parts) == {"text/plain", "text/html"}, list(parts)
    tokens = {kind: VERIFY_LINK.findall(body) for kind, body in parts.items()}
    assert len(set(tokens["text/plain"])) == 1, parts["text/plain"]
    token = tokens["text/plain"][0]
    assert set(tokens["text/html"]) == {token}, parts["text/html"]
    assert f"{server.url}/#verify-email={token}" in parts["text/plain"]

    # The same mail as the test mailbox shows it, now marked sent.
    (captured,) = mailbox(server.url, address)
    assert captured["subject"] == VERIFY_SUBJECT
    assert VERIFY_LINK.findall(captured["text"]) == [token]
    assert wait_for(lambda: mailbox(server.url, address)[0]["sent_at"], 3, what="sent_at")

    status, _, user = call("POST", f"{server.url}/auth/verify-email", {"token": token})
    assert status == 200, user
    assert user["email"] == address and user["email_verified"] is True


@BACKENDS
def test_a_mail_written_during_an_smtp_outage_is_sent_once_it_ends(
    backend, database_url, smtp, servers
):
    server = servers(database_url, WRISTBAND_SMTP_URL=smtp.url)
    smtp.stop()
    address = "outage@example.com"
    register(server.url, address)

    wait_for(
        lambda: metric(server.url, "wristband_mail_failed_total") >= 1,
        5,
        what="a failed sending attempt",
    )
    (waiting,) = mailbox(server.url, address)
    assert waiting["sent_at"] is None
    assert metric(server.url, "wristband_mail_sent_total") == 0

    smtp.start()
    time.sleep(1.2)  # the worker polls every second, but the retry is 30 s away
    assert smtp.messages() == []
    advance_clock(server.url, "1m")  # the retry is due now
    message = arrives_once(smtp, address, timeout=5)
    assert message["Subject"] == VERIFY_SUBJECT
    assert wait_for(lambda: mailbox(server.url, address)[0]["sent_at"], 3, what="sent_at")
    wait_for(
        lambda: metric(server.url, "wristband_outbox_pending") == 0,
        3,
        what="an empty outbox",
    )
    assert metric(server.url, "wristband_mail_sent_total") == 1


@BACKENDS
def test_a_mail_waiting_in_the_outbox_survives_a_restart(backend, database_url, smtp, servers):
    smtp.stop()
    first = servers(database_url, WRISTBAND_SMTP_URL=smtp.url)
    address = "restart@example.com"
    register(first.url, address)
    # Stop only once the attempt is recorded (not mid-send).
    wait_for(
        lambda: metric(first.url, "wristband_mail_failed_total") >= 1,
        5,
        what="a failed sending attempt",
    )
    first.stop()

    smtp.start()
    second = servers(database_url, WRISTBAND_SMTP_URL=smtp.url)
    advance_clock(second.url, "1m")  # the new process's clock starts at real time
    message = arrives_once(smtp, address, timeout=5)
    assert message["Subject"] == VERIFY_SUBJECT
    (sent,) = mailbox(second.url, address)
    assert sent["sent_at"] is not None
    # The body, sealed by the first process, opened by the second: same link.
    assert VERIFY_LINK.findall(message.get_body(("plain",)).get_content()) == VERIFY_LINK.findall(
        sent["text"]
    )


@BACKENDS
def test_two_instances_on_one_database_send_each_mail_once(backend, database_url, smtp, servers):
    first = servers(database_url, WRISTBAND_SMTP_URL=smtp.url)
    second = servers(database_url, WRISTBAND_SMTP_URL=smtp.url)
    addresses = [f"user{n:02}@example.com" for n in range(20)]
    for n, address in enumerate(addresses):
        register((first, second)[n % 2].url, address)

    wait_for(lambda: len(smtp.messages()) >= 20, 20, interval=0.2, what="20 mails")
    time.sleep(3)
    messages = smtp.messages()
    per_address = {address: [] for address in addresses}
    for rcpts, content in messages:
        assert len(rcpts) == 1, rcpts
        assert rcpts[0] in per_address, rcpts
        per_address[rcpts[0]].append(parse(content))
    assert {a: len(m) for a, m in per_address.items() if len(m) != 1} == {}
    ids = [str(m[0]["Message-ID"]) for m in per_address.values()]
    assert len(set(ids)) == len(ids) == 20, ids
    for address, (message,) in per_address.items():
        assert message["To"] == address
        assert message["Subject"] == VERIFY_SUBJECT
    assert len(messages) == 20
    # Each instance counts what it sent itself: together exactly 20.
    sent = [metric(s.url, "wristband_mail_sent_total") for s in (first, second)]
    assert sum(sent) == 20, sent
