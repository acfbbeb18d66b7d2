"""Requests the engine will not read get an answer with a status and a reason
(engine/localstack_nodocker/http_limits.py): 414 for a request line over 16 KiB, 431 for
header fields over their limits, 400 for a malformed head; never a silent close. Raw HTTP/1.1
(and TLS on the same port) against the real engine."""

import os
import socket
import ssl
import urllib.parse
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.engine import ROOT, endpoint, health

LIMIT = 16 * 1024  # Twisted's line and head limits, which the engine keeps
CA = Path(os.environ.get("LOCALSTACK_INSTALL_DIR", ROOT / ".localstack")) / "tls" / "ca.pem"
EXAMPLES = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def send(request: bytes, tls: bool = False) -> tuple[int, dict, bytes]:
    """(status, headers, body) of the engine's answer to ``request``, all of which is sent
    before anything is read, as simple clients do."""
    port = urllib.parse.urlparse(endpoint()).port or 4566
    connection = socket.create_connection(("127.0.0.1", port), timeout=30)
    if tls:
        context = ssl.create_default_context(cafile=str(CA))
        connection = context.wrap_socket(connection, server_hostname="localhost.localstack.cloud")
    with connection:
        connection.sendall(request)
        reader = connection.makefile("rb")
        status_line = reader.readline()
        assert status_line, "the engine closed the connection without an answer"
        headers = {}
        while (line := reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = reader.read(int(headers.get("content-length", 0)))
    return int(status_line.split()[1]), headers, body


def head(target: str = "/_localstack/health", fields: list[bytes] = ()) -> bytes:
    return b"\r\n".join([f"GET {target} HTTP/1.1".encode(), b"Host: localhost", *fields]) + b"\r\n\r\n"


def assert_refused(answer: tuple[int, dict, bytes], status: int, reason: str) -> None:
    code, headers, body = answer
    assert code == status, body
    assert headers["connection"] == "close" and int(headers["content-length"]) == len(body)
    assert reason in body.decode()


@pytest.fixture(autouse=True)
def still_serving(engine):
    """After each refusal the engine answers the next connection."""
    yield
    assert health() is not None


@EXAMPLES
@given(length=st.integers(LIMIT + 1, 300_000))
def test_a_request_line_over_the_limit_is_414(length):
    target = "/_localstack/health?pad=" + "a" * (length - len("GET /_localstack/health?pad= HTTP/1.1"))
    assert_refused(send(head(target)), 414, "the request line is")


@pytest.mark.parametrize("length", [LIMIT + 1, 20_000, 24_000])
def test_a_request_line_over_the_limit_is_414_over_tls_too(length):
    target = "/" + "a" * (length - len("GET / HTTP/1.1"))
    assert_refused(send(head(target), tls=True), 414, "the request line is")


@EXAMPLES
@given(length=st.integers(0, LIMIT - 200))
def test_a_request_line_within_the_limit_is_served(length):
    status, _, _ = send(head("/_localstack/health?pad=" + "a" * length, [b"Connection: close"]))
    assert status == 200


@EXAMPLES
@given(length=st.integers(LIMIT + 1, 2_000_000))
def test_a_header_field_over_the_limit_is_431(length):
    """Up to 2 MB sent before reading: the engine reads and drops the rest after answering,
    so the client gets the answer and not a reset."""
    assert_refused(send(head(fields=[b"X-Big: " + b"b" * length])), 431, "a header field is over")


@EXAMPLES
@given(count=st.integers(2, 400), data=st.data())
def test_header_fields_over_the_limit_together_are_431(count, data):
    # each field under the line limit, all of them over the head limit
    size = data.draw(st.integers(LIMIT // count + 1, min(LIMIT - 100, 60_000 // count)))
    fields = [b"X-Field-%d: %s" % (n, b"v" * size) for n in range(count)]
    assert_refused(send(head(fields=fields)), 431, "the request line and header fields are over")


@pytest.mark.parametrize("count", [501, 502, 800])
def test_more_header_fields_than_the_limit_are_431(count):
    fields = [b"X-F%d: v" % n for n in range(count)]
    assert_refused(send(head(fields=fields)), 431, "more than 500 header fields")


@pytest.mark.parametrize(
    "request_bytes",
    [
        head(fields=[b"Header without a colon"]),
        head(fields=[b"X-Nul: a\x00b"]),
        head(fields=[b"Bad Name: value"]),
        head(fields=[b"Content-Length: abc"]),
        head(fields=[b"Content-Length: -1"]),
        head(fields=[b"Content-Length: 1", b"Content-Length: 1"]),
        head(fields=[b"Transfer-Encoding: gzip"]),
        b"GET /\r\nHost: localhost\r\n\r\n",
        b"POST /_localstack/health HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
    ids=[
        "no-colon",
        "nul-in-value",
        "space-in-name",
        "length-not-a-number",
        "negative-length",
        "two-lengths",
        "unknown-transfer-encoding",
        "request-line-without-version",
        "malformed-chunk",
    ],
)
def test_a_malformed_head_is_400_with_the_reason(request_bytes):
    assert_refused(send(request_bytes), 400, "malformed request")
