"""The engine reads the reactor's own requests itself (engine/localstack_nodocker/direct_http.py)
and answers them as Twisted's channel and WSGI bridge would: the same environment for the
gateway, the same bytes on the wire (but for the Date), whatever the request's shape and
however its bytes arrive. Compared side by side in the engine's interpreter, with a gateway
that records what it is given; then against the real engine over HTTP."""

import json
import socket
import urllib.parse

import boto3
import pytest

from tests.engine.test_request_cost import in_engine_interpreter
from tests.support.engine import endpoint

COMPARE_CHANNELS = r"""
import json, re, sys
from twisted.internet.address import IPv4Address
from localstack_nodocker import direct_http, dynamodb_requests
from localstack_nodocker.http_limits import AnsweringHTTPChannel
from localstack_nodocker.request_cost import EngineSite

class Transport:
    '''What the channel writes (the engine is installed without Twisted's test transport).'''
    disconnecting = False
    def __init__(self):
        self.written = []
    def write(self, data):
        self.written.append(data)
    def writeSequence(self, data):
        self.written.extend(data)
    def getPeer(self):
        return IPv4Address("TCP", "127.0.0.1", 50123)
    def getHost(self):
        return IPv4Address("TCP", "127.0.0.1", 4566)
    def loseConnection(self):
        self.disconnecting = True
    abortConnection = loseConnection

class RecordingGateway:
    '''Records what the gateway is given; answers as the request's X-Answer field says.'''
    def __init__(self):
        self.seen = []
    def accept(self, request):
        raise AssertionError("no websockets here")
    def process(self, request, response):
        environ = {k: v for k, v in request.environ.items() if k not in ("wsgi.input", "wsgi.errors", "werkzeug.request")}
        self.seen.append({"environ": sorted(map(repr, environ.items())), "headers": list(request.headers.items()),
                          "body": request.get_data().decode("latin-1"), "path": request.path, "args": sorted(request.args.items(multi=True))})
        answer = request.headers.get("X-Answer", "plain")
        if answer == "plain":
            response.set_data(b'{"Item": {}}')
            response.headers["x-amzn-RequestId"] = "r1"
            response.headers.add("X-Dup", "1")
            response.headers.add("x-dup", "2")
            response.headers["Content-Type"] = "application/x-amz-json-1.0"
        elif answer == "chunked":
            response.response = iter([b"a", b"", b"bc" * 50])
        elif answer == "empty":
            response.status_code = 204
        elif answer == "error":
            response.status_code = 400
            response.set_data(b"<Error><Code>NoSuchKey</Code></Error>")
        elif answer == "own-fields":
            response.headers["server"] = "app"
            response.headers["DATE"] = "yesterday"
            response.headers["transfer-encoding"] = "chunked"
            response.response = iter([b"abc"])
        elif answer == "raise":
            raise RuntimeError("the gateway failed")
        elif answer == "raise-late":
            def late():
                yield b"a"
                raise RuntimeError("the gateway failed part-way")
            response.response = late()
        elif answer == "not-latin-1":
            response.headers["X-Before"] = "1"
            response.headers["Content-Disposition"] = request.args.get("response-content-disposition")
            response.set_data(b"x")

def serve(channel_factory, pieces, case):
    gateway = RecordingGateway()
    site = EngineSite(gateway)
    if channel_factory is not None:
        site.protocol = channel_factory
    protocol = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 4566))
    transport = Transport()
    protocol.makeConnection(transport)
    for number, piece in enumerate(pieces):
        if number == 1 and case.get("dynamodb_busy"):  # another DynamoDB request under way meanwhile
            dynamodb_requests.REQUEST_LOCK.acquire()
        protocol.dataReceived(piece)
    if case.get("dynamodb_busy") and len(pieces) > 1:
        dynamodb_requests.REQUEST_LOCK.release()
    wire = re.sub(rb"(?im)^(date: )[^\r]*", rb"\1-", b"".join(transport.written))
    return wire.decode("latin-1"), gateway.seen, transport.disconnecting

direct = 0
run = direct_http._Answer.run
def counting_run(self):
    global direct
    direct += 1
    run(self)
direct_http._Answer.run = counting_run

cases = json.loads(sys.argv[1])
results = []
for case in cases:
    raw = case["raw"].encode("latin-1")
    cut = case.get("cut") or [len(raw)]
    pieces = [raw[a:b] for a, b in zip([0] + cut, cut + [len(raw)]) if raw[a:b]]
    before = direct
    twisted = serve(AnsweringHTTPChannel.protocol_factory, pieces, case)
    assert direct == before, "the Twisted side answered directly"
    ours = serve(None, pieces, case)
    results.append({"twisted": twisted, "direct": ours, "answered_directly": direct - before})
print(json.dumps(results))
"""

S3_AUTH = "Authorization: AWS4-HMAC-SHA256 Credential=test/20261203/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00"
DDB = [
    "X-Amz-Target: DynamoDB_20120810.GetItem",
    "Content-Type: application/x-amz-json-1.0",
    "Authorization: AWS4-HMAC-SHA256 Credential=test/20261203/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00",
]
BODY = '{"TableName": "t", "Key": {"k": {"S": "\u00e9"}}}'


def request(line: str, fields: list[str], body: str = "") -> str:
    fields = [*fields, f"Content-Length: {len(body.encode('latin-1'))}"] if body else fields
    return "\r\n".join([line, *fields]) + "\r\n\r\n" + body


GET_ITEM = request("POST / HTTP/1.1", ["Host: localhost:4566", *DDB], BODY)

# (case, answered directly): each request as a client may send it, and how its bytes arrive
CASES = {
    "a DynamoDB call": (GET_ITEM, 1),
    "its bytes one at a time": ({"raw": GET_ITEM, "cut": list(range(1, len(GET_ITEM)))}, 1),
    "the head, then the body": ({"raw": GET_ITEM, "cut": [GET_ITEM.index("\r\n\r\n") + 4]}, 1),
    "two pipelined": (GET_ITEM + GET_ITEM, 2),
    "a chunked answer": (request("POST / HTTP/1.1", ["Host: localhost", "X-Answer: chunked", *DDB], BODY), 1),
    "an empty answer": (request("POST / HTTP/1.1", ["Host: localhost", "X-Answer: empty", *DDB], BODY), 1),
    "an error": (request("POST / HTTP/1.1", ["Host: localhost", "X-Answer: error", *DDB], BODY), 1),
    "the application's Server, Date and Transfer-Encoding": (
        request("POST / HTTP/1.1", ["Host: localhost", "X-Answer: own-fields", *DDB], BODY),
        1,
    ),
    "the gateway failing, a request behind": (
        request("POST / HTTP/1.1", ["Host: localhost", "X-Answer: raise", *DDB], BODY) + GET_ITEM,
        2,
    ),
    "the gateway failing part-way, a request behind (not answered)": (
        request("POST / HTTP/1.1", ["Host: localhost", "X-Answer: raise-late", *DDB], BODY) + GET_ITEM,
        1,
    ),
    "a field value outside latin-1, a request behind": (
        request(
            "GET /bucket/key?response-content-disposition=%E6%97%A5 HTTP/1.1",
            ["Host: localhost", "X-Answer: not-latin-1", S3_AUTH],
        )
        + GET_ITEM,
        2,
    ),
    "fields in odd cases, repeated, with blanks": (
        request(
            "POST / HTTP/1.1",
            ["hOsT: [::1]:4566", "x-amz-TARGET: DynamoDB_20120810.GetItem", "X-Multi: a", "x-multi:  b \t", *DDB[1:]],
            BODY,
        ),
        1,
    ),
    "no Host": (request("POST / HTTP/1.1", DDB, BODY), 1),
    "an S3 GET, an encoded key and a query": (
        request(
            "GET /bucket/a%20b/c%2Fd?versionId=1&response-content-type=text%2Fplain HTTP/1.1",
            ["Host: localhost", S3_AUTH],
        ),
        1,
    ),
    "an S3 HEAD": (request("HEAD /bucket/key HTTP/1.1", ["Host: localhost", S3_AUTH]), 1),
    "an S3 HEAD, chunked": (request("HEAD /bucket/key HTTP/1.1", ["Host: localhost", "X-Answer: chunked", S3_AUTH]), 1),
    "an S3 PUT waiting for 100 Continue": (
        {
            "raw": (
                put := request(
                    "PUT /bucket/key HTTP/1.1", ["Host: localhost", "Expect: 100-continue", S3_AUTH], "x" * 300
                )
            ),
            "cut": [put.index("\r\n\r\n") + 4],
        },
        1,
    ),
    "an S3 PUT with its body at once, Expect all the same": (
        request("PUT /bucket/key HTTP/1.1", ["Host: localhost", "Expect: 100-continue", S3_AUTH], "y" * 10),
        1,
    ),
    "Connection: keep-alive": (
        request("POST / HTTP/1.1", ["Host: localhost", "Connection: Keep-Alive", *DDB], BODY),
        1,
    ),
    # read by Twisted: the answers must be the same all the same
    "Connection: close": (request("POST / HTTP/1.1", ["Host: localhost", "Connection: close", *DDB], BODY), 0),
    "HTTP/1.0": (request("POST / HTTP/1.0", ["Host: localhost", *DDB], BODY), 0),
    "a chunked request": (
        "\r\n".join(["POST / HTTP/1.1", "Host: localhost", "Transfer-Encoding: chunked", *DDB])
        + "\r\n\r\n3\r\n{}x\r\n0\r\n\r\n",
        0,
    ),
    "Expect: 100-Continue": (
        request("PUT /bucket/key HTTP/1.1", ["Host: localhost", "Expect: 100-Continue", S3_AUTH], "z"),
        1,
    ),
    "another Expect": (request("PUT /bucket/key HTTP/1.1", ["Host: localhost", "Expect: later", S3_AUTH], "z"), 0),
    "an absolute target": (request("GET http://localhost/bucket/key HTTP/1.1", ["Host: localhost", S3_AUTH]), 0),
    "a folded field": (request("POST / HTTP/1.1", ["Host: localhost", "X-Folded: a", " b", *DDB], BODY), 0),
    "two lengths": (request("POST / HTTP/1.1", ["Host: localhost", "Content-Length: 3", *DDB], "abc"), 0),
    "raw UTF-8 in the target": (request("GET /bucket/k\u00c3\u00a9y HTTP/1.1", ["Host: localhost", S3_AUTH]), 0),
    "a control byte in the query": (
        request("GET /bucket/key?versionId=\x01 HTTP/1.1", ["Host: localhost", S3_AUTH]),
        0,
    ),
    "a tab in the target": (request("GET /bucket/a\tb HTTP/1.1", ["Host: localhost", S3_AUTH]), 0),
    "a signature's region that is not UTF-8 (the decision fails)": (
        request("GET /bucket/key HTTP/1.1", ["Host: localhost", S3_AUTH.replace("us-east-1", "us-\u00ffeast-1")]),
        0,
    ),
    "DynamoDB waiting for 100 Continue while another DynamoDB request runs": (
        {
            "raw": (wait := request("POST / HTTP/1.1", ["Host: localhost", "Expect: 100-continue", *DDB], BODY)),
            "cut": [wait.index("\r\n\r\n") + 4],
            "dynamodb_busy": True,
        },
        0,
    ),
}


def test_the_direct_answers_are_twisteds():
    cases = [case if isinstance(case, dict) else {"raw": case} for case, _ in CASES.values()]
    results = json.loads(in_engine_interpreter(COMPARE_CHANNELS, json.dumps(cases)))
    for (name, (_, directly)), result in zip(CASES.items(), results, strict=True):
        assert result["direct"] == result["twisted"], name
        assert result["answered_directly"] == directly, name
        assert result["twisted"][0].startswith("HTTP/1."), name  # an answer, not a closed connection
    answered = {name: result["direct"][0] for name, result in zip(CASES, results, strict=True)}
    # a failure part-way closes the connection: the request behind it is not answered
    assert answered["the gateway failing part-way, a request behind (not answered)"].count("HTTP/1.1 ") == 1
    assert answered["the gateway failing, a request behind"].count("HTTP/1.1 500 ") == 1


@pytest.fixture(scope="module")
def s3(engine):
    client = boto3.client("s3", endpoint_url=endpoint())
    client.create_bucket(Bucket="direct-http")
    return client


def read_answer(reader) -> tuple[int, dict, bytes]:
    status = int(reader.readline().split()[1])
    headers = {}
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, reader.read(int(headers.get("content-length", 0)))


def test_a_long_body_then_pipelined_requests(s3):
    """A body past INLINE_BODY_BYTES goes on from a request thread; the requests sent right
    behind it, more than INLINE_BODY_BYTES of them (reading pauses), are answered after it, in
    order."""
    long_body = bytes(range(256)) * 4096  # 1 MiB
    s3.put_object(Bucket="direct-http", Key="long", Body=long_body)
    behind = b"behind" * 60_000  # 360 KB: more than Twisted's channel reads at once, too
    auth = "Authorization: AWS4-HMAC-SHA256 Credential=test/20261203/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00"
    raw = (
        request("GET /direct-http/long HTTP/1.1", ["Host: localhost", auth])
        + request("PUT /direct-http/behind HTTP/1.1", ["Host: localhost", auth], behind.decode())
        + request("GET /direct-http/behind HTTP/1.1", ["Host: localhost", auth])
    )
    port = urllib.parse.urlparse(endpoint()).port or 4566
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(raw.encode())
        reader = connection.makefile("rb")
        assert read_answer(reader)[::2] == (200, long_body)
        assert read_answer(reader)[0] == 200
        assert read_answer(reader)[::2] == (200, behind)


@pytest.mark.parametrize("size", [0, 1, 256 * 1024 - 1, 256 * 1024, 256 * 1024 + 1])
def test_puts_around_the_limit_round_trip(s3, size):
    """boto3 waits for 100 Continue on every PutObject; at and past the limit Twisted reads it."""
    body = b"b" * size
    s3.put_object(Bucket="direct-http", Key=f"size-{size}", Body=body)
    assert s3.get_object(Bucket="direct-http", Key=f"size-{size}")["Body"].read() == body
