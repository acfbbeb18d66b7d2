"""What one request costs the engine: the work Twisted, LocalStack and moto did on every
request that no answer needs, left out. Each service shares one interpreter lock, so this is
latency on every call and throughput for the calls functions make (profiled with yappi on
the engine, CPU time per call: see docs/engine.md, "Per-call cost").

The server (``EngineSite``, LocalStack's Twisted site as rolo builds it, with four changes):

- no access log: Twisted formatted a Combined Log Format line for every request and handed
  it to its own logger, which nothing reads (LocalStack logs requests itself);
- no form parsing: Twisted parsed the ``Content-Type`` of every POST with the email package
  and a form body into ``request.args``, which the WSGI gateway never reads (it reads the
  body from ``request.content``, as before);
- the chunk that completes a response with a ``Content-Length`` is handed to the reactor
  without waiting for it: Twisted's WSGI bridge blocked the request thread for every chunk
  until the reactor had written it, two more thread switches per request. Earlier chunks of a
  longer body still wait (Twisted's back-pressure), and the response is finished after it,
  in order, as before;
- short requests that never wait for another request are answered on the reactor thread
  itself, without a thread switch either way (``_InlineResponse``; which ones, and why those:
  inline_requests.py); in their plainest form, the channel reads and answers them without
  Twisted's request object at all (direct_http.py).

In the gateway:

- each request's headers are looked up through an index by lower-case name, kept until they
  change (``IndexedHeaders``): werkzeug compared the name with every header, lower-casing
  each, and raised and caught an exception for every absent one; a request's handlers and
  parsers look up some fifty names (S3's parser alone asks for each header member of its
  operation), most of them absent.

In the gateway and moto (``cut_request_cost``, a start hook):

- LocalStack's request log line (``AWS sqs.SendMessage => 200``) is written as before, but
  the copies of both header sets and of the request and response it attached for a trace
  formatter are only made when that formatter is there (``DEBUG``); no record looks up the
  file and line it was logged from (no format of the engine's reads them);
- LocalStack's serializers chose the response's media type from the request's ``Accept``
  (or ``Content-Type``) header by parsing and matching it for every response: the choice is
  kept per serializer class and the two header values (``MEDIA_TYPE_CHOICES`` at most);
- moto listed the methods of the handler class with ``inspect.getmembers`` on every request
  (to check the action is one of them): the list is kept per class, and listed again when a
  class in its hierarchy gains or loses an attribute;
- moto drew each request id (52 characters) with one call to ``random.choice`` per
  character: one ``choices`` call draws them all, from the same generator and alphabet;
- the gateway's two routers (LocalStack's own resources and the routes services add) matched
  every request's host, path and method against all their rules, and nearly every request
  matches none (it is a service call): a miss is remembered per router and map
  (``ROUTE_MISSES`` at most), and the map a router changes to starts with none;
- botocore built the ``User-Agent`` of every request of the engine's own clients (an SQS
  subscriber's delivery from SNS, a Lambda's event source, ...) from a hundred components,
  sanitising each, twice per request: it is a function of the client's fields and the
  request's features, and is built once per set of them (``USER_AGENTS`` at most);
- Lambda's GetFunction made a new boto3 S3 client for every answer, to presign the URL of
  the function's code (about 15 ms of the engine's CPU out of 20; Terraform reads every
  function this way on each plan, and waiters poll it): the client is made once per
  endpoint and presigns each URL as before (a signed URL's time is its own).
"""

import functools
import itertools
import logging
import string

import boto3
from botocore.context import get_context
from localstack import config
from localstack.constants import AWS_REGION_US_EAST_1, INTERNAL_AWS_SECRET_ACCESS_KEY
from localstack.runtime import hooks
from rolo.gateway.wsgi import WsgiGateway
from rolo.request import get_raw_path
from rolo.serving.twisted import (
    HeaderPreservingWSGIResource,
    HeaderPreservingWSGIResponse,
    TwistedRequestAdapter,
    WebsocketResourceDecorator,
)
from rolo.websocket import WebSocketRequest
from twisted.internet import reactor
from twisted.python.failure import Failure
from twisted.web.http import INTERNAL_SERVER_ERROR
from twisted.web.server import NOT_DONE_YET, Site
from werkzeug.datastructures import Headers
from werkzeug.exceptions import NotFound

from localstack_nodocker import seam
from localstack_nodocker.direct_http import DirectHTTPChannel, close_chunks, write_inline
from localstack_nodocker.inline_requests import INLINE_BODY_BYTES, answered_inline


class _VersionedList(list):
    """A list that counts its changes."""

    version = 0


def _counting(method):
    @functools.wraps(method)
    def changing(self, *args):
        self.version += 1
        return method(self, *args)

    return changing


for _name in (
    "__setitem__",
    "__delitem__",
    "__iadd__",
    "__imul__",
    "append",
    "extend",
    "insert",
    "pop",
    "remove",
    "clear",
    "sort",
    "reverse",
):
    setattr(_VersionedList, _name, _counting(getattr(list, _name)))


class IndexedHeaders(Headers):
    """werkzeug's Headers, looked up through an index by lower-case name (the first value of a
    name, as werkzeug answers), rebuilt after any change of their list (werkzeug changes it in
    place; a list put in its stead is taken over and indexed anew)."""

    def __init__(self, defaults=None):
        super().__init__()
        self._indexed: tuple = (None, -1, {})  # (list, its version, lower-case name -> value)
        if type(defaults) is Headers or isinstance(defaults, IndexedHeaders):  # values checked: list copied
            self._list = _VersionedList(defaults._list)
            return
        self._list = _VersionedList()
        if defaults is not None:
            self.extend(defaults)

    def _lookup(self) -> dict[str, str]:
        items = self._list
        if not isinstance(items, _VersionedList):
            items = self._list = _VersionedList(items)
        indexed, version, index = self._indexed
        if indexed is not items or version != items.version:
            index = {}
            for name, value in items:
                index.setdefault(name.lower(), value)
            self._indexed = (items, items.version, index)
        return index

    def _get_key(self, key):
        try:
            return self._lookup()[key.lower()]
        except (KeyError, AttributeError):  # AttributeError: not a str, which werkzeug refuses
            return super()._get_key(key)

    def get(self, key, default=None, type=None):
        if type is None and isinstance(key, str):
            return self._lookup().get(key.lower(), default)
        return super().get(key, default, type)

    def __contains__(self, key):
        return key.lower() in self._lookup() if isinstance(key, str) else super().__contains__(key)


class _IndexingGateway:
    """The gateway as rolo's WSGI adapter calls it, with each request's headers indexed."""

    def __init__(self, gateway):
        self._gateway = gateway

    def process(self, request, response):
        request.headers = IndexedHeaders(request.headers)
        self._gateway.process(request, response)


class _CompletingChunkResponse(HeaderPreservingWSGIResponse):
    """rolo's WSGI response, handing the chunk that completes the declared body to the reactor
    without blocking the request thread on it."""

    _written = 0

    def _declared_length(self) -> int | None:
        for name, value in self.headers:
            if name.lower() == "content-length":
                try:
                    return int(value)
                except ValueError:
                    return None
        return None

    def write(self, data):
        self._written += len(data)
        if self._written != self._declared_length():
            return super().write(data)
        started, self.started = self.started, True

        def write_last_chunk():
            if self._requestFinished:  # the client went away meanwhile: nothing to write to
                return
            if not started:
                self._sendResponseHeaders()
            self.request.write(data)

        # queued before the finish the request thread queues next: the reactor runs both in order
        self.reactor.callFromThread(write_last_chunk)


class _InlineResponse(_CompletingChunkResponse):
    """A response the reactor answers itself (inline_requests.py): the gateway runs on the
    reactor thread and its chunks are written at once, up to INLINE_BODY_BYTES; a longer
    body goes on from a request thread, as any other response (back-pressure included)."""

    _inline = True

    def write(self, data):
        if not self._inline:
            return super().write(data)
        if not self.started:
            self._sendResponseHeaders()
            self.started = True
        self._written += len(data)
        self.request.write(data)

    def answer(self):
        try:
            chunks = iter(self.application(self.environ, self.startResponse))
            past_inline = write_inline(chunks, self.write)
            if past_inline is not None:
                self._inline = False
                self.threadpool.callInThread(self._stream, past_inline, chunks)
                return
        except BaseException:
            self._fail(Failure())
            return
        if not self._requestFinished:
            if not self.started:
                self._sendResponseHeaders()
            self.request.finish()

    def _fail(self, failure: Failure) -> None:
        """As Twisted's WSGI bridge answers an application's exception."""
        self._log.failure("WSGI application error", failure=failure)
        if self.started:
            self.request.loseConnection()
        else:
            self.request.setResponseCode(INTERNAL_SERVER_ERROR)
            self.request.finish()

    def _stream(self, first, chunks) -> None:
        """The rest of a long body, from a request thread."""
        try:
            for chunk in itertools.chain([first], chunks):
                if chunk:
                    self.write(chunk)
                if self._requestFinished:
                    break
            close_chunks(chunks)
        except BaseException:
            self.reactor.callFromThread(self._fail, Failure())
            return
        self.reactor.callFromThread(self._finish)

    def _finish(self) -> None:
        if not self._requestFinished:
            self.request.finish()


class _RequestHeaders:
    """A Twisted request's headers as inline_requests.py reads them (names in lower case,
    values as bytes)."""

    def __init__(self, request):
        self._headers = request.requestHeaders

    def get(self, name: str):
        values = self._headers.getRawHeaders(name.encode())
        return values[-1] if values else None

    def __contains__(self, name: str) -> bool:
        return self._headers.hasHeader(name.encode())


def _answered_inline(request) -> bool:
    query = {
        name.decode("latin-1"): [value.decode("latin-1") for value in values] for name, values in request.args.items()
    }

    def body() -> bytes:
        request.content.seek(0)
        data = request.content.read(INLINE_BODY_BYTES + 1)
        request.content.seek(0)
        return data

    path = request.path.decode("latin-1")
    return answered_inline(request.method.decode("latin-1"), path, query, _RequestHeaders(request), body)


class _EngineWSGIResource(HeaderPreservingWSGIResource):
    def render(self, request):
        if _answered_inline(request):
            _InlineResponse(self._reactor, self._threadpool, self._application, request).answer()
            return NOT_DONE_YET
        response = _CompletingChunkResponse(self._reactor, self._threadpool, self._application, request)
        response.start()
        return NOT_DONE_YET


class EngineSite(Site):
    """The gateway's Twisted site, built as rolo's ``TwistedGateway`` builds it (its resource,
    request factory and websocket listener), with the engine's HTTP channel (http_limits.py, direct_http.py)."""

    def __init__(self, gateway):
        self.application = WsgiGateway(_IndexingGateway(gateway))  # also direct_http.py's
        resource = WebsocketResourceDecorator(
            original=_EngineWSGIResource(reactor, reactor.getThreadPool(), self.application),
            websocketListener=WebSocketRequest.listener(gateway.accept),
        )
        super().__init__(resource=resource, requestFactory=TwistedRequestAdapter, parsePOSTFormSubmission=False)
        self.protocol = DirectHTTPChannel.protocol_factory

    def log(self, request):
        """No access log (see the module's docstring)."""


# --- the gateway and moto -----------------------------------------------------------------------


def _log_without_trace_copies() -> None:
    log = seam.original(seam.RESPONSE_LOG)

    def log_response(self, context, response):
        internal = context.is_internal_call
        if context.operation:
            logger = self.internal_aws_logger if internal else self.aws_logger
        else:
            logger = self.internal_http_logger if internal else self.http_logger
        if logger.isEnabledFor(logging.DEBUG):  # the trace formatter reads the copies
            return log(self, context, response)
        if not logger.isEnabledFor(logging.INFO):
            return None
        if not context.operation:
            return logger.info("%s %s => %d", context.request.method, context.request.path, response.status_code)
        service, operation = context.service.service_name, context.operation.name
        if context.service_exception:
            return logger.info(
                "AWS %s.%s => %d (%s)", service, operation, response.status_code, context.service_exception.code
            )
        return logger.info("AWS %s.%s => %s", service, operation, response.status_code)

    seam.replace(seam.RESPONSE_LOG, log_response)


def _log_without_finding_callers() -> None:
    # No format of the engine's logs reads where a record was made (file, line, function);
    # finding it walked the stack for every record, each request's log line included. The
    # logging HOWTO's "Optimization" section documents this switch.
    logging._srcfile = None


MEDIA_TYPE_CHOICES = 512  # kept at most (serializer class and header values); then chosen anew


def _choose_media_types_once() -> None:
    choose = seam.original(seam.MEDIA_TYPE)
    chosen: dict[tuple, str] = {}

    def get_mime_type(self, headers):
        if not headers:
            return choose(self, headers)
        key = (type(self), headers.get("Accept"), headers.get("Content-Type"))
        found = chosen.get(key)
        if found is None:
            if len(chosen) >= MEDIA_TYPE_CHOICES:
                chosen.clear()
            found = chosen[key] = choose(self, headers)
        return found

    seam.replace(seam.MEDIA_TYPE, get_mime_type)


def _list_handler_methods_once() -> None:
    list_methods = seam.original(seam.MOTO_METHOD_NAMES)

    @functools.cache
    def listed(clazz, shape: tuple) -> list[str]:
        return list_methods(clazz)

    def method_names_from_class(clazz) -> list[str]:
        # the number of attributes along the hierarchy: a method added or removed lists again
        return listed(clazz, tuple(len(vars(klass)) for klass in clazz.__mro__))

    seam.replace(seam.MOTO_METHOD_NAMES, method_names_from_class)


def _draw_random_strings_at_once() -> None:
    seam.original(seam.MOTO_RANDOM_STRING)

    def get_random_string(self, length: int = 20, include_digits: bool = True, lower_case: bool = False) -> str:
        pool = string.ascii_letters + (string.digits if include_digits else "")
        drawn = "".join(self.choices(pool, k=length))
        return drawn.lower() if lower_case else drawn

    seam.replace(seam.MOTO_RANDOM_STRING, get_random_string)


ROUTE_MISSES = 1024  # requests no rule matched, remembered per router at most; then forgotten


def _remember_route_misses() -> None:
    seam.original(seam.ROUTER_DISPATCH)
    misses_of: dict = {}  # router -> (its map, (host, raw path, method) of requests it did not match)

    def dispatch(self, request):
        url_map = self.url_map  # rules change by a new map (seam): read once, as upstream reads it
        path = get_raw_path(request)
        key = (request.host, path, request.method)
        found = misses_of.get(id(self))
        if found is None or found[0] is not url_map:
            found = misses_of[id(self)] = (url_map, set())
        misses = found[1]
        if key in misses:
            raise NotFound()
        matcher = url_map.bind(server_name=request.host)
        try:
            handler, args = matcher.match(path, method=request.method)
        except NotFound as missed:
            if type(missed) is NotFound:  # not MethodNotAllowed or another of its kind
                if len(misses) >= ROUTE_MISSES:
                    misses.clear()
                misses.add(key)
            raise
        args.pop("__host__", None)
        return self.dispatcher(request, handler, args)

    seam.replace(seam.ROUTER_DISPATCH, dispatch)


USER_AGENTS = 256  # User-Agent strings kept at most (client fields and request features); then built anew


def _frozen(value):
    if isinstance(value, set):
        return frozenset(value)
    if isinstance(value, list):
        return tuple(value)
    return value


def _build_user_agents_once() -> None:
    build = seam.original(seam.USER_AGENT)
    built: dict = {}

    def to_string(self):
        context = get_context()
        features = frozenset(context.features) if context is not None else None
        key = (tuple((name, _frozen(value)) for name, value in vars(self).items()), features)
        try:
            found = built.get(key)
        except TypeError:  # a field that cannot be a key: built as before
            return build(self)
        if found is None:
            if len(built) >= USER_AGENTS:
                built.clear()
            found = built[key] = build(self)
        return found

    seam.replace(seam.USER_AGENT, to_string)


def _presign_code_urls_with_one_client() -> None:
    seam.original(seam.LAMBDA_CODE_URL)
    clients: dict = {}  # endpoint -> S3 client (botocore clients are safe to share between threads)

    def generate_presigned_url(self, endpoint_url: str) -> str:
        s3_client = clients.get(endpoint_url)
        if s3_client is None:
            s3_client = clients[endpoint_url] = boto3.client(
                "s3",
                region_name=AWS_REGION_US_EAST_1,
                aws_access_key_id=config.INTERNAL_RESOURCE_ACCOUNT,
                aws_secret_access_key=INTERNAL_AWS_SECRET_ACCESS_KEY,
                endpoint_url=endpoint_url,
            )
        params = {"Bucket": self.s3_bucket, "Key": self.s3_key}
        if self.s3_object_version:
            params["VersionId"] = self.s3_object_version
        return s3_client.generate_presigned_url("get_object", Params=params)

    seam.replace(seam.LAMBDA_CODE_URL, generate_presigned_url)


@hooks.on_infra_start()
def cut_request_cost():
    _log_without_trace_copies()
    _log_without_finding_callers()
    _choose_media_types_once()
    _list_handler_methods_once()
    _draw_random_strings_at_once()
    _remember_route_misses()
    _build_user_agents_once()
    _presign_code_urls_with_one_client()
