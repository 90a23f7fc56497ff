"""Abuse of the local SMTP receiver: each case answers with a clear SMTP code, never leaves the
client waiting (every socket operation has a timeout), leaves the receiver working, and talks
to localhost only. No case asserts how long it took: on a loaded machine a 40 MB transfer is
slow, and that is not a failure."""

from __future__ import annotations

import smtplib
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from ses_lambda_localcloud import report, runtime, sender
from ses_lambda_localcloud.server import LocalCloud
from ses_lambda_localcloud.target import Target

from .conftest import wait_until

DOMAIN = "abuse.example.com"
#: The SMTP idle timeout while a stalled-client test runs (the session's cloud keeps the
#: default 30 s, so that a slow transfer on a loaded machine is never mistaken for a stall).
SMTP_TIMEOUT = 1.5
#: The client's socket timeout: no reply within this many seconds fails the case.
BOUND = SMTP_TIMEOUT + 5
#: The client's socket timeout for the 40 MB transfer, which a loaded machine makes slow.
TRANSFER_BOUND = 120


@pytest.fixture
def short_idle_timeout(cloud: LocalCloud) -> Iterator[float]:
    """New SMTP connections time out after SMTP_TIMEOUT seconds of silence."""
    default = cloud.smtp.idle_timeout
    cloud.smtp.idle_timeout = SMTP_TIMEOUT
    yield SMTP_TIMEOUT
    cloud.smtp.idle_timeout = default


@pytest.fixture
def receiving(fresh: LocalCloud, aws: Callable[[str], Any], target: Target) -> Iterator[Target]:
    ses = aws("ses")
    ses.verify_domain_identity(Domain=DOMAIN)
    ses.create_receipt_rule_set(RuleSetName="abuse")
    ses.create_receipt_rule(
        RuleSetName="abuse",
        Rule={"Name": "all", "Enabled": True, "Recipients": [DOMAIN], "Actions": []},
    )
    ses.set_active_receipt_rule_set(RuleSetName="abuse")
    yield target
    # The receiver still works for a well-behaved client.
    sent = sender.send(
        target,
        b"Subject: ok\r\n\r\nok\r\n",
        recipients=[f"ok@{DOMAIN}"],
        mail_from="good@example.org",
    )
    assert sent.message_id, sent.rejected


@contextmanager
def raw_connection(target: Target) -> Iterator[tuple[socket.socket, Any]]:
    sock = socket.create_connection(("localhost", target.smtp_port), timeout=BOUND)
    reader = sock.makefile("rb")
    try:
        assert reader.readline().startswith(b"220 ")
        yield sock, reader
    finally:
        reader.close()
        sock.close()


def command(sock: socket.socket, reader: Any, line: bytes) -> bytes:
    sock.sendall(line + b"\r\n")
    reply = b""
    while True:
        part = reader.readline()
        reply += part
        if len(part) < 4 or part[3:4] != b"-":
            return reply


def test_oversized_message_announced_with_size_is_refused_at_mail_from(receiving: Target) -> None:
    with smtplib.SMTP("localhost", receiving.smtp_port, timeout=BOUND) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("size")
        assert int(smtp.esmtp_features["size"]) == runtime.MAX_MESSAGE_BYTES
        code, reply = smtp.mail("big@example.org", [f"SIZE={runtime.MAX_MESSAGE_BYTES + 1}"])
        assert code == 552 and b"5.3.4" in reply


def test_oversized_data_is_refused_with_552_and_nothing_is_stored(receiving: Target) -> None:
    body = b"Subject: huge\r\n\r\n" + (b"x" * 998 + b"\r\n") * (
        runtime.MAX_MESSAGE_BYTES // 1000 + 10
    )
    assert len(body) > runtime.MAX_MESSAGE_BYTES
    before = len(report.messages(receiving))
    with smtplib.SMTP("localhost", receiving.smtp_port, timeout=TRANSFER_BOUND) as smtp:
        smtp.ehlo()
        smtp.mail("big@example.org")
        smtp.rcpt(f"to@{DOMAIN}")
        code, reply = smtp.data(body)
        assert code == 552
        assert b"5.3.4" in reply and b"SES limit" in reply
        assert smtp.noop()[0] == 250  # the session goes on
    assert len(report.messages(receiving)) == before


def test_recipients_beyond_the_rfc_5321_hundred_get_452(receiving: Target) -> None:
    with smtplib.SMTP("localhost", receiving.smtp_port, timeout=BOUND) as smtp:
        smtp.ehlo()
        smtp.mail("many@example.org")
        codes = [smtp.rcpt(f"r{i}@{DOMAIN}") for i in range(runtime.MAX_RECIPIENTS + 2)]
        assert [c for c, _ in codes[: runtime.MAX_RECIPIENTS]] == [250] * runtime.MAX_RECIPIENTS
        for code, reply in codes[runtime.MAX_RECIPIENTS :]:
            assert code == 452 and b"RFC 5321 4.5.3.1.8" in reply
        code, reply = smtp.data(b"Subject: many\r\n\r\nhi\r\n")
        assert code == 250
    message_id = reply.decode().split()[-1]
    record = sender.wait_for(receiving, message_id, timeout=10)
    assert len(record["recipients"]) == runtime.MAX_RECIPIENTS


def test_garbage_commands_get_500_then_the_connection_is_closed(receiving: Target) -> None:
    with raw_connection(receiving) as (sock, reader):
        assert command(sock, reader, b"EHLO abuser").startswith(b"250")
        assert command(sock, reader, b"HACK the planet").startswith(b"500")
        assert command(sock, reader, b"\x00\xff\xfe binary").startswith(b"500")
        for _ in range(20):
            reply = command(sock, reader, b"XYZZY")
            if not reply.startswith(b"500"):
                break
        assert reply.startswith(b"502 5.5.1 Too many unrecognized commands")
        assert reader.readline() == b""  # closed by the server


def test_overlong_command_lines_are_refused(receiving: Target) -> None:
    with raw_connection(receiving) as (sock, reader):
        command(sock, reader, b"EHLO abuser")
        reply = command(sock, reader, b"MAIL FROM:<" + b"a" * 2000 + b"@example.org>")
        assert reply.startswith(b"500")
        assert command(sock, reader, b"NOOP").startswith(b"250")


def test_commands_out_of_order_and_bad_addresses(receiving: Target) -> None:
    with raw_connection(receiving) as (sock, reader):
        command(sock, reader, b"EHLO abuser")
        assert command(sock, reader, b"DATA").startswith(b"503")
        assert command(sock, reader, b"RCPT TO:<a@abuse.example.com>").startswith(b"503")
        assert command(sock, reader, b"MAIL FROM:<x@example.org>").startswith(b"250")
        assert command(sock, reader, b"RCPT TO:<not-an-address>").startswith(b"501")
        assert command(sock, reader, b"RCPT TO:<a@elsewhere.example.net>").startswith(b"550")


def test_a_stalled_client_is_disconnected_with_421(
    receiving: Target, short_idle_timeout: float
) -> None:
    started = time.monotonic()
    with raw_connection(receiving) as (sock, reader):
        command(sock, reader, b"EHLO sleepy")
        reply = reader.readline()  # say nothing more, and wait
    assert reply.startswith(b"421 4.4.2")
    # Not before the idle timeout (no later than BOUND: the socket's timeout).
    assert time.monotonic() - started > SMTP_TIMEOUT - 0.5


def test_a_client_stalling_in_data_is_disconnected_and_nothing_is_stored(
    receiving: Target, short_idle_timeout: float
) -> None:
    before = len(report.messages(receiving))
    with raw_connection(receiving) as (sock, reader):
        command(sock, reader, b"EHLO sleepy")
        command(sock, reader, b"MAIL FROM:<slow@example.org>")
        command(sock, reader, f"RCPT TO:<to@{DOMAIN}>".encode())
        assert command(sock, reader, b"DATA").startswith(b"354")
        sock.sendall(b"Subject: half a message\r\n\r\nand then nothing")
        reply = reader.readline()
    assert reply.startswith(b"421 4.4.2")
    assert len(report.messages(receiving)) == before


def test_a_slow_but_steady_data_transfer_is_not_cut_off(
    receiving: Target, short_idle_timeout: float
) -> None:
    # The whole DATA takes longer than the idle timeout, but no pause is as long as it.
    with raw_connection(receiving) as (sock, reader):
        command(sock, reader, b"EHLO steady")
        command(sock, reader, b"MAIL FROM:<steady@example.org>")
        command(sock, reader, f"RCPT TO:<to@{DOMAIN}>".encode())
        assert command(sock, reader, b"DATA").startswith(b"354")
        sock.sendall(b"Subject: slowly\r\n\r\n")
        started = time.monotonic()
        while time.monotonic() - started < 2 * SMTP_TIMEOUT:
            sock.sendall(b"one more line\r\n")
            time.sleep(SMTP_TIMEOUT / 5)
        reply = command(sock, reader, b".")
    assert reply.startswith(b"250 "), reply


def test_too_many_connections_are_refused_with_421(receiving: Target, cloud: LocalCloud) -> None:
    # Connections of earlier tests are gone (the server may see their ends a little later).
    wait_until(lambda: cloud.smtp._counter[0] == 0, timeout=BOUND)
    sockets = []
    try:
        for _ in range(20):
            sock = socket.create_connection(("localhost", receiving.smtp_port), timeout=BOUND)
            sockets.append(sock)
            assert sock.recv(1024).startswith(b"220 ")
        extra = socket.create_connection(("localhost", receiving.smtp_port), timeout=BOUND)
        sockets.append(extra)
        assert extra.recv(1024).startswith(b"421 4.7.0 Too many connections")
    finally:
        for sock in sockets:
            sock.close()
    time.sleep(0.2)  # let the server see the closes before the final check


def test_the_receiver_listens_on_localhost_only(cloud: LocalCloud) -> None:
    addresses = {s.getsockname()[0] for s in cloud.smtp.server.sockets}
    assert addresses <= {"127.0.0.1", "::1"}
    for server in cloud._servers:
        assert server.server_address[0] in ("127.0.0.1", "::1")
