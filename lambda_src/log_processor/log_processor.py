"""Log processor: {"logs": [...]} or one log object -> gzip archive in S3 + index rows in DynamoDB.

Index key. RoxsLogIndex is keyed by (LogLevel, Timestamp). A plain millisecond Timestamp
lets two logs of the same level in the same millisecond overwrite each other, so each
row's Timestamp is a decimal number

    Timestamp = f"{ms}.{nonce:09d}{seq:06d}"

- ms: epoch milliseconds when the batch was received (the integer part, so ordering and
  range queries by time still work; it is also stored as TimestampMs);
- nonce: random per batch (secrets.randbelow(10**9)), separating concurrent batches that
  land in the same millisecond;
- seq: the log's position in its batch, keeping batch order.

Fixed widths make every (ms, nonce, seq) a distinct number (28 significant digits, within
DynamoDB's 38). Two batches collide only if they share both the millisecond and the nonce.

The archive is written before the index, so an index row never points at a batch that
was not stored.
"""

import datetime as dt
import gzip
import secrets
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from roxs_common import LOG_LEVELS, batch_write, client, dumps, get_logger, inject_lambda_context, require_env

logger = get_logger(__name__)

MAX_LOGS_PER_BATCH = 10_000
INDEX_MESSAGE_CHARS = 100
DEFAULT_LEVEL = "INFO"
DEFAULT_SERVICE = "unknown"
DEFAULT_USER_ID = "anonymous"


@dataclass(frozen=True)
class LogEntry:
    level: str
    message: str
    service: str
    user_id: str


def _optional_text(entry: dict, index: int, field: str, default: str) -> str:
    value = entry.get(field)
    if value is None:
        return default
    # Numeric ids are common for users and services; they are stored as text.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise ValueError(f"logs[{index}].{field} must be a string, got {type(value).__name__}")
    return value


def parse_logs(event: Any) -> list[LogEntry]:
    """Validated log entries of an event; ValueError names the offending index and field."""
    if not isinstance(event, dict):
        raise ValueError(f"event must be an object with 'logs' or a single log object, got {type(event).__name__}")
    raw_logs = event.get("logs", [event])
    if not isinstance(raw_logs, list) or not raw_logs:
        raise ValueError("logs must be a non-empty list")
    if len(raw_logs) > MAX_LOGS_PER_BATCH:
        raise ValueError(f"logs has {len(raw_logs)} entries, the maximum is {MAX_LOGS_PER_BATCH}")

    entries = []
    for index, raw in enumerate(raw_logs):
        if not isinstance(raw, dict):
            raise ValueError(f"logs[{index}] must be an object, got {type(raw).__name__}")
        level = raw.get("level", DEFAULT_LEVEL)
        if not isinstance(level, str) or level.upper() not in LOG_LEVELS:
            raise ValueError(f"logs[{index}].level must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
        message = raw.get("message")
        if not isinstance(message, str):
            raise ValueError(f"logs[{index}].message must be a string, got {type(message).__name__}")
        entries.append(
            LogEntry(
                level=level.upper(),
                message=message,
                service=_optional_text(raw, index, "service", DEFAULT_SERVICE),
                user_id=_optional_text(raw, index, "user_id", DEFAULT_USER_ID),
            )
        )
    return entries


def index_timestamp(ms: int, nonce: int, seq: int) -> str:
    """The unique Timestamp of a row (see the module docstring)."""
    return f"{ms}.{nonce:09d}{seq:06d}"


def build_batch(
    entries: list[LogEntry], *, batch_id: str, received_ms: int, nonce: int, processed_at: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(archive records with the full messages, index rows) for one batch."""
    archive, rows = [], []
    for seq, entry in enumerate(entries):
        log_id = str(uuid.uuid4())
        timestamp = index_timestamp(received_ms, nonce, seq)
        archive.append(
            {
                "log_id": log_id,
                "timestamp": received_ms,
                "index_timestamp": timestamp,
                "level": entry.level,
                "message": entry.message,
                "service": entry.service,
                "user_id": entry.user_id,
                "batch_id": batch_id,
                "processed_at": processed_at,
            }
        )
        rows.append(
            {
                "LogLevel": entry.level,
                "Timestamp": Decimal(timestamp),
                "TimestampMs": received_ms,
                "LogId": log_id,
                "Message": entry.message[:INDEX_MESSAGE_CHARS],
                "Service": entry.service,
                "UserId": entry.user_id,
                "BatchId": batch_id,
            }
        )
    return archive, rows


def archive_key(received: dt.datetime, batch_id: str) -> str:
    return f"logs/{received:%Y/%m/%d/%H}/{batch_id}.json.gz"


@inject_lambda_context
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    entries = parse_logs(event)
    bucket = require_env("LOG_BUCKET")
    table = require_env("LOG_INDEX_TABLE")

    received_ms = time.time_ns() // 1_000_000
    received = dt.datetime.fromtimestamp(received_ms / 1000, dt.UTC)
    batch_id = str(uuid.uuid4())
    processed_at = received.isoformat()
    archive, rows = build_batch(
        entries, batch_id=batch_id, received_ms=received_ms, nonce=secrets.randbelow(10**9), processed_at=processed_at
    )

    key = archive_key(received, batch_id)
    client("s3").put_object(
        Bucket=bucket,
        Key=key,
        Body=gzip.compress(dumps(archive).encode("utf-8")),
        ContentType="application/json",
        ContentEncoding="gzip",
        Metadata={"log-count": str(len(archive)), "batch-id": batch_id, "processed-at": processed_at},
    )
    indexed = batch_write(client("dynamodb"), table, rows)
    location = f"s3://{bucket}/{key}"
    logger.info("log batch stored", extra={"batch_id": batch_id, "logs": indexed, "location": location})
    return {
        "statusCode": 200,
        "body": dumps(
            {
                "message": f"Processed {indexed} logs",
                "batch_id": batch_id,
                "storage_location": location,
                "logs_indexed": indexed,
            }
        ),
    }
