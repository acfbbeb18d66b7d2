"""Helpers shared by every roxs Lambda package (copied into each zip by build.py)."""

from roxs_common.aws import client
from roxs_common.clock import now_iso
from roxs_common.config import ConfigError, require_env
from roxs_common.constants import LOG_LEVELS, NOTIFICATION_PRIORITIES
from roxs_common.dynamo import (
    from_item,
    projection,
    query_items,
    scan_items,
    to_item,
)
from roxs_common.jsonutil import dumps, to_plain
from roxs_common.logger import get_logger, inject_lambda_context

__all__ = [
    "LOG_LEVELS",
    "NOTIFICATION_PRIORITIES",
    "ConfigError",
    "client",
    "dumps",
    "from_item",
    "get_logger",
    "inject_lambda_context",
    "now_iso",
    "projection",
    "query_items",
    "require_env",
    "scan_items",
    "to_item",
    "to_plain",
]
