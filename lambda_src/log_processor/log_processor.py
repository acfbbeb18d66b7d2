"""Log processor: {"logs": [...]} or one log object -> gzip archive in S3 + index rows in DynamoDB.

Numbers are kept exactly, in the index and in the archive. The Lambda runtime decodes an
event's numbers with a fraction or an exponent as doubles before the handler runs (on AWS
too), so such a number in an event object may already differ from what was sent: it is
refused with a reason, not stored rounded. Sent as JSON text instead (the event a JSON
string holding the same batch), every number is read exactly (int, Decimal) and archived
as written; either way a number DynamoDB cannot hold (over 38 significant digits, beyond
its range) is refused.

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
DynamoDB's 38). Two batches collide only if they share both the millisecond and the nonce;
each row's put is conditional on its key being free, so even then nothing is overwritten.

Steps: validate everything (nothing downstream may refuse a value half-way), archive the
whole batch (every field each caller sent), then index it in transactions of at most
ROWS_PER_TRANSACTION rows, each carrying the counters and hour directory entries of its own
rows (roxs_common.aggregates, roxs_common.log_index). The archive is written before the
index, so an index row never points at a batch that was not stored.

All or nothing. Transactions cancelled by conflicts or throttling are retried with backoff
(roxs_common.dynamo.transact_write; the SDK retries throttled requests). A batch whose index
still cannot be written whole fails loudly (BatchNotStored, a failed invocation) after each
committed transaction is undone by its exact inverse (rows deleted, the same counter and
directory deltas subtracted, in one transaction) and the archive deleted, so the caller can
send the same batch again without duplicating anything. If that clean-up fails too, the
error says exactly what was left behind.
"""

import datetime as dt
import gzip
import secrets
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from roxs_common import (
    LOG_LEVELS,
    client,
    dumps,
    get_logger,
    inject_lambda_context,
    require_env,
    to_item,
)
from roxs_common.aggregates import LOGS, TRANSACTION_MAX_ITEMS, Deltas
from roxs_common.aws import error_code
from roxs_common.clock import LATEST_MS
from roxs_common.dynamo import cancellation_codes, transact_write
from roxs_common.log_index import ALL_LEVELS, hour_of, list_keys
from roxs_common.storable import MAX_DEPTH, NUMBER_MAX_EXPONENT, check_json_value
from roxs_common.timeline import directory_update
from roxs_common.untrusted import parse_json

logger = get_logger(__name__)

MAX_LOGS_PER_BATCH = 10_000
INDEX_MESSAGE_CHARS = 100
# Service and user id are kept whole in the archive; the index keeps this many characters.
INDEX_FIELD_CHARS = 256
DEFAULT_LEVEL = "INFO"
DEFAULT_SERVICE = "unknown"
DEFAULT_USER_ID = "anonymous"
# Per transaction: the `logs` counter, the minute's activity, the `*` hour and one hour
# entry per level leave the rest of TransactWriteItems' 100 operations to rows.
ROWS_PER_TRANSACTION = TRANSACTION_MAX_ITEMS - 3 - len(LOG_LEVELS)
# The batch as JSON text: integers are read up to DynamoDB's largest magnitude (the digits
# are then checked like any number), and logs nest MAX_DEPTH levels inside {"logs": [{...}]}.
TEXT_MAX_INTEGER = 10 ** (NUMBER_MAX_EXPONENT + 1) - 1
TEXT_MAX_DEPTH = MAX_DEPTH + 3


@dataclass(frozen=True)
class LogEntry:
    level: str
    message: str
    service: str
    user_id: str
    caller_timestamp_ms: int | None  # the caller's own `timestamp`, when valid
    sent: dict[str, Any]  # every field the caller sent, as sent


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


def caller_timestamp_ms(value: Any) -> int | None:
    """Epoch milliseconds of a caller's `timestamp`: an integer of epoch milliseconds, or an
    ISO 8601 text (UTC when it names no offset); None when it is neither."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value <= LATEST_MS else None
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        millis = int(parsed.timestamp() * 1000)
        return millis if 0 <= millis <= LATEST_MS else None
    return None


def parse_logs(event: Any) -> list[LogEntry]:
    """Validated log entries of an event (the batch, or its JSON text); ValueError names the
    offending index and field."""
    if isinstance(event, str):
        try:
            event = parse_json(event, max_depth=TEXT_MAX_DEPTH, max_integer=TEXT_MAX_INTEGER)
        except ValueError as exc:
            raise ValueError(f"the event is text but not a JSON batch: {exc}") from None
    if not isinstance(event, dict):
        raise ValueError(
            "event must be an object with 'logs', a single log object, or the JSON text of either, "
            f"got {type(event).__name__}"
        )
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
        # Every field goes to the archive, and the indexed ones to DynamoDB: all must be storable.
        check_json_value(raw, f"logs[{index}]")
        entries.append(
            LogEntry(
                level=level.upper(),
                message=message,
                service=_optional_text(raw, index, "service", DEFAULT_SERVICE),
                user_id=_optional_text(raw, index, "user_id", DEFAULT_USER_ID),
                caller_timestamp_ms=caller_timestamp_ms(raw.get("timestamp")),
                sent=raw,
            )
        )
    return entries


def index_timestamp(ms: int, nonce: int, seq: int) -> str:
    """The unique Timestamp of a row (see the module docstring)."""
    return f"{ms}.{nonce:09d}{seq:06d}"


def build_batch(
    entries: list[LogEntry], *, batch_id: str, received_ms: int, nonce: int, processed_at: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(archive records with every field sent, index rows) for one batch."""
    archive, rows = [], []
    for seq, entry in enumerate(entries):
        log_id = str(uuid.uuid4())
        timestamp = index_timestamp(received_ms, nonce, seq)
        caller_time = {} if entry.caller_timestamp_ms is None else {"caller_timestamp_ms": entry.caller_timestamp_ms}
        archive.append(
            {
                "log_id": log_id,
                "batch_id": batch_id,
                "index_timestamp": timestamp,
                "received_ms": received_ms,
                "processed_at": processed_at,
                **caller_time,
                "level": entry.level,
                "message": entry.message,
                "service": entry.service,
                "user_id": entry.user_id,
                "sent": entry.sent,
            }
        )
        rows.append(
            {
                "LogLevel": entry.level,
                "Timestamp": Decimal(timestamp),
                "TimestampMs": received_ms,
                **({"CallerTimestampMs": entry.caller_timestamp_ms} if entry.caller_timestamp_ms is not None else {}),
                "LogId": log_id,
                "Message": entry.message[:INDEX_MESSAGE_CHARS],
                "Service": entry.service[:INDEX_FIELD_CHARS],
                "UserId": entry.user_id[:INDEX_FIELD_CHARS],
                "BatchId": batch_id,
                **list_keys(entry.level, received_ms),
            }
        )
    return archive, rows


def archive_key(received: dt.datetime, batch_id: str) -> str:
    return f"logs/{received:%Y/%m/%d/%H}/{batch_id}.json.gz"


class BatchNotStored(RuntimeError):
    """The batch could not be indexed whole; the message says what (if anything) remains."""


# --- the index, in transactions -----------------------------------------------------------------


def chunk_counts(rows: list[dict[str, Any]], received_ms: int, sign: int = 1) -> list[dict[str, Any]]:
    """The counter and directory Updates for `rows` (sign -1: their exact inverse)."""
    levels = Counter(row["LogLevel"] for row in rows)
    deltas = Deltas().add(LOGS, Total=sign * len(rows), **{level: sign * n for level, n in levels.items()})
    deltas.add_activity(received_ms, **{f"logs_{level}": sign * n for level, n in levels.items()})
    directory, hour = require_env("LOG_HOURS_TABLE"), hour_of(received_ms)
    return [
        *deltas.updates(require_env("STATS_TABLE")),
        directory_update(directory, ALL_LEVELS, hour, sign * len(rows)),
        *(directory_update(directory, level, hour, sign * n) for level, n in sorted(levels.items())),
    ]


def _row_key(row: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {"LogLevel": {"S": row["LogLevel"]}, "Timestamp": {"N": str(row["Timestamp"])}}


def write_chunk(table: str, rows: list[dict[str, Any]], received_ms: int, token: str) -> None:
    puts = [
        {"Put": {"TableName": table, "Item": to_item(row), "ConditionExpression": "attribute_not_exists(LogLevel)"}}
        for row in rows
    ]
    transact_write(client("dynamodb"), [*puts, *chunk_counts(rows, received_ms)], token=token)


def undo_chunk(table: str, rows: list[dict[str, Any]], received_ms: int) -> bool:
    """Delete a chunk's rows and subtract its counts, in one transaction; False when the chunk
    was never committed (its rows are absent, so there is nothing to subtract)."""
    deletes = [
        {"Delete": {"TableName": table, "Key": _row_key(row), "ConditionExpression": "attribute_exists(LogLevel)"}}
        for row in rows
    ]
    try:
        transact_write(client("dynamodb"), [*deletes, *chunk_counts(rows, received_ms, sign=-1)])
    except client("dynamodb").exceptions.TransactionCanceledException as exc:
        codes = cancellation_codes(exc)[: len(rows)]
        if codes and all(code == "ConditionalCheckFailed" for code in codes):
            return False
        raise
    return True


def chunks(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [rows[start : start + ROWS_PER_TRANSACTION] for start in range(0, len(rows), ROWS_PER_TRANSACTION)]


def index_batch(table: str, rows: list[dict[str, Any]], received_ms: int, batch_id: str) -> int:
    """Write every chunk; on a failure undo what was written and raise the failure with
    `leftovers` (what could not be undone) attached. Returns the number of rows."""
    written: list[list[dict[str, Any]]] = []
    try:
        for number, chunk in enumerate(chunks(rows)):
            try:
                # ClientRequestToken: a resend of a transaction that already reached DynamoDB applies once.
                token = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{batch_id}/{number}"))
                write_chunk(table, chunk, received_ms, token=token)
            except Exception as exc:
                if _maybe_committed(exc):
                    written.append(chunk)  # undo_chunk finds out whether it was
                raise
            written.append(chunk)
    except Exception as exc:
        exc.leftovers = undo_chunks(table, written, received_ms)  # type: ignore[attr-defined]
        raise
    return len(rows)


def _maybe_committed(error: Exception) -> bool:
    """Whether a failed transaction may still have been applied: DynamoDB's error answers say
    it was not, except an internal error; no answer at all (a timeout) says nothing."""
    return not isinstance(error, ClientError) or error_code(error) == "InternalServerError"


def undo_chunks(table: str, written: list[list[dict[str, Any]]], received_ms: int) -> list[str]:
    """Undo the chunks written (the last one perhaps not), newest first; what remains."""
    leftovers = []
    for chunk in reversed(written):
        try:
            undo_chunk(table, chunk, received_ms)
        except Exception as exc:  # reported to the caller, never swallowed
            logger.exception("could not undo a chunk of a failed batch")
            leftovers.append(f"up to {len(chunk)} index rows in {table} and their counts ({type(exc).__name__}: {exc})")
    return leftovers


# --- the archive --------------------------------------------------------------------------------


def store_archive(bucket: str, key: str, archive: list[dict[str, Any]], batch_id: str, processed_at: str) -> None:
    client("s3").put_object(
        Bucket=bucket,
        Key=key,
        Body=gzip.compress(dumps(archive).encode("utf-8")),
        ContentType="application/json",
        ContentEncoding="gzip",
        Metadata={"log-count": str(len(archive)), "batch-id": batch_id, "processed-at": processed_at},
    )


def delete_archive(bucket: str, key: str) -> list[str]:
    try:
        client("s3").delete_object(Bucket=bucket, Key=key)
    except Exception as exc:
        logger.exception("could not delete the archive of a failed batch")
        return [f"the archive s3://{bucket}/{key} ({type(exc).__name__}: {exc})"]
    return []


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
    store_archive(bucket, key, archive, batch_id, processed_at)
    try:
        indexed = index_batch(table, rows, received_ms, batch_id)
    except Exception as exc:
        leftovers = getattr(exc, "leftovers", [])
        # The archive stays while rows that point at it may remain.
        leftovers = leftovers + [f"the archive s3://{bucket}/{key}"] if leftovers else delete_archive(bucket, key)
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
