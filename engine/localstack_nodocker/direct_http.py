"""The reactor's own requests (inline_requests.py) read from the bytes received and answered
into the transport, without Twisted's request object and WSGI bridge.

For a request the reactor answers itself anyway, Twisted's HTTP channel still read the head a
line at a time (a call and a Headers update per field), built a ``Request`` (headers objects,
a content file, notifications, its resource lookup), the WSGI bridge built its environment from
that, and the answer went back through the ``Request``: about a third of the engine's CPU for a
DynamoDB GetItem (py-spy, 2026-12-03), more than LocalStack's whole handler chain around moto.

``DirectHTTPChannel`` reads a request itself when it is in the plainest form and the channel is
between requests: HTTP/1.1, an origin-form target, well-formed fields within Twisted's limits,
a ``Content-Length`` body of at most ``INLINE_BODY_BYTES`` (or none), no ``Transfer-Encoding``
or ``Upgrade``, no ``Connection`` but keep-alive, no ``Expect`` but ``100-continue`` (answered as
Twisted answers it: boto3 sends it with every S3 PutObject), a target that decodes as UTF-8.
If ``answered_inline`` takes it (on the head alone when the client waits for 100 Continue,
else once the body is here), the gateway gets the WSGI environment Twisted's bridge and
rolo would have built (rolo's raw header list with its casing, ``RAW_URI`` and the rest) and
the answer is written as Twisted writes it: ``Server`` and ``Date`` first, the application's
fields in Twisted's order and rolo's casing, chunked when there is no ``Content-Length``, no
body for HEAD, 204 and 304. tests/engine/test_direct_http.py compares the two byte for byte.

Anything else, and a request still arriving, goes to Twisted's channel unchanged (with the
bytes held so far), so its limits and answers (http_limits.py) stay the only ones. A body
longer than ``INLINE_BODY_BYTES`` goes on from a request thread, as Twisted's bridge writes
it, and requests that arrive meanwhile wait until it is written (reading paused past
``INLINE_BODY_BYTES`` of them).
"""

import io
import itertools
import re
import sys
import urllib.parse

from twisted.internet import reactor
from twisted.internet.threads import blockingCallFromThread
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.http import NO_BODY_CODES, _GenericHTTPChannelProtocol, datetimeToString
from twisted.web.server import version as SERVER_VERSION

from localstack_nodocker.http_limits import AnsweringHTTPChannel
from localstack_nodocker.inline_requests import INLINE_BODY_BYTES, answered_inline

_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_REQUEST_LINE = re.compile(rb"(GET|HEAD|PUT|POST) (/[^ \r\n]*) HTTP/1\.1\r\n")
# a field at the start of its line: a token, a colon, and a value without CR, LF or NUL; a head
# whose lines are not all fields has fewer matches than lines
_FIELD = re.compile(rb"(?<=\n)(" + _TOKEN + rb"):[ \t]*([^\r\n\x00]*)\r\n")
# what Twisted's Request.getRequestHostname takes from the Host field
_HOST = re.compile(rb"^\[?(?P<host>.*?)\]?(:\d+)?$")
_NOT_HERE = frozenset({b"transfer-encoding", b"upgrade"})
_LINEAR_WHITESPACE = re.compile(rb"\r\n|\r|\n")
_log = Logger()


class _Request:
    """A request's head as read here, and its body once it has arrived."""

    __slots__ = ("method", "target", "path", "query", "fields", "last", "start", "length", "body")

    def __init__(self, method, target, fields, last, start, length):
        self.method = method
        self.target = target
        self.path, _, self.query = target.partition(b"?")
        self.fields = fields  # [(name as sent, value)] in order
        self.last = last  # lower-case name -> its last value (Twisted's getHeader)
        self.start = start  # where the body starts in the bytes read
        self.length = length
        self.body = None

    @property
    def end(self) -> int:
        return self.start + self.length

    @property
    def expects_continue(self) -> bool:
        return b"expect" in self.last


def _read_head(data: bytes, max_head: int, max_fields: int):
    """The request whose head ``data`` starts with, None while the head is still arriving, or
    False: not read here."""
    end = data.find(b"\r\n\r\n", 0, max_head + 4)
    if end < 0:
        return None if len(data) < max_head else False
    head = data[: end + 2]  # each line with its CRLF
    first = _REQUEST_LINE.match(head)
    if first is None:
        return False
    fields = _FIELD.findall(head, first.end())
    if len(fields) != head.count(b"\n") - 1 or len(fields) > max_fields:
        return False
    if b" \r\n" in head or b"\t\r\n" in head:  # blanks after a value: not part of it (Twisted's strip)
        fields = [(name, value.rstrip(b" \t")) for name, value in fields]
    last = {name.lower(): value for name, value in fields}
    if not _NOT_HERE.isdisjoint(last):
        return False
    if len(last) < len(fields):  # a name repeated: Twisted reads the first Connection, refuses two lengths
        names = [name.lower() for name, _ in fields]
        if any(names.count(name) > 1 for name in (b"content-length", b"connection", b"expect")):
            return False
    connection = last.get(b"connection")
    if connection is not None and connection.lower() != b"keep-alive":
        return False
    if last.get(b"expect", b"100-continue").lower() != b"100-continue":  # the one Twisted answers
        return False
    length = last.get(b"content-length", b"0")
    if not length.isdigit() or int(length) > INLINE_BODY_BYTES:
        return False
    method, target = first.groups()
    try:
        target.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return _Request(method, target, fields, last, end + 4, int(length))


class _BodyNotYet(Exception):
    """The decision needs a body that has not arrived."""


class DirectHTTPChannel(AnsweringHTTPChannel):
    """Twisted's HTTP/1.1 channel (with the engine's refusals), reading the reactor's own
    requests itself."""

    _held = b""  # bytes of a request still arriving, or that came while a long answer is written
    _taken = None  # a request taken (100 Continue written) whose body is still arriving
    _writing = False  # a long answer goes on from a request thread
    _lost = False
    _paused_timeout = None  # the idle timeout, while a long answer is written
    _paused = False  # reading paused while a long answer is written

    @staticmethod
    def protocol_factory():
        """As ``AnsweringHTTPChannel.protocol_factory``, with this channel."""
        return _GenericHTTPChannelProtocol(DirectHTTPChannel())

    def _between_requests(self) -> bool:
        """Twisted's channel holds no part of a request: none under way, nothing buffered."""
        return (
            not self.requests
            and not self._handlingRequest
            and not self._refused
            and self.line_mode
            and not self._buffer
            and self._reading_request_line()
        )

    def dataReceived(self, data):
        if self._writing:
            self._hold_while_writing(data)
            return
        if self._held:
            data, self._held = self._held + data, b""
        elif not self._between_requests():
            return super().dataReceived(data)
        self.resetTimeout()
        while data and not self._writing and not self._lost:
            request = self._taken or _read_head(data, min(self.totalHeadersSize, self.MAX_LENGTH), self.maxHeaders)
            if request is None:
                self._held = data  # the head is still arriving
                return
            if request is False:
                break
            arrived = len(data) >= request.end
            if request is not self._taken:
                if not arrived and not request.expects_continue:
                    self._held = data  # decided once the body is here
                    return
                if not self._takes(request, data[request.start : request.end] if arrived else None):
                    break
                if request.expects_continue:  # as Twisted's channel, whether the body came or not
                    self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            if not arrived:
                self._taken, self._held = request, data
                return
            self._taken = None
            request.body = data[request.start : request.end]
            data = data[request.end :]
            _Answer(self, request).run()
        if self._writing:
            self._hold_while_writing(data)
        elif data and not self._lost:
            super().dataReceived(data)

    def _hold_while_writing(self, data: bytes) -> None:
        """Bytes that came while a long answer is written: kept, and no more read past
        INLINE_BODY_BYTES of them (as Twisted's channel pauses a pipelining client)."""
        self._held += data
        if len(self._held) > INLINE_BODY_BYTES and not self._paused:
            self._paused = True
            self.transport.pauseProducing()

    def _takes(self, request: _Request, body: bytes | None) -> bool:
        """Whether the reactor answers the request itself (inline_requests.py)."""

        def read_body() -> bytes:
            if body is None:
                raise _BodyNotYet
            return body

        query = urllib.parse.parse_qs(request.query.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
        headers = {name.decode("latin-1"): value for name, value in request.last.items()}
        try:
            return answered_inline(
                request.method.decode("latin-1"), request.path.decode("latin-1"), query, headers, read_body
            )
        except _BodyNotYet:
            return False

    def connectionLost(self, reason):
        self._lost = True
        super().connectionLost(reason)

    # --- the answer ------------------------------------------------------------------------

    def environ(self, request: _Request) -> dict:
        """The WSGI environment Twisted's bridge and rolo (update_wsgi_environment) build."""
        fields = request.fields
        if len(request.last) < len(fields):  # a name repeated: one entry, its values in order, as Twisted's Headers
            grouped = {}
            for name, value in fields:
                entry = grouped.setdefault(name.lower(), [name, []])
                entry[0] = name  # rolo's casing: the last one sent
                entry[1].append(value)
            fields = [(name, b",".join(values)) for name, values in grouped.values()]
            raw = [(name, value) for name, values in grouped.values() for value in values]
        else:
            raw = fields
        peer, host = self.transport.getPeer(), self.transport.getHost()
        found = _HOST.match(request.last.get(b"host", b""))
        server_name = found.group("host") if b"host" in request.last and found else host.host.encode()
        uri = request.target.decode("utf-8")
        environ = {
            "REQUEST_METHOD": request.method.decode("latin-1"),
            "REMOTE_ADDR": peer.host,
            "REMOTE_PORT": str(peer.port),
            "SCRIPT_NAME": "",
            "PATH_INFO": urllib.parse.unquote_to_bytes(request.path).decode("latin-1"),
            "QUERY_STRING": request.query.decode("latin-1"),
            "CONTENT_TYPE": request.last.get(b"content-type", b"").decode("latin-1"),
            "CONTENT_LENGTH": request.last.get(b"content-length", b"").decode("latin-1"),
            "SERVER_NAME": server_name.decode("latin-1"),
            "SERVER_PORT": str(host.port),
            "SERVER_PROTOCOL": "HTTP/1.1",
        }
        for name, value in fields:
            environ["HTTP_" + name.decode("latin-1").upper().replace("-", "_")] = value.decode("latin-1")
        environ.update(
            {
                "wsgi.version": (1, 0),
                "wsgi.url_scheme": "https" if self.isSecure() else "http",
                "wsgi.run_once": False,
                "wsgi.multithread": True,
                "wsgi.multiprocess": False,
                "wsgi.errors": sys.stderr,
                "wsgi.input": io.BytesIO(request.body),
                "rolo.headers": raw,
                "wsgi.input_terminated": True,
                "REQUEST_URI": uri,
                "RAW_URI": uri,
            }
        )
        return environ


class _Answer:
    """One response, written as Twisted's Request writes a WSGI application's answer."""

    def __init__(self, channel: DirectHTTPChannel, request: _Request):
        self.channel = channel
        self.request = request
        self.status = None
        self.headers = None
        self.chunked = False
        self.started = False

    def start_response(self, status, headers, exc_info=None):
        if exc_info is not None and self.started:
            raise exc_info[1].with_traceback(exc_info[2])
        self.status, self.headers = status, headers
        return self.write

    def head(self) -> bytes:
        code, reason = self.status.split(None, 1)
        fields = {b"server": [b"Server", [SERVER_VERSION]], b"date": [b"Date", [datetimeToString()]]}
        for name, value in self.headers:
            name = name.encode("latin-1")
            lower = name.lower()
            if lower in (b"server", b"date"):
                fields[lower][0] = name  # the application's casing, not its value (as Twisted)
                continue
            entry = fields.setdefault(lower, [name, []])
            entry[0] = name
            entry[1].append(_LINEAR_WHITESPACE.sub(b" ", value.encode("latin-1")))
        if b"content-length" not in fields and self.request.method != b"HEAD" and int(code) not in NO_BODY_CODES:
            fields[b"transfer-encoding"] = [b"Transfer-Encoding", [b"chunked"]]
            self.chunked = True
        lines = [b"HTTP/1.1 %s %s\r\n" % (code.encode("latin-1"), reason.encode("latin-1"))]
        lines.extend(b"%s: %s\r\n" % (name, value) for name, values in fields.values() for value in values)
        lines.append(b"\r\n")
        return b"".join(lines)

    def framed(self, data: bytes) -> bytes:
        if not self.started:
            self.started = True
            head = self.head()
            if self.request.method == b"HEAD" or int(self.status.split(None, 1)[0]) in NO_BODY_CODES:
                self.chunked = False
                self.write = lambda data: None
                return head
            return head + self.framed(data)
        if not data:
            return b""
        return b"%x\r\n%s\r\n" % (len(data), data) if self.chunked else data

    def write(self, data: bytes) -> None:
        framed = self.framed(data)
        if framed:
            self.channel.transport.write(framed)

    def run(self) -> None:
        """The gateway on the reactor thread; the chunks past INLINE_BODY_BYTES from a request thread."""
        application = self.channel.site.application
        try:
            chunks = iter(application(self.channel.environ(self.request), self.start_response))
            written = 0
            for chunk in chunks:
                if not chunk:
                    continue
                if written >= INLINE_BODY_BYTES:
                    self.channel._writing = True
                    self.channel._paused_timeout = self.channel.setTimeout(None)
                    reactor.getThreadPool().callInThread(self._stream, chunk, chunks)
                    return
                self.write(chunk)
                written += len(chunk)
            _close(chunks)
        except BaseException:
            self._fail(Failure())
            return
        self._finish()

    def _finish(self) -> None:
        if not self.started:
            self.write(b"")
        if self.chunked:
            self.channel.transport.write(b"0\r\n\r\n")

    def _fail(self, failure: Failure) -> None:
        """As Twisted's bridge answers an application's exception: 500, or the connection closed."""
        _log.failure("WSGI application error", failure=failure)
        if self.started:
            self.channel.transport.loseConnection()
            return
        self.status, self.headers = "500 Internal Server Error", []
        self._finish()

    def _stream(self, first: bytes, chunks) -> None:
        """The rest of a long body, from a request thread, each chunk handed to the reactor."""
        channel = self.channel
        try:
            for chunk in itertools.chain([first], chunks):
                if channel._lost:
                    break
                if chunk:
                    blockingCallFromThread(reactor, self.write, chunk)
            _close(chunks)
        except BaseException:
            reactor.callFromThread(self._fail, Failure())
            reactor.callFromThread(self._done)
            return
        reactor.callFromThread(self._finish_streamed)

    def _finish_streamed(self) -> None:
        if not self.channel._lost:
            self._finish()
        self._done()

    def _done(self) -> None:
        channel = self.channel
        channel._writing = False
        channel.setTimeout(channel._paused_timeout)
        if channel._paused:
            channel._paused = False
            channel.transport.resumeProducing()
        held, channel._held = channel._held, b""
        if held and not channel._lost:
            channel.dataReceived(held)


def _close(chunks) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
