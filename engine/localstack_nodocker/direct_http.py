"""The reactor's own requests (inline_requests.py) read from the bytes received and answered
into the transport, without Twisted's request object and WSGI bridge.

For a request the reactor answers itself anyway, Twisted's HTTP channel still read the head a
line at a time (a call and a Headers update per field), built a ``Request`` (headers objects,
a content file, notifications, its resource lookup), the WSGI bridge built its environment from
that, and the answer went back through the ``Request``: about a third of the engine's CPU for a
DynamoDB GetItem (py-spy, 2026-12-03), more than LocalStack's whole handler chain around moto.

``DirectHTTPChannel`` reads a request itself when it is in the plainest form and the channel is
between requests: HTTP/1.1, an origin-form target of printable ASCII, well-formed fields within
Twisted's limits, a ``Content-Length`` body of at most ``INLINE_BODY_BYTES`` (or none), no
``Transfer-Encoding`` or ``Upgrade``, no ``Connection`` but keep-alive, no ``Expect`` but
``100-continue`` (answered as Twisted answers it: boto3 sends it with every S3 PutObject).
``answered_inline`` decides once the body is here; a client waiting for 100 Continue gets it
only for a request decided on its head alone (``answered_inline_on_its_head``: S3's), since a
DynamoDB call taken early could find the DynamoDB lock held when its body comes. The gateway
gets the WSGI environment Twisted's bridge and rolo would have built (rolo's raw header list
with its casing, ``RAW_URI`` and the rest) and the answer is written as Twisted writes it:
``Server`` and ``Date`` first, the application's fields in Twisted's order and rolo's casing,
chunked when there is no ``Content-Length``, no body for HEAD, 204 and 304; a failure before
the answer begins is a 500 with the fields Twisted would have held, after it the connection is
closed and nothing behind it read. tests/engine/test_direct_http.py compares the two byte for
byte, request shapes and failures included.

Anything else, a request still arriving, and a decision that fails go to Twisted's channel
unchanged (with the bytes held so far), so its limits and answers (http_limits.py) stay the
only ones. A body longer than ``INLINE_BODY_BYTES`` goes on from a request thread, as Twisted's
bridge writes it; the channel is then handling a request for Twisted too, so reading stays
paused past ``INLINE_BODY_BYTES`` of what arrives meanwhile, which is read once it is written.
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
from localstack_nodocker.inline_requests import INLINE_BODY_BYTES, answered_inline, answered_inline_on_its_head

_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
# a target of printable ASCII only, as Twisted's _parseRequestLine accepts (it refuses the rest)
_REQUEST_LINE = re.compile(rb"(GET|HEAD|PUT|POST) (/[\x21-\x7e]*) HTTP/1\.1\r\n")
# a field at the start of its line: a token, a colon, and a value without CR, LF or NUL; a head
# whose lines are not all fields has fewer matches than lines
_FIELD = re.compile(rb"(?<=\n)(" + _TOKEN + rb"):[ \t]*([^\r\n\x00]*)\r\n")
# what Twisted's Request.getRequestHostname takes from the Host field
_HOST = re.compile(rb"^\[?(?P<host>.*?)\]?(:\d+)?$")
_NOT_HERE = frozenset({b"transfer-encoding", b"upgrade"})
# the names Twisted's Headers gives the fields it sets itself, unless the application named them
_TWISTEDS = {b"server": b"Server", b"date": b"Date", b"transfer-encoding": b"Transfer-Encoding"}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_log = Logger()


class _Request:
    """A request's head as read here, and its body once it has arrived. Positions are from the
    start of its head."""

    __slots__ = ("method", "target", "path", "query", "fields", "last", "start", "end", "body")

    def __init__(self, method, target, fields, last, start, length):
        self.method = method
        self.target = target
        self.path, _, self.query = target.partition(b"?")
        self.fields = fields  # [(name as sent, value)] in order
        self.last = last  # lower-case name -> its last value (Twisted's getHeader)
        self.start = start  # where the body starts
        self.end = start + length
        self.body = None

    @property
    def expects_continue(self) -> bool:
        return b"expect" in self.last

    def decision_arguments(self) -> tuple:
        """What inline_requests.py decides on: method, path, query, headers."""
        query = urllib.parse.parse_qs(self.query.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
        headers = {name.decode("latin-1"): value for name, value in self.last.items()}
        return self.method.decode("latin-1"), self.path.decode("latin-1"), query, headers


def _read_head(data: bytes, pos: int, max_head: int, max_fields: int):
    """The request whose head starts at ``pos``, None while the head is still arriving, or
    False: not read here (Twisted's)."""
    end = data.find(b"\r\n\r\n", pos, pos + max_head + 4)
    if end < 0:
        first_line = data.find(b"\r\n", pos, pos + max_head)
        if first_line >= 0 and not _REQUEST_LINE.match(data, pos, first_line + 2):
            return False  # Twisted answers a request line it refuses at once
        return None if len(data) - pos < max_head else False
    head_end = end + 2  # each line with its CRLF
    first = _REQUEST_LINE.match(data, pos, head_end)
    if first is None:
        return False
    fields = _FIELD.findall(data, first.end(), head_end)
    if len(fields) != data.count(b"\n", first.end(), head_end) or len(fields) > max_fields:
        return False
    if data.find(b" \r\n", pos, head_end) >= 0 or data.find(b"\t\r\n", pos, head_end) >= 0:
        fields = [(name, value.rstrip(b" \t")) for name, value in fields]  # Twisted's strip
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
    return _Request(method, target, fields, last, end + 4 - pos, int(length))


class DirectHTTPChannel(AnsweringHTTPChannel):
    """Twisted's HTTP/1.1 channel (with the engine's refusals), reading the reactor's own
    requests itself."""

    _held = b""  # bytes of a request still arriving, or that came while a long answer is written
    _taken = None  # a request taken (100 Continue written) whose body is still arriving
    _writing = False  # a long answer goes on from a request thread
    _closed = False  # lost, or closed after an answer failed part-way: nothing more is read
    _paused_timeout = None  # the idle timeout, while a long answer is written
    _ends = None  # (peer, host, URL scheme): fixed once the connection's first bytes chose TLS or not

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
        if self._closed:
            return
        if self._writing:
            self._hold_while_writing(data)
            return
        if self._held:
            data, self._held = self._held + data, b""
        elif not self._between_requests():
            return super().dataReceived(data)
        self.resetTimeout()
        pos = 0  # where the next request starts
        while pos < len(data) and not self._writing and not self._closed:
            request = self._taken or _read_head(data, pos, min(self.totalHeadersSize, self.MAX_LENGTH), self.maxHeaders)
            if request is None:
                break  # the head is still arriving
            if request is False:
                return super().dataReceived(data[pos:])
            arrived = len(data) - pos >= request.end
            if request is not self._taken:
                if arrived:
                    taken = self._takes(request, data[pos + request.start : pos + request.end])
                elif request.expects_continue:  # the client waits for 100 Continue to send the body
                    taken = self._takes(request, None)
                else:
                    break  # decided once the body is here
                if not taken:
                    return super().dataReceived(data[pos:])
                if request.expects_continue:  # as Twisted's channel, whether the body came or not
                    self.transport.write(_CONTINUE)
            if not arrived:
                self._taken = request
                break
            self._taken = None
            request.body = data[pos + request.start : pos + request.end]
            pos += request.end
            _Answer(self, request).run()
        rest = data[pos:]
        if rest and not self._closed:
            if self._writing:
                self._hold_while_writing(rest)
            else:
                self._held = rest

    def _hold_while_writing(self, data: bytes) -> None:
        """Bytes that came while a long answer is written: kept, and no more read past
        INLINE_BODY_BYTES of them, as Twisted's channel pauses a client that pipelines."""
        self._held += data
        if len(self._held) > INLINE_BODY_BYTES:
            self._networkProducer.pauseProducing()

    def _takes(self, request: _Request, body: bytes | None) -> bool:
        """Whether the reactor answers the request itself (inline_requests.py): with its body,
        or on its head alone (``body`` None). A decision that fails leaves the request to
        Twisted, whose resource decides again and answers the failure."""
        try:
            if body is None:
                return answered_inline_on_its_head(*request.decision_arguments())
            return answered_inline(*request.decision_arguments(), lambda: body)
        except Exception:
            return False

    def start_writing(self) -> None:
        """A long answer goes on from a request thread: a request under way for Twisted's
        channel too, so that it keeps reading paused (pauseProducing, resumeProducing)."""
        self._writing = True
        self._handlingRequest = True
        self._paused_timeout = self.setTimeout(None)

    def done_writing(self) -> None:
        """As Twisted's requestDone: reading resumed unless the transport is full, the timeout
        back, then the requests that came meanwhile."""
        self._writing = False
        self._handlingRequest = False
        if self._closed:
            return
        if not self._waitingForTransport:
            self._networkProducer.resumeProducing()
        self.setTimeout(self._paused_timeout)
        held, self._held = self._held, b""
        if held:
            self.dataReceived(held)

    def close_after_failure(self) -> None:
        self._closed = True
        self._held = b""
        self.transport.loseConnection()

    def connectionLost(self, reason):
        self._closed = True
        self._held = b""
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
        if self._ends is None:
            self._ends = (self.transport.getPeer(), self.transport.getHost(), "https" if self.isSecure() else "http")
        peer, host, scheme = self._ends
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
                "wsgi.url_scheme": scheme,
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
    """One response, written as Twisted's Request writes what its WSGI bridge hands it."""

    def __init__(self, channel: DirectHTTPChannel, request: _Request):
        self.channel = channel
        self.request = request
        self.status = None
        self.headers = None
        self.casing = {}  # lower-case name -> the application's casing of it, the last one (rolo)
        self.values = None  # lower-case name -> values, in Twisted's order, filled as the head is made
        self.chunked = False
        self.started = False
        self.no_body = request.method == b"HEAD"

    def start_response(self, status, headers, exc_info=None):
        if exc_info is not None and self.started:
            raise exc_info[1].with_traceback(exc_info[2])
        self.status, self.headers = status, headers
        for name, _ in headers:  # rolo remembers every name's casing before Twisted adds any
            name = name.encode("latin-1")
            self.casing[name.lower()] = name
        return self.write

    def _head(self, code: int, reason: bytes) -> bytes:
        """The status line and fields of what Twisted's Request holds, as it writes them."""
        values = self.values
        if b"content-length" not in values and not self.no_body and code not in NO_BODY_CODES:
            values[b"transfer-encoding"] = [b"chunked"]  # setRawHeaders: in place if the application set it
            self.chunked = True
        if code in NO_BODY_CODES:
            self.no_body = True
        lines = [b"HTTP/1.1 %d %s\r\n" % (code, reason)]
        for lower, field_values in values.items():
            name = self.casing.get(lower) or _TWISTEDS.get(lower, lower)
            lines.extend(b"%s: %s\r\n" % (name, value) for value in field_values)
        lines.append(b"\r\n")
        self.started = True
        return b"".join(lines)

    def head(self) -> bytes:
        """As _WSGIResponse._sendResponseHeaders: the status, then each field but Server and Date;
        a value that fails leaves the fields before it (what a 500 then carries, as Twisted's)."""
        self.values = _twisteds_fields()
        code, reason = self.status.split(None, 1)
        code, reason = int(code), reason.encode("latin-1")
        for name, value in self.headers:
            lower = name.lower()
            if lower in ("server", "date"):
                continue
            value = b" ".join(value.encode("latin-1").splitlines())  # Twisted's linear whitespace
            self.values.setdefault(lower.encode("latin-1"), []).append(value)
        return self._head(code, reason)

    def framed(self, data: bytes) -> bytes:
        if not self.started:
            head = self.head()
            return head if self.no_body else head + self.framed(data)
        if not data or self.no_body:  # HEAD, 204 and 304: what the application gives is dropped
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
            past_inline = write_inline(chunks, self.write)
            if past_inline is not None:
                self.channel.start_writing()
                reactor.getThreadPool().callInThread(self._stream, past_inline, chunks)
                return
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
        """As Twisted's bridge answers an application's exception: a 500 (with what its Request
        held by then), or, once the answer has begun, the connection closed."""
        _log.failure("WSGI application error", failure=failure)
        if self.started:
            self.channel.close_after_failure()
            return
        if self.values is None:
            self.values = _twisteds_fields()
        self.channel.transport.write(self._head(500, b"Internal Server Error"))
        if self.chunked:
            self.channel.transport.write(b"0\r\n\r\n")

    def _stream(self, first: bytes, chunks) -> None:
        """The rest of a long body, from a request thread, each chunk handed to the reactor."""
        channel = self.channel
        try:
            for chunk in itertools.chain([first], chunks):
                if channel._closed:
                    break
                if chunk:
                    blockingCallFromThread(reactor, self.write, chunk)
            close_chunks(chunks)
        except BaseException:
            reactor.callFromThread(self._fail_streamed, Failure())
            return
        reactor.callFromThread(self._finish_streamed)

    def _fail_streamed(self, failure: Failure) -> None:
        self._fail(failure)
        self.channel.done_writing()

    def _finish_streamed(self) -> None:
        if not self.channel._closed:
            self._finish()
        self.channel.done_writing()


def _twisteds_fields() -> dict:
    """The fields twisted.web.server's Request.process sets before any of the application's."""
    return {b"server": [SERVER_VERSION], b"date": [datetimeToString()]}


def write_inline(chunks, write) -> bytes | None:
    """An application's chunks written on the reactor until INLINE_BODY_BYTES are: None once all
    are (the iterable closed), else the first chunk past them, for a request thread to go on
    with, then the rest of ``chunks``."""
    written = 0
    for chunk in chunks:
        if not chunk:
            continue
        if written >= INLINE_BODY_BYTES:
            return chunk
        write(chunk)
        written += len(chunk)
    close_chunks(chunks)
    return None


def close_chunks(chunks) -> None:
    """A WSGI application's iterable closed, as the WSGI specification asks."""
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
