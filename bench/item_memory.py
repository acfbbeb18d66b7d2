"""Group item-memory: the DynamoDB store's memory per item, as the engine's RSS grows."""

import concurrent.futures
import statistics
import time
import uuid

import boto3

from bench.fixtures import create_log_table
from bench.harness import (
    engine_pid,
    process_rss_mb,
    row,
    start_engine,
)

ITEMS_MEASURED = 100_000


def log_row(n: int) -> dict:
    """An item shaped as the log processor writes a log row (eight attributes)."""
    return {
        "LogLevel": {"S": ("INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR")[n % 6]},
        "Timestamp": {"N": f"{time.time_ns()}.{n:06d}"},
        "TimestampMs": {"N": str(int(time.time() * 1000))},
        "LogId": {"S": str(uuid.uuid4())},
        "Message": {"S": f"bench memory {n}"},
        "Service": {"S": "bench"},
        "UserId": {"S": f"u{n % 50}"},
        "BatchId": {"S": f"b{n // 10_000:04d}-{uuid.UUID(int=n // 10_000).hex[:12]}"},
    }


def bench_item_memory() -> None:
    """Issue 23: the DynamoDB store's memory per item, as the engine's RSS grows while a table
    of its own fills with ITEMS_MEASURED log rows; baseline: the items' own size as DynamoDB
    counts it (names and values)."""
    start_engine()
    dynamodb = boto3.client("dynamodb")
    table = create_log_table(dynamodb, "bench-items")

    def write(first: int) -> None:
        items = [{"PutRequest": {"Item": log_row(n)}} for n in range(first, first + 25)]
        while items:
            items = dynamodb.batch_write_item(RequestItems={table: items})["UnprocessedItems"].get(table, [])

    pid = engine_pid()
    before = process_rss_mb(pid)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(0, ITEMS_MEASURED, 25)))
    after = process_rss_mb(pid)
    dynamodb.delete_table(TableName=table)
    per_item = (after - before) * 1024 * 1024 / ITEMS_MEASURED
    sample = [log_row(n) for n in range(100)]
    own = statistics.mean(
        sum(len(name) + len(next(iter(value.values()))) for name, value in item.items()) for item in sample
    )
    row(
        f"DynamoDB memory per item ({ITEMS_MEASURED:,} log rows)",
        f"{per_item:,.0f} bytes/item (engine RSS {before:.0f} -> {after:.0f} MB)",
        f"the item's own size {own:.0f} bytes",
        "reported",
        None,
        bytes_per_item=per_item,
    )


def group(context: dict, args) -> None:
    bench_item_memory()
