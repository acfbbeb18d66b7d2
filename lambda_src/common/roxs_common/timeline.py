"""Newest-first reads over time-bucketed index partitions, with a directory of the non-empty
buckets, shared by the log index and the notification history.

Rows carry a time bucket (an hour of logs, a day of notifications) in the hash key of a GSI,
so every partition a request queries holds one bucket: its size is bounded by time, not by
the table. Which buckets hold rows is kept in a small directory table (HASH `Scope`, RANGE
`Bucket`, attribute `Rows`), ADDed in the same TransactWriteItems as the rows, so the walk
goes straight from one non-empty bucket to the next: its cost is one directory page per
DIRECTORY_PAGE buckets plus one Query per non-empty bucket it reads, whatever the gaps.
"""

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from roxs_common.paging import newest_first_page

DIRECTORY_PAGE = 10


@dataclass(frozen=True)
class Timeline:
    table: str  # the rows' table
    index: str  # its GSI whose hash key holds `scope` and the bucket
    partition_attribute: str  # that hash key's attribute
    directory: str  # the directory table
    scope: str  # the directory's Scope for this listing (e.g. "ERROR", "*")
    partition_of: Callable[[str], str]  # bucket -> the GSI hash key value


def directory_update(table: str, scope: str, bucket: str, rows: int) -> dict[str, Any]:
    """The TransactWriteItems Update that counts `rows` more (or fewer) rows in a bucket."""
    return {
        "Update": {
            "TableName": table,
            "Key": {"Scope": {"S": scope}, "Bucket": {"S": bucket}},
            "UpdateExpression": "ADD #rows :n",
            "ExpressionAttributeNames": {"#rows": "Rows"},
            "ExpressionAttributeValues": {":n": {"N": str(rows)}},
        }
    }


def _buckets(ddb: Any, timeline: Timeline, until: str | None) -> Iterator[str]:
    """Non-empty buckets of the scope, newest first, from `until` (inclusive) down."""
    kwargs: dict[str, Any] = {
        "TableName": timeline.directory,
        "KeyConditionExpression": "#scope = :scope" + (" AND #bucket <= :until" if until else ""),
        "FilterExpression": "#rows > :zero",  # a rolled-back batch leaves its bucket at 0
        "ExpressionAttributeNames": {"#scope": "Scope", "#rows": "Rows", **({"#bucket": "Bucket"} if until else {})},
        "ExpressionAttributeValues": {
            ":scope": {"S": timeline.scope},
            ":zero": {"N": "0"},
            **({":until": {"S": until}} if until else {}),
        },
        "ScanIndexForward": False,
        "Limit": DIRECTORY_PAGE,
    }
    while True:
        page = ddb.query(**kwargs)
        for item in page.get("Items", []):
            yield item["Bucket"]["S"]
        if not page.get("LastEvaluatedKey"):
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def newest_first(
    ddb: Any,
    timeline: Timeline,
    limit: int,
    *,
    bucket: str | None = None,
    start_key: Mapping[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """Up to `limit` rows newest first, resuming after `start_key` (a GSI key, DynamoDB JSON)
    in `bucket` when given; and whether more rows may follow the last one."""
    start = (timeline.partition_of(bucket), start_key) if bucket is not None and start_key is not None else None
    page = newest_first_page(
        ddb,
        table=timeline.table,
        index=timeline.index,
        attribute=timeline.partition_attribute,
        partitions=(timeline.partition_of(current) for current in _buckets(ddb, timeline, bucket)),
        limit=limit,
        start=start,
    )
    return page.rows, len(page.rows) >= limit
