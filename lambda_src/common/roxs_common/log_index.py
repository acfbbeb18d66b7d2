"""The log index: RoxsLogIndex rows (HASH LogLevel, RANGE Timestamp, the tutorial's table) and
their newest-first reads, shared by the log processor, the API and the dashboard.

LogLevel as the hash key puts every ERROR in one partition, which grows without bound. So
every row also carries its UTC hour of receipt in the keys of two GSIs: `ByLevelHour` (HASH
`LevelHour` = `<LEVEL>#<YYYY-MM-DDTHH>`) and `ByHour` (HASH `Hour` = `<YYYY-MM-DDTHH>`), both
RANGE `Timestamp`. A request reads one hour of one level (or of all levels) per Query. The
directory `<TablePrefix>LogHours` (roxs_common.timeline) has scope `<LEVEL>` and `*`.
"""

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from roxs_common.aws import client
from roxs_common.clock import LATEST_MS
from roxs_common.config import require_env
from roxs_common.constants import LOG_LEVELS
from roxs_common.dynamo import scan_items
from roxs_common.jsonutil import to_plain
from roxs_common.paging import check_page_limit
from roxs_common.timeline import Timeline, newest_first

BY_LEVEL_HOUR, BY_HOUR = "ByLevelHour", "ByHour"
ALL_LEVELS = "*"
_HOUR = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}")
# "<epoch ms>.<9-digit batch nonce><6-digit position>" (see the log processor).
_TIMESTAMP = re.compile(r"\d{1,15}\.\d{15}")


def hour_of(epoch_ms: int) -> str:
    return f"{dt.datetime.fromtimestamp(epoch_ms // 1000, dt.UTC):%Y-%m-%dT%H}"


def list_keys(level: str, received_ms: int) -> dict[str, str]:
    """The GSI attributes of a row."""
    hour = hour_of(received_ms)
    return {"Hour": hour, "LevelHour": f"{level}#{hour}"}


def log_summary(row: dict[str, Any]) -> dict[str, Any]:
    """An index row as the API and the dashboard show it."""
    return to_plain(
        {
            "level": row.get("LogLevel"),
            "timestamp": row.get("TimestampMs", int(row["Timestamp"])),
            "message": row.get("Message"),
            "service": row.get("Service"),
            "user_id": row.get("UserId"),
            "log_id": row.get("LogId"),
            "batch_id": row.get("BatchId"),
        }
    )


_POSITION_KEYS = {"hour", "timestamp", "level"}


def check_log_position(after: Any, level: str | None = None) -> None:
    """ValueError with the reason when `after` is not a position list_logs returned for
    `level` (one level, or None for all)."""
    if not isinstance(after, dict) or set(after) != _POSITION_KEYS:
        raise ValueError(f"position must be an object with exactly {sorted(_POSITION_KEYS)}")
    if not isinstance(after["hour"], str) or not _HOUR.fullmatch(after["hour"]):
        raise ValueError("position hour must be YYYY-MM-DDTHH")
    if not isinstance(after["timestamp"], str) or not _TIMESTAMP.fullmatch(after["timestamp"]):
        raise ValueError("position timestamp must be a log index Timestamp (<ms>.<15 digits>)")
    if after["level"] not in LOG_LEVELS:
        raise ValueError(f"position level must be one of {', '.join(LOG_LEVELS)}")
    milliseconds = int(after["timestamp"].split(".")[0])
    if milliseconds > LATEST_MS:
        raise ValueError("position timestamp is after the year 9999")
    if hour_of(milliseconds) != after["hour"]:
        raise ValueError("position hour does not match its timestamp")
    if level is not None and after["level"] != level:
        raise ValueError(f"position is of level {after['level']}, the list of level {level}")


def list_logs(level: str | None, limit: int, after: dict | None) -> tuple[list[dict[str, Any]], dict | None]:
    """Up to `limit` index rows newest first, of one level or of all; and the position to pass
    as `after` for the next page (None at the end)."""
    check_page_limit(limit)
    if level is not None and level not in LOG_LEVELS:
        raise ValueError(f"level must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
    table, directory = require_env("LOG_INDEX_TABLE"), require_env("LOG_HOURS_TABLE")
    if level:
        timeline = Timeline(table, BY_LEVEL_HOUR, "LevelHour", directory, level, lambda hour: f"{level}#{hour}")
    else:
        timeline = Timeline(table, BY_HOUR, "Hour", directory, ALL_LEVELS, lambda hour: hour)
    start_key = None
    if after is not None:
        check_log_position(after, level)
        start_key = {
            timeline.partition_attribute: {"S": timeline.partition_of(after["hour"])},
            "Timestamp": {"N": after["timestamp"]},
            "LogLevel": {"S": after["level"]},
        }
    rows, more = newest_first(
        client("dynamodb"), timeline, limit, bucket=after["hour"] if after else None, start_key=start_key
    )
    if not more or not rows:
        return rows, None
    last = rows[-1]
    # Fixed 15 decimals: DynamoDB drops trailing zeros from a number, the position keeps its form.
    timestamp = f"{Decimal(last['Timestamp']):.15f}"
    return rows, {"hour": last["Hour"], "timestamp": timestamp, "level": last["LogLevel"]}


def recount_logs(table: str | None = None) -> dict[str, int]:
    """The true `logs` counter values ({Total, <LEVEL>...}) recomputed from the rows (a Scan:
    for `make recount`, never on a request path)."""
    counts: dict[str, int] = {"Total": 0}
    for row in scan_items(
        client("dynamodb"),
        TableName=table or require_env("LOG_INDEX_TABLE"),
        ProjectionExpression="LogLevel",
    ):
        counts["Total"] += 1
        counts[row["LogLevel"]] = counts.get(row["LogLevel"], 0) + 1
    return counts
