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

All or nothing. Throttled requests are retried by the SDK (standard retry mode) and items
DynamoDB leaves unprocessed by batch_write, both with exponential backoff. A batch whose
index still cannot be written whole fails loudly (BatchNotStored, a failed invocation)
after its rows written so far and its archive are deleted again, so the caller can send
the same batch again without duplicating anything. If that clean-up fails too, the error
says exactly what was left behind.
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


class BatchNotStored(RuntimeError):
    """The batch could not be indexed whole; the message says what (if anything) remains."""


UNDO_ATTEMPTS = 5
DELETE_BATCH_SIZE = 25  # BatchWriteItem's limit per request


def _delete_rows(table: str, rows: list[dict[str, Any]]) -> int:
    """Delete the index rows of `rows` (absent ones are no-ops); the number still not deleted."""
    ddb = client("dynamodb")
    keys = [
        {"DeleteRequest": {"Key": {"LogLevel": {"S": row["LogLevel"]}, "Timestamp": {"N": str(row["Timestamp"])}}}}
        for row in rows
    ]
    left = 0
    for start in range(0, len(keys), DELETE_BATCH_SIZE):
        pending = keys[start : start + DELETE_BATCH_SIZE]
        for attempt in range(UNDO_ATTEMPTS):
            if attempt:
                time.sleep(0.05 * 2**attempt)
            pending = ddb.batch_write_item(RequestItems={table: pending}).get("UnprocessedItems", {}).get(table, [])
            if not pending:
                break
        left += len(pending)
    return left


def undo_batch(bucket: str, key: str, table: str, rows: list[dict[str, Any]]) -> list[str]:
    """Remove what a failed batch wrote: index rows first, then the archive (so no row is ever
    left pointing at a missing archive). Returns what could not be removed (empty: nothing)."""
    leftovers = []
    try:
        not_deleted = _delete_rows(table, rows)
        if not_deleted:
            leftovers.append(f"up to {not_deleted} index rows in {table}")
    except Exception as exc:  # reported to the caller below, never swallowed
        logger.exception("could not delete the index rows of a failed batch")
        leftovers.append(f"up to {len(rows)} index rows in {table} ({type(exc).__name__}: {exc})")
    if leftovers:
        # The archive stays: the rows that remain point at it.
        leftovers.append(f"the archive s3://{bucket}/{key}")
        return leftovers
    try:
        client("s3").delete_object(Bucket=bucket, Key=key)
    except Exception as exc:
        logger.exception("could not delete the archive of a failed batch")
        leftovers.append(f"the archive s3://{bucket}/{key} ({type(exc).__name__}: {exc})")
    return leftovers


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
    try:
        indexed = batch_write(client("dynamodb"), table, rows)
    except Exception as exc:
        leftovers = undo_batch(bucket, key, table, rows)
        outcome = (
            "nothing was kept; the same batch can be sent again"
            if not leftovers
            else "clean-up failed, left behind: " + "; ".join(leftovers)
        )
        logger.error(
            "log batch not stored",
            extra={"batch_id": batch_id, "logs": len(rows), "reason": str(exc), "leftovers": leftovers},
        )
        raise BatchNotStored(f"log batch {batch_id} of {len(rows)} logs was not stored ({exc}); {outcome}") from exc
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
