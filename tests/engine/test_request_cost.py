"""What request_cost.py and sqs.py leave out per request changes no answer: bodies of every
size and form arrive and leave as before, headers are found whatever their case, responses
keep their media type, SQS's per-request metrics add up to the requests made (published
together once a second), and GetFunction's code URLs download the code. Real requests
against the engine; the header index also against werkzeug's own Headers, in the engine's
interpreter."""

import concurrent.futures
import datetime as dt
import hashlib
import os
import socket
import subprocess
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest

from tests.support.cloudwatch import cloudwatch_client
from tests.support.engine import ENGINE_PYTHON, ROOT, endpoint
from tests.support.second_engine import zipped
from tests.support.waiting import wait_for

# Random operations on werkzeug's Headers and on the engine's IndexedHeaders, side by side:
# after each, every lookup (get, in, [], getlist) answers the same for names present, absent
# and in other cases.
COMPARE_HEADERS = r"""
import copy, random, sys
from werkzeug.datastructures import EnvironHeaders, Headers
from localstack_nodocker.request_cost import IndexedHeaders

rng = random.Random(int(sys.argv[1]))
environ = {"HTTP_X_AMZ_DATE": "d", "CONTENT_TYPE": "text/plain", "HTTP_HOST": "h", "wsgi.input": None}
assert list(IndexedHeaders(EnvironHeaders(environ))) == list(Headers(EnvironHeaders(environ))) != []
NAMES = ["Content-Type", "content-type", "X-Amz-Date", "x-amz-date", "Host", "HOST", "X-Amz-Meta-A", "Accept"]
compared = 0
for _ in range(40):
    start = [(rng.choice(NAMES), str(rng.randrange(5))) for _ in range(rng.randrange(6))]
    plain, indexed = Headers(start), IndexedHeaders(Headers(start))
    for _ in range(60):
        name, value = rng.choice(NAMES), str(rng.randrange(5))
        action = rng.randrange(11)
        clear = rng.random() < 0.1
        for headers in (plain, indexed):
            if action == 0: headers.add(name, value)
            elif action == 1: headers.set(name, value)
            elif action == 2: headers[name] = value
            elif action == 3: headers.remove(name)
            elif action == 4: headers.extend({name: value})
            elif action == 5: headers.update({name: value})
            elif action == 6: headers.setdefault(name, value)
            elif action == 7 and len(headers): headers.pop(0)
            elif action == 8: headers.pop(name, None)
            elif action == 9 and len(headers): headers[0] = (name, value)
            elif action == 10 and clear: headers.clear()
        if rng.random() < 0.1:
            indexed = copy.deepcopy(indexed) if rng.random() < 0.5 else indexed.copy()
        assert list(plain) == list(indexed), (list(plain), list(indexed))
        for probe in NAMES + ["Missing"]:
            assert plain.get(probe) == indexed.get(probe), probe
            assert (probe in plain) == (probe in indexed), probe
            assert plain.getlist(probe) == indexed.getlist(probe), probe
            try:
                expected = plain[probe]
            except KeyError:
                expected = KeyError
            try:
                got = indexed[probe]
            except KeyError:
                got = KeyError
            assert expected == got, (probe, expected, got)
            compared += 1
print(compared)
"""


def client(service: str):
    return boto3.client(service, endpoint_url=endpoint())


def receive_at_least(sqs, url: str, count: int, **receive) -> list[dict]:
    """Messages of the queue, received (not deleted) until there are ``count`` of them."""
    received = []

    def enough() -> bool:
        received.extend(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, **receive).get("Messages", []))
        return len(received) >= count

    wait_for(enough, interval=0, what=f"{count} messages on {url}")
    return received


def in_engine_interpreter(script: str, *arguments: str) -> str:
    """What the script prints, run by the engine's Python with the engine's plugins importable."""
    result = subprocess.run(
        [str(ENGINE_PYTHON), "-c", script, *arguments],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "engine")},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_indexed_headers_answer_as_werkzeug_does(seed):
    assert int(in_engine_interpreter(COMPARE_HEADERS, str(seed))) > 10_000


@pytest.fixture(scope="module")
def bucket(engine):
    name = f"request-cost-{uuid.uuid4().hex[:8]}"
    s3 = client("s3")
    s3.create_bucket(Bucket=name)
    yield name
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


@pytest.mark.parametrize("size", [0, 1, 64 * 1024 - 1, 64 * 1024 + 1, 5 * 1024 * 1024 + 3])
def test_bodies_of_every_size_round_trip(bucket, size):
    """One chunk or many (S3 streams large objects), empty included; and a range of it."""
    s3 = client("s3")
    body = os.urandom(size)
    s3.put_object(Bucket=bucket, Key=f"size-{size}", Body=body)
    got = s3.get_object(Bucket=bucket, Key=f"size-{size}")
    assert int(got["ContentLength"]) == size
    assert hashlib.sha256(got["Body"].read()).hexdigest() == hashlib.sha256(body).hexdigest()
    if size:
        ranged = s3.get_object(Bucket=bucket, Key=f"size-{size}", Range=f"bytes={size // 2}-")
        assert ranged["Body"].read() == body[size // 2 :]


def test_answers_without_a_body(bucket):
    """HEAD, 304 and 204 answers: headers only, the connection ready for the next request."""
    s3 = client("s3")
    etag = s3.put_object(Bucket=bucket, Key="no-body", Body=b"payload")["ETag"]
    assert s3.head_object(Bucket=bucket, Key="no-body")["ContentLength"] == 7
    url = f"{endpoint()}/{bucket}/no-body"
    request = urllib.request.Request(url, headers={"If-None-Match": etag})
    with pytest.raises(urllib.error.HTTPError) as not_modified:
        urllib.request.urlopen(request, timeout=10)
    assert not_modified.value.code == 304
    assert s3.delete_object(Bucket=bucket, Key="no-body")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.list_objects_v2(Bucket=bucket, Prefix="no-body")["KeyCount"] == 0


@pytest.mark.parametrize("content", [b"plain text", "ünïcode & = + %".encode(), os.urandom(2048)])
def test_form_uploads_reach_s3(bucket, content):
    """Browser uploads (presigned POST, multipart/form-data): the engine no longer parses
    form bodies in Twisted; S3 reads the fields and the file from the body as before."""
    key = f"form/{uuid.uuid4().hex[:6]}"
    post = client("s3").generate_presigned_post(bucket, key, Fields={"x-amz-meta-origin": "Form Test"})
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in post["fields"].items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        post["url"], data=b"".join(parts), headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 204
    got = client("s3").get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == content
    assert got["Metadata"] == {"origin": "Form Test"}


@pytest.mark.parametrize("body", ["plain", "a=b&c=d", "ünïcode + %20 & ?", "x" * 200_000])
def test_url_encoded_forms_reach_sqs(engine, body):
    """SQS's query protocol (application/x-www-form-urlencoded POSTs), with bodies that look
    like forms themselves, read and answered in the media type the request accepts."""
    sqs = client("sqs")
    queue = sqs.create_queue(QueueName=f"request-cost-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    try:
        form = urllib.parse.urlencode({"Action": "SendMessage", "QueueUrl": queue, "MessageBody": body}).encode()
        answers = {}
        for accept in ("application/json", None, "application/json", "text/xml"):
            headers = {"Content-Type": "application/x-www-form-urlencoded"} | ({"Accept": accept} if accept else {})
            request = urllib.request.Request(f"{endpoint()}/", data=form, headers=headers)
            with urllib.request.urlopen(request, timeout=30) as response:
                answers.setdefault(accept, set()).add(response.headers.get_content_type())
        assert answers == {"application/json": {"application/json"}, None: {"text/xml"}, "text/xml": {"text/xml"}}
        received = receive_at_least(sqs, queue, 4, WaitTimeSeconds=1)
        assert [message["Body"] for message in received] == [body] * 4
    finally:
        sqs.delete_queue(QueueUrl=queue)


@pytest.mark.parametrize("name", ["x-amz-meta-colour", "X-AMZ-META-COLOUR", "X-Amz-Meta-Colour"])
def test_headers_found_whatever_their_case(bucket, name):
    body = b"cased"
    url = client("s3").generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": f"cased-{name}"})
    request = urllib.request.Request(url, data=body, method="PUT", headers={name: "teal", "CONTENT-TYPE": "text/x-x"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    head = client("s3").head_object(Bucket=bucket, Key=f"cased-{name}")
    assert head["Metadata"] == {"colour": "teal"}
    assert head["ContentType"] == "text/x-x"


# In the engine's interpreter, with the engine's patches of moto applied: the cached listing of
# a handler's methods follows methods added and removed later; random strings keep their
# length, alphabet and case, use the whole alphabet, and repeat under the same seed.
MOTO_CHECKS = r"""
import string
from moto.core import responses
from moto.core.utils import method_names_from_class as listed_by_moto
from moto.dynamodb.responses import DynamoHandler
from moto.moto_api._internal import mock_random
from localstack_nodocker import request_cost

request_cost._list_handler_methods_once()
request_cost._draw_random_strings_at_once()
listing = responses.method_names_from_class
assert listing(DynamoHandler) == listed_by_moto(DynamoHandler)
DynamoHandler.added_later = lambda self: None
assert "added_later" in listing(DynamoHandler)
del DynamoHandler.added_later
assert "added_later" not in listing(DynamoHandler) and listing(DynamoHandler) == listed_by_moto(DynamoHandler)

for length, digits, lower in [(52, True, False), (8, False, True), (20, True, True), (1, False, False)]:
    alphabet = string.ascii_letters + (string.digits if digits else "")
    alphabet = alphabet.lower() if lower else alphabet
    drawn = [mock_random.get_random_string(length, include_digits=digits, lower_case=lower) for _ in range(3000)]
    assert all(len(text) == length and set(text) <= set(alphabet) for text in drawn), (length, digits, lower)
    assert set("".join(drawn)) == set(alphabet), (length, digits, lower)
mock_random.seed(7)
first = [mock_random.get_random_string(52) for _ in range(3)]
mock_random.seed(7)
assert first == [mock_random.get_random_string(52) for _ in range(3)]
print("ok")
"""


def test_moto_method_listing_and_random_strings():
    assert in_engine_interpreter(MOTO_CHECKS) == "ok"


# In the engine's interpreter, with the engine's patches applied: a router's remembered misses
# are for one map (a route added or removed later is found or missed), only plain misses are
# remembered (a request with the wrong method is refused as such every time), and the host is
# part of what was missed; a User-Agent built once is the one botocore builds, for each client
# configuration and set of a request's features.
ROUTER_AND_USER_AGENT_CHECKS = r"""
import botocore.session
from botocore.config import Config
from botocore.context import start_as_current_context
from botocore.useragent import UserAgentString, register_feature_id
from rolo import Request, Response, Router
from werkzeug.exceptions import MethodNotAllowed, NotFound
from localstack_nodocker import request_cost

def answer(router, path, method="GET", host="localhost"):
    try:
        return router.dispatch(Request(method, path, headers={"Host": host})).get_data(as_text=True)
    except MethodNotAllowed:
        return "not allowed"
    except NotFound:
        return "not found"

upstream_ua = UserAgentString.to_string
request_cost._remember_route_misses()
request_cost._build_user_agents_once()

router = Router()
router.add("/put-only", lambda request, args: Response("put"), methods=["PUT"])
assert [answer(router, "/late") for _ in range(2)] == ["not found"] * 2
rule = router.add("/late", lambda request, args: Response("late"))
assert answer(router, "/late") == "late"
router.remove(rule)
assert answer(router, "/late") == "not found"
assert [answer(router, "/put-only") for _ in range(2)] == ["not allowed"] * 2
assert answer(router, "/put-only", "PUT") == "put"
hosted = Router()
hosted.add("/", lambda request, args: Response("hosted"), host="api.example")
assert answer(hosted, "/", host="other.example") == "not found"
assert answer(hosted, "/", host="api.example") == "hosted"
other = Router()
assert answer(other, "/late") == "not found" and answer(router, "/late") == "not found"
for n in range(request_cost.ROUTE_MISSES + 10):
    assert answer(other, f"/miss-{n}") == "not found"
other.add("/miss-3", lambda request, args: Response("found"))
assert answer(other, "/miss-3") == "found"

session = botocore.session.get_session()
compared = 0
for config in (None, Config(user_agent_appid="app one"), Config(user_agent_extra="extra/1"), Config(user_agent="legacy")):
    for service in ("sqs", "dynamodb"):
        client = session.create_client(service, region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b", config=config)
        built = client._user_agent_creator
        for features in ((), ("WAITER",), ("PAGINATOR", "RETRY_MODE_STANDARD"), ("WAITER",)):
            with start_as_current_context():
                for feature in features:
                    register_feature_id(feature)
                assert built.to_string() == upstream_ua(built), (config, features)
                compared += 1
print(compared)
"""


def test_route_misses_and_user_agents_as_upstream_answers():
    assert in_engine_interpreter(ROUTER_AND_USER_AGENT_CHECKS) == "32"


def _statistics(queue_name: str, metric: str, since: dt.datetime) -> dict:
    points = cloudwatch_client().get_metric_statistics(
        Namespace="AWS/SQS",
        MetricName=metric,
        Dimensions=[{"Name": "QueueName", "Value": queue_name}],
        StartTime=since,
        EndTime=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2),
        Period=3600,
        Statistics=["Sum", "SampleCount", "Minimum", "Maximum"],
    )["Datapoints"]
    return points[0] if points else {}


def _metrics_add_up(name: str, sizes: list[int], since: dt.datetime) -> None:
    sent = wait_for(
        lambda: (found := _statistics(name, "NumberOfMessagesSent", since)).get("Sum") == len(sizes) and found,
        what=f"NumberOfMessagesSent of {name}",
    )
    assert sent["SampleCount"] == len(sizes)
    size = wait_for(lambda: _statistics(name, "SentMessageSize", since), what="SentMessageSize")
    assert (size["Sum"], size["Minimum"], size["Maximum"]) == (sum(sizes), min(sizes), max(sizes))
    assert size["SampleCount"] == len(sizes)
    deleted = wait_for(lambda: _statistics(name, "NumberOfMessagesDeleted", since), what="deletes")
    assert deleted["Sum"] == len(sizes)
    received = wait_for(lambda: _statistics(name, "NumberOfMessagesReceived", since), what="receives")
    assert received["Sum"] == len(sizes)
    assert wait_for(lambda: _statistics(name, "NumberOfEmptyReceives", since), what="empty")["Sum"] >= 1


def test_sqs_request_metrics_add_up(engine):
    """Per-request metrics of two queues (sends of several sizes, receives, deletes, empty
    receives) sum to what was done, as one datapoint per request would."""
    sqs = client("sqs")
    since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    queues = {}
    for sizes in ([1, 1, 300, 7], [2048, 5]):
        name = f"request-cost-metrics-{uuid.uuid4().hex[:8]}"
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        queues[name] = (url, sizes)
        for size in sizes:
            sqs.send_message(QueueUrl=url, MessageBody="m" * size)
    try:
        for url, sizes in queues.values():
            received = receive_at_least(sqs, url, len(sizes))
            for message in received:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            assert not sqs.receive_message(QueueUrl=url).get("Messages")  # an empty receive
        for name, (_, sizes) in queues.items():
            _metrics_add_up(name, sizes, since)
    finally:
        for url, _ in queues.values():
            sqs.delete_queue(QueueUrl=url)


def test_request_log_lines_as_localstack_writes_them(engine):
    """The request log keeps LocalStack's lines, for answers and refusals alike."""
    log = Path(os.environ.get("LOCALSTACK_STATE_DIR", ROOT / ".localstack")) / "logs" / "localstack.log"
    if not log.exists():
        pytest.skip(f"the engine at {endpoint()} was not started from this checkout (no {log})")
    sqs = client("sqs")
    missing = f"request-cost-missing-{uuid.uuid4().hex[:8]}"
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=missing)
    sqs.list_queues(QueueNamePrefix=missing)
    lines = wait_for(
        lambda: [
            line
            for line in log.read_text(errors="replace").splitlines()[-2000:]
            if "AWS sqs.GetQueueUrl => 400 (" in line or "AWS sqs.ListQueues => 200" in line
        ],
        what="the request log lines",
    )
    assert any("GetQueueUrl => 400 (" in line and "QueueDoesNotExist" in line for line in lines)
    assert any("ListQueues => 200" in line for line in lines)


# Which requests the reactor answers itself (inline_requests.py), in the engine's interpreter:
# (method, path, query, headers, body, expected).
INLINE_POLICY = r"""
import json, sys, threading
from localstack_nodocker import dynamodb_requests
from localstack_nodocker.inline_requests import INLINE_BODY_BYTES, answered_inline

def scope(service):
    return b"AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/" + service.encode() + b"/aws4_request, SignedHeaders=host, Signature=0"

class Headers(dict):
    pass

def headers(**values):
    return Headers({name.replace("_", "-"): value for name, value in values.items()})

def ddb(operation):
    return headers(x_amz_target=f"DynamoDB_20120810.{operation}".encode(), content_length=b"20", authorization=scope("dynamodb"))

def sqs(operation, body=b"{}"):
    return headers(x_amz_target=f"AmazonSQS.{operation}".encode(), content_length=str(len(body)).encode(), authorization=scope("sqs")), body

presigned = {"X-Amz-Credential": ["test/20260101/us-east-1/s3/aws4_request"], "X-Amz-Signature": ["0"]}
cases = [
    ("POST", "/", {}, ddb("GetItem"), b"", True),
    ("POST", "/", {}, ddb("PutItem"), b"", True),
    ("POST", "/", {}, ddb("Scan"), b"", False),
    ("POST", "/", {}, ddb("Query"), b"", False),
    ("POST", "/", {}, ddb("TransactWriteItems"), b"", False),
    ("POST", "/", {}, *sqs("SendMessage"), True),
    ("POST", "/", {}, *sqs("DeleteMessageBatch"), True),
    ("POST", "/", {}, *sqs("ReceiveMessage", b'{"QueueUrl": "q", "WaitTimeSeconds": 0}'), True),
    ("POST", "/", {}, *sqs("ReceiveMessage", b'{"QueueUrl": "q", "WaitTimeSeconds": 5}'), False),
    ("POST", "/", {}, *sqs("ReceiveMessage", b'{"QueueUrl": "q"}'), False),
    ("POST", "/", {}, *sqs("ReceiveMessage", b'not json'), False),
    ("POST", "/", {}, headers(x_amz_target=b"AmazonSQS.ReceiveMessage", content_length=b"40", authorization=scope("sqs"),
                              x_localstack_sqs_override_wait_time_seconds=b"3"), b'{"QueueUrl": "q", "WaitTimeSeconds": 0}', False),
    ("POST", "/", {}, *sqs("PurgeQueue"), False),
    ("GET", "/bucket/key", {"x-id": ["GetObject"]}, headers(authorization=scope("s3")), b"", True),
    ("HEAD", "/bucket/a/b/c", {}, headers(authorization=scope("s3")), b"", True),
    ("GET", "/bucket/key", presigned, headers(), b"", True),
    ("GET", "/bucket/key", {}, headers(), b"", False),
    ("GET", "/bucket", {"list-type": ["2"]}, headers(authorization=scope("s3")), b"", False),
    ("GET", "/bucket/", {}, headers(authorization=scope("s3")), b"", False),
    ("GET", "/bucket/key", {"uploadId": ["u"]}, headers(authorization=scope("s3")), b"", False),
    ("PUT", "/bucket/key", {}, headers(authorization=scope("s3"), content_length=b"10"), b"", True),
    ("PUT", "/bucket/key", {}, headers(authorization=scope("s3"), content_length=str(INLINE_BODY_BYTES + 1).encode()), b"", False),
    ("PUT", "/bucket/key", {}, headers(authorization=scope("s3"), content_length=b"10", x_amz_copy_source=b"/b/k"), b"", False),
    ("PUT", "/bucket/key", {}, headers(authorization=scope("s3"), transfer_encoding=b"chunked"), b"", False),
    ("POST", "/2015-03-31/functions/f/invocations", {}, headers(authorization=scope("lambda"), content_length=b"2"), b"{}", False),
    ("POST", "/", {}, headers(authorization=scope("sns"), content_length=b"40"), b"Action=Publish&TopicArn=t&Message=m", True),
    ("POST", "/", {}, headers(authorization=scope("sns"), content_length=b"40"), b"TopicArn=t&Action=PublishBatch", True),
    ("POST", "/", {}, headers(authorization=scope("sns"), content_length=b"40"), b"Action=Subscribe&TopicArn=t", False),
    ("POST", "/", {}, headers(authorization=scope("sqs"), content_length=b"40"), b"Action=SendMessage&QueueUrl=q", True),
    ("POST", "/", {}, headers(authorization=scope("sqs"), content_length=b"40"), b"Action=ReceiveMessage&QueueUrl=q", False),
    ("POST", "/_aws/execute-api/a/s/p", {}, headers(content_length=b"2"), b"{}", False),
    ("GET", "/_localstack/health", {}, headers(), b"", False),
    ("POST", "/", {}, headers(x_amz_target=b"AmazonSQS.SendMessage", content_length=b"x"), b"", False),
]
for method, path, query, found_headers, body, expected in cases:
    got = answered_inline(method, path, query, found_headers, lambda body=body: body)
    assert got is expected, (method, path, query, dict(found_headers), body, got)

# a DynamoDB request under way on another thread keeps DynamoDB off the reactor
held, done = threading.Event(), threading.Event()
def hold():
    with dynamodb_requests.REQUEST_LOCK:
        held.set()
        done.wait(10)
threading.Thread(target=hold).start()
held.wait(10)
assert answered_inline("POST", "/", {}, ddb("GetItem"), lambda: b"") is False
done.set()
print(len(cases))
"""


def test_which_requests_the_reactor_answers():
    assert int(in_engine_interpreter(INLINE_POLICY)) > 30


def test_a_waiting_receive_holds_no_other_request(bucket):
    """A ReceiveMessage that waits (its own WaitTimeSeconds, or its queue's) runs on a request
    thread: the calls made meanwhile, including those answered on the reactor, are answered
    before it ends."""
    sqs, s3 = client("sqs"), client("s3")
    waiting = sqs.create_queue(QueueName=f"request-cost-wait-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    slow = sqs.create_queue(
        QueueName=f"request-cost-slow-{uuid.uuid4().hex[:8]}", Attributes={"ReceiveMessageWaitTimeSeconds": "4"}
    )["QueueUrl"]
    other = sqs.create_queue(QueueName=f"request-cost-other-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    try:
        for receive in (
            lambda: client("sqs").receive_message(QueueUrl=waiting, WaitTimeSeconds=4),
            lambda: client("sqs").receive_message(QueueUrl=slow),
        ):
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                pending = pool.submit(receive)  # under way by the last of the calls below, at the latest
                for n in range(3):
                    s3.put_object(Bucket=bucket, Key=f"meanwhile-{n}", Body=b"x")
                    assert s3.get_object(Bucket=bucket, Key=f"meanwhile-{n}")["Body"].read() == b"x"
                    sqs.send_message(QueueUrl=other, MessageBody="meanwhile")
                assert not pending.done(), "the receive ended before the calls made meanwhile"
                assert pending.result().get("Messages") is None
    finally:
        for queue in (waiting, slow, other):
            sqs.delete_queue(QueueUrl=queue)


def _raw_exchange(request: bytes, timeout: float = 10) -> bytes:
    """Everything the engine sends back on one connection for ``request``, until it closes it."""
    parts = urllib.parse.urlsplit(endpoint())
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as connection:
        connection.sendall(request)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
        return received


def test_inline_answers_sent_whole_and_in_order(bucket):
    """Answers given on the reactor thread, pipelined on one connection with one longer than
    it answers inline (streamed on from a request thread), arrive whole and in order, and the
    connection the client asks to close is closed after the last of its answer."""
    s3 = client("s3")
    bodies = {key: os.urandom(size) for key, size in (("first", 10), ("second", 300_000))}
    for key, body in bodies.items():
        s3.put_object(Bucket=bucket, Key=f"raw-{key}", Body=body)
    host = urllib.parse.urlsplit(endpoint()).netloc

    def get(key: str, connection: str) -> bytes:
        url = urllib.parse.urlsplit(s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}))
        return f"GET {url.path}?{url.query} HTTP/1.1\r\nHost: {host}\r\nConnection: {connection}\r\n\r\n".encode()

    received = _raw_exchange(
        get("raw-first", "keep-alive") + get("raw-second", "keep-alive") + get("raw-first", "close")
    )
    answers = []
    while received:
        head, _, rest = received.partition(b"\r\n\r\n")
        length = int(
            next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")).split(b":")[1]
        )
        answers.append((head.split(b"\r\n")[0], rest[:length]))
        received = rest[length:]
    assert answers == [(b"HTTP/1.1 200 OK", bodies[key]) for key in ("first", "second", "first")]


def test_function_code_urls_download_the_code(engine):
    """GetFunction presigns its code's URL with one kept client: each answer's URL downloads
    the function's package, and a new package's answer the new one."""
    lam, name = boto3.client("lambda"), f"code-url-{uuid.uuid4().hex[:8]}"
    packages = [zipped({"probe.py": f"def handler(event, context):\n    return {number}\n"}) for number in (1, 2)]
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="probe.handler",
        Role="arn:aws:iam::000000000000:role/code-url",
        Code={"ZipFile": packages[0]},
    )
    try:
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
        for package in packages:
            lam.update_function_code(FunctionName=name, ZipFile=package)
            lam.get_waiter("function_updated_v2").wait(FunctionName=name)
            for _ in range(2):
                location = lam.get_function(FunctionName=name)["Code"]["Location"]
                with urllib.request.urlopen(location, timeout=30) as response:
                    assert hashlib.sha256(response.read()).hexdigest() == hashlib.sha256(package).hexdigest()
    finally:
        lam.delete_function(FunctionName=name)
