"""Which requests the engine answers on its reactor thread, without handing them to a request
thread and back (request_cost.py).

Twisted reads each request on its one reactor thread and runs LocalStack's gateway on a
thread of its pool; the answer goes back to the reactor to be written. On a busy machine each
of those switches waits for a core: on the shared 2-core machine, a few milliseconds per
call, more than the engine's own work for a small request. A request answered on the reactor
needs neither. The reactor then reads nothing else until it is done, so only operations are
answered there whose work is short and bounded and which never wait for another request, the
network or a function:

- S3: GetObject and HeadObject (a body longer than ``INLINE_BODY_BYTES`` is streamed from a
  request thread once that much is written), PutObject of at most ``INLINE_BODY_BYTES`` that
  copies nothing; path-style, signed (the service is read from the signature's scope);
- DynamoDB: GetItem, PutItem, UpdateItem, DeleteItem, when no other DynamoDB request holds
  the engine's DynamoDB lock (a long Scan would hold the reactor too);
- SQS: sending, deleting, changing visibility, finding a queue and its attributes; a
  ReceiveMessage that will not wait: ``WaitTimeSeconds`` 0 in the request, or none and a
  queue whose ``ReceiveMessageWaitTimeSeconds`` is 0 (read from LocalStack's SQS store; a
  queue not found there, or LocalStack's wait override header, keeps it on a thread);
- SNS: Publish and PublishBatch (deliveries run on LocalStack's own threads afterwards).

Everything else (Lambda, API Gateway, listings, scans, copies, the engine's own routes) runs
on a request thread as before. What runs is the same gateway and handler chain either way.
"""

import json
import re
import urllib.parse

from localstack_nodocker import dynamodb_requests

INLINE_BODY_BYTES = 256 * 1024

_SCOPE = re.compile(rb"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/([a-z0-9-]+)/aws4_request")
_QUERY_SCOPE = re.compile(r"^[^/]+/\d{8}/([^/]+)/([a-z0-9-]+)/aws4_request$")
_ACTION = re.compile(rb"(?:^|&)Action=([A-Za-z]+)(?:&|$)")

_DYNAMODB = frozenset(f"DynamoDB_20120810.{name}" for name in ("GetItem", "PutItem", "UpdateItem", "DeleteItem"))
_SQS_ACTIONS = frozenset(
    {
        "SendMessage",
        "SendMessageBatch",
        "DeleteMessage",
        "DeleteMessageBatch",
        "ChangeMessageVisibility",
        "GetQueueUrl",
        "GetQueueAttributes",
    }
)
_SQS = frozenset(f"AmazonSQS.{name}" for name in _SQS_ACTIONS)
_SNS_ACTIONS = frozenset({"Publish", "PublishBatch"})
# query parameters of an object's GET, HEAD and PUT that add no work beyond them
_OBJECT_PARAMETERS = frozenset({"x-id", "versionId"})


def _scope(headers, query: dict) -> tuple[str, str] | tuple[None, None]:
    """(region, service) a SigV4 signature is scoped to (Authorization header or presigned URL)."""
    authorization = headers.get("authorization")
    if authorization:
        found = _SCOPE.search(authorization)
        return (found.group(1).decode(), found.group(2).decode()) if found else (None, None)
    credential = query.get("X-Amz-Credential")
    if credential:
        found = _QUERY_SCOPE.match(credential[0])
        return (found.group(1), found.group(2)) if found else (None, None)
    return None, None


def _object_path(path: str) -> bool:
    bucket, _, key = path.lstrip("/").partition("/")
    return bool(bucket and key)


def _s3(method: str, path: str, query: dict, headers, length: int | None) -> bool:
    if not _object_path(path):
        return False
    if any(name not in _OBJECT_PARAMETERS and not name.startswith(("X-Amz-", "response-")) for name in query):
        return False
    if method in ("GET", "HEAD"):
        return True
    return (
        method == "PUT"
        and length is not None
        and length <= INLINE_BODY_BYTES
        and "x-amz-copy-source" not in headers
        and "transfer-encoding" not in headers
    )


def _receive_without_waiting(body: bytes, headers, region: str | None) -> bool:
    # imported when first needed: LocalStack loads its SQS provider with the service
    from localstack.services.sqs.provider import HEADER_LOCALSTACK_SQS_OVERRIDE_WAIT_TIME_SECONDS

    if HEADER_LOCALSTACK_SQS_OVERRIDE_WAIT_TIME_SECONDS in headers:  # LocalStack's: every receive waits
        return False
    try:
        request = json.loads(body)
        wait = request.get("WaitTimeSeconds")
        if wait is not None:
            return wait == 0
        return region is not None and _queue_wait(str(request["QueueUrl"]), region) == 0
    except (ValueError, AttributeError, KeyError, TypeError):
        return False


def _queue_wait(url: str, region: str) -> int | None:
    """The queue's ReceiveMessageWaitTimeSeconds, None if it is not in LocalStack's store (only
    read: ``dict.get`` creates no store for an account or region it does not know)."""
    from localstack.services.sqs.models import sqs_stores

    account, _, name = urllib.parse.urlsplit(url).path.strip("/").partition("/")
    store = dict.get(dict.get(sqs_stores, account) or {}, region)
    queue = store.queues.get(name) if store is not None else None
    return queue.wait_time_seconds if queue is not None else None


def _dynamodb_free() -> bool:
    """No DynamoDB request under way on another thread (it may be long: a Scan)."""
    if not dynamodb_requests.REQUEST_LOCK.acquire(blocking=False):
        return False
    dynamodb_requests.REQUEST_LOCK.release()
    return True


def _length(headers) -> int | None | bool:
    """The request's Content-Length, None without one, False if not one the reactor reads."""
    length = headers.get("content-length")
    try:
        length = int(length) if length is not None else None
    except ValueError:
        return False
    return False if length is not None and length > INLINE_BODY_BYTES else length


def answered_inline(method: str, path: str, query: dict, headers, body) -> bool:
    """Whether the reactor answers this request itself. ``headers``: lower-case names to
    values (bytes); ``query``: the query string's names to lists of values; ``body()``: the
    request body (read only when the decision needs it)."""
    length = _length(headers)
    if length is False:
        return False
    region, service = _scope(headers, query)
    target = headers.get("x-amz-target")
    if target is not None:
        target = target.decode("latin-1")
        if target in _DYNAMODB:
            return _dynamodb_free()
        if target in _SQS:
            return True
        return target == "AmazonSQS.ReceiveMessage" and _receive_without_waiting(body(), headers, region)
    if service == "s3":
        return _s3(method, path, query, headers, length)
    if service in ("sns", "sqs") and method == "POST" and length is not None:
        found = _ACTION.search(body())
        if not found:
            return False
        action = urllib.parse.unquote_to_bytes(found.group(1)).decode("latin-1")
        return action in (_SNS_ACTIONS if service == "sns" else _SQS_ACTIONS)
    return False


def answered_inline_on_its_head(method: str, path: str, query: dict, headers) -> bool:
    """Whether the reactor answers this request itself whatever its body and whatever happens
    before the body arrives, as a client that waits for 100 Continue needs to know: S3 object
    requests (their decision reads neither the body nor the engine's state; S3 PUTs are what
    clients send with ``Expect: 100-continue``). Any other is decided once its body is here."""
    length = _length(headers)
    if length is False or headers.get("x-amz-target") is not None:
        return False
    return _scope(headers, query)[1] == "s3" and _s3(method, path, query, headers, length)
