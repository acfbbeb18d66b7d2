"""A small router for API Gateway REST proxy events (no dependencies beyond the standard library).

Routes are "METHOD /path" with `{name}` segments. The router answers by itself:
- OPTIONS on a known path: 204 preflight;
- known path, other method: 405 with an Allow header;
- unknown path: 404 with the list of available endpoints;
- HttpError raised by a route: its status and JSON body.
Every response is JSON (unless empty, or a Text body such as the dashboard page) and carries
the CORS headers.
"""

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from roxs_common import dumps
from roxs_common.untrusted import parse_json, text_problem

MAX_BODY_BYTES = 64 * 1024


class HttpError(Exception):
    """A client-visible error: `status` with body {"error": message}."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Text:
    """A body sent as it is, not as JSON, with its media type (an HTML page, for example)."""

    content: str
    content_type: str = "text/plain; charset=utf-8"


@dataclass
class Reply:
    status: int
    body: Any = None  # serialised as JSON; None means an empty body; a Text is sent as it is
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: bytes | None
    request_id: str | None
    path_params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> "Request":
        raw_body = event.get("body")
        if raw_body is None:
            body = None
        elif event.get("isBase64Encoded"):
            try:
                body = base64.b64decode(raw_body, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise HttpError(400, f"body is not valid base64: {exc}") from exc
        else:
            try:
                body = raw_body.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise HttpError(400, f"body is not valid Unicode text: {exc.reason} at position {exc.start}") from exc
        # API Gateway sends null (not {}) when there are no query parameters.
        query = {key: value for key, value in (event.get("queryStringParameters") or {}).items() if value is not None}
        path = event.get("path") or "/"
        # Strings no service or JSON encoder takes (lone surrogates, noncharacters) stop here,
        # before a route echoes them or sends them on. A value may hold noncharacters: S3
        # keys do, so /files takes them in a prefix; every other parameter has a fixed form.
        texts = [("the path", path, False), *(("a query parameter name", key, False) for key in query)]
        texts += [(f"query parameter {key[:40]!r}", value, True) for key, value in query.items()]
        for name, text, noncharacters in texts:
            problem = text_problem(text, name, noncharacters=noncharacters)
            if problem:
                raise HttpError(400, problem)
        # queryStringParameters keeps only the last of repeated parameters (?limit=5&limit=500):
        # every parameter here is a single value, so a repeated one is ambiguous, not ignored.
        for key, values in sorted((event.get("multiValueQueryStringParameters") or {}).items()):
            if isinstance(values, list) and len(values) > 1:
                raise HttpError(400, f"query parameter {key!r} is given {len(values)} times; give it once")
        return cls(
            method=(event.get("httpMethod") or "GET").upper(),
            path=_normalise(path),
            query=query,
            body=body,
            request_id=(event.get("requestContext") or {}).get("requestId"),
        )

    def json_object(self) -> dict[str, Any]:
        """The body parsed as a JSON object, or HttpError 400/413 saying why not."""
        if self.body is None or not self.body.strip():
            raise HttpError(400, "request body is required (a JSON object)")
        if len(self.body) > MAX_BODY_BYTES:
            raise HttpError(413, f"body is {len(self.body)} bytes, the limit is {MAX_BODY_BYTES}")
        try:
            value = parse_json(self.body)
        except ValueError as exc:
            raise HttpError(400, f"body is not valid JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise HttpError(400, f"body must be a JSON object, got {type(value).__name__}")
        return value


Handler = Callable[[Request], Reply]


def _normalise(path: str) -> str:
    return "/" + path.strip("/")


def _match(pattern: str, path: str) -> dict[str, str] | None:
    pattern_parts, path_parts = pattern.strip("/").split("/"), path.strip("/").split("/")
    if len(pattern_parts) != len(path_parts):
        return None
    params = {}
    for expected, actual in zip(pattern_parts, path_parts, strict=True):
        if expected.startswith("{") and expected.endswith("}"):
            if not actual:
                return None
            params[expected[1:-1]] = unquote(actual)
        elif expected != actual:
            return None
    return params


class Router:
    def __init__(self, allow_origin: Callable[[], str]):
        self._routes: dict[str, dict[str, Handler]] = {}
        self._allow_origin = allow_origin

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self._routes.setdefault(pattern, {})[method.upper()] = handler
            return handler

        return register

    @property
    def endpoints(self) -> list[str]:
        return [f"{method} {pattern}" for pattern, methods in self._routes.items() for method in methods]

    def _all_methods(self) -> list[str]:
        return sorted({method for methods in self._routes.values() for method in methods} | {"OPTIONS"})

    def _resolve(self, path: str) -> tuple[dict[str, Handler], dict[str, str]] | None:
        for pattern, methods in self._routes.items():
            params = _match(pattern, path)
            if params is not None:
                return methods, params
        return None

    def dispatch(self, request: Request) -> dict[str, Any]:
        """The API Gateway proxy response for `request` (HttpError included; other exceptions propagate)."""
        resolved = self._resolve(request.path)
        if resolved is None:
            return self.respond(
                Reply(
                    404,
                    {
                        "error": "Endpoint not found",
                        "path": request.path,
                        "method": request.method,
                        "available_endpoints": self.endpoints,
                    },
                ),
                self._all_methods(),
            )
        methods, params = resolved
        allowed = sorted(set(methods) | {"OPTIONS"})
        if request.method == "OPTIONS":
            return self.respond(Reply(204, headers={"Allow": ", ".join(allowed)}), allowed)
        handler = methods.get(request.method)
        if handler is None:
            reason = f"{request.method} is not supported on {request.path}; allowed: {', '.join(allowed)}"
            return self.respond(
                Reply(405, {"error": "Method not allowed", "reason": reason}, {"Allow": ", ".join(allowed)}), allowed
            )
        request.path_params = params
        try:
            reply = handler(request)
        except HttpError as exc:
            reply = Reply(exc.status, {"error": exc.message})
        return self.respond(reply, allowed)

    def respond(self, reply: Reply, allowed_methods: list[str] | None = None) -> dict[str, Any]:
        headers = {
            "Access-Control-Allow-Origin": self._allow_origin(),
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Allow-Methods": ",".join(allowed_methods or self._all_methods()),
        }
        if isinstance(reply.body, Text):
            headers["Content-Type"] = reply.body.content_type
            body = reply.body.content
        elif reply.body is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
            body = dumps(reply.body)
        else:
            body = ""
        headers.update(reply.headers)
        return {
            "statusCode": reply.status,
            "headers": headers,
            "body": body,
            "isBase64Encoded": False,
        }
