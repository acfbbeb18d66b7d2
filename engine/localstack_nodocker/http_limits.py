"""An answer, with a status and a reason, to every HTTP/1.1 request the engine will not read.

Twisted's HTTP channel (under LocalStack's gateway) reads a request line or a header line
of at most ``MAX_LENGTH`` bytes (16 KiB), a head (request line and header fields) of at most
``totalHeadersSize`` (16 KiB) and at most ``maxHeaders`` (500) fields. Past a line's limit it
closed the connection without a word (``LineReceiver.lineLengthExceeded``); past the others,
and for a malformed head, it wrote a bare ``400 Bad Request`` and closed at once, which a
client still sending its request sees as a reset instead. AWS answers such requests. This
channel keeps the limits and answers:

- 414 URI Too Long: the request line alone is over the limit;
- 431 Request Header Fields Too Large: a header line or the whole head is over the limit,
  or there are more fields than ``maxHeaders``;
- 400 Bad Request: a malformed request line or header field, an invalid Content-Length or
  Transfer-Encoding, malformed chunked data.

Each answer carries the reason, ``Content-Length`` and ``Connection: close``. The channel then
reads and drops what the client still sends until it closes, or for ``LINGER_S`` seconds at
most, so that a client that writes its whole request before reading gets the answer and not
a connection reset (RFC 9112, section 9.6).

``_respondToBadRequestAndDisconnect`` and the ``_received*`` counters are Twisted internals
(the channel has no public hook for these refusals): they are seam.py targets, so a Twisted
without them stops the engine's start naming them, instead of the engine silently dropping
connections again.
"""

from rolo.serving.twisted import HeaderPreservingHTTPChannel
from twisted.web.http import _GenericHTTPChannelProtocol

LINGER_S = 5.0

_PHRASES = {400: b"Bad Request", 414: b"URI Too Long", 431: b"Request Header Fields Too Large"}


class AnsweringHTTPChannel(HeaderPreservingHTTPChannel):
    _refused = False

    @staticmethod
    def protocol_factory():
        """As ``HeaderPreservingHTTPChannel.protocol_factory`` (HTTP/2 when negotiated too)."""
        return _GenericHTTPChannelProtocol(AnsweringHTTPChannel())

    def _reading_request_line(self) -> bool:
        # the count of head bytes is zero until the request line is read, and again after
        # each request (allContentReceived resets it)
        return self._receivedHeaderSize == 0

    def _refuse(self, status: int, reason: str) -> None:
        if self._refused:
            return
        self._refused = True
        body = f"{status} {_PHRASES[status].decode()}: {reason}\n".encode()
        self.transport.write(
            b"HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n%s" % (status, _PHRASES[status], len(body), body)
        )
        self.setRawMode()  # the rest of the buffer, and what follows, goes to rawDataReceived: dropped
        self.setTimeout(LINGER_S)  # then HTTPChannel.timeoutConnection closes (and aborts if need be)

    def dataReceived(self, data):
        if self._refused:
            return  # not resetting the timeout: the linger has a fixed end
        super().dataReceived(data)

    def rawDataReceived(self, data):
        if self._refused:
            return
        super().rawDataReceived(data)

    def lineReceived(self, line):
        if self._receivedHeaderSize + len(line) > self.totalHeadersSize:
            if self._reading_request_line():
                self._refuse(414, f"the request line is {len(line)} bytes, over the limit of {self.totalHeadersSize}")
            else:
                self._refuse(431, f"the request line and header fields are over {self.totalHeadersSize} bytes")
            return
        super().lineReceived(line)

    def lineLengthExceeded(self, line):
        if self._reading_request_line():
            self._refuse(414, f"the request line is over {self.MAX_LENGTH} bytes")
        else:
            self._refuse(431, f"a header field is over {self.MAX_LENGTH} bytes")

    def headerReceived(self, line):
        if self._receivedHeaderCount >= self.maxHeaders:
            self._refuse(431, f"more than {self.maxHeaders} header fields")
            return False
        return super().headerReceived(line)

    def _respondToBadRequestAndDisconnect(self):
        self._refuse(
            400,
            "malformed request: the request line or a header field is not HTTP/1.1, "
            "or Content-Length, Transfer-Encoding or the chunked body is invalid",
        )
