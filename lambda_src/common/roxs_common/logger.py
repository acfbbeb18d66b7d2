"""Structured logging: one JSON object per line, in the spirit of Powertools' Logger.

Every line has timestamp, level, message, service, logger and location; inside a handler
wrapped with `inject_lambda_context` also function_name, request_id and cold_start. Keyword
data goes through `extra=`: ``logger.info("stored", extra={"batch_id": batch_id})``.
"""

import contextvars
import datetime as dt
import functools
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from roxs_common.jsonutil import dumps
from roxs_common.metrics import publish_duration

_ROOT_LOGGER_NAME = "roxs"
# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
_lambda_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("lambda_context", default=None)
_cold_start = True


def _service_name() -> str:
    return os.environ.get("SERVICE_NAME") or os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or "roxs"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "message": record.getMessage(),
            "service": _service_name(),
            "logger": record.name,
            "location": f"{record.funcName}:{record.lineno}",
            **(_lambda_context.get() or {}),
        }
        entry.update({key: value for key, value in vars(record).items() if key not in _RECORD_ATTRIBUTES})
        if record.exc_info:
            entry["exception_name"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            entry["exception"] = self.formatException(record.exc_info)
        try:
            return dumps(entry)
        except TypeError:
            # An unserialisable `extra` value must not cost us the log line itself.
            return json.dumps(entry, default=repr, ensure_ascii=False)


def _configure_root() -> logging.Logger:
    root = logging.getLogger(_ROOT_LOGGER_NAME)
    if not root.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
        # The Lambda runtime installs its own plain-text handler on the root logger;
        # not propagating keeps each line a single JSON object.
        root.propagate = False
        root.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
    return root


def get_logger(name: str) -> logging.Logger:
    """A logger under the shared JSON handler, e.g. ``get_logger(__name__)``."""
    _configure_root()
    return logging.getLogger(f"{_ROOT_LOGGER_NAME}.{name}")


def inject_lambda_context(handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """Decorator adding the invocation's request id and function name to every log line,
    and publishing the handler's duration (roxs_common.metrics, when METRICS_NAMESPACE is set)."""

    @functools.wraps(handler)
    def wrapper(event: Any, context: Any) -> Any:
        global _cold_start
        token = _lambda_context.set(
            {
                "function_name": getattr(context, "function_name", None) or _service_name(),
                "request_id": getattr(context, "aws_request_id", None),
                "cold_start": _cold_start,
            }
        )
        _cold_start = False
        started = time.perf_counter()
        try:
            return handler(event, context)
        finally:
            publish_duration(getattr(context, "function_name", None), (time.perf_counter() - started) * 1000)
            _lambda_context.reset(token)

    return wrapper
