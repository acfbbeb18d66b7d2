"""Reads of the log index (HASH LogLevel, RANGE Timestamp) shared by the API and the dashboard."""

import itertools
from typing import Any

from roxs_common.aws import client
from roxs_common.dynamo import query_items


def newest_logs(table: str, levels: tuple[str, ...], limit: int) -> list[dict[str, Any]]:
    """The `limit` newest index rows across `levels`, newest first.

    LogLevel is the hash key, so each level is a partition read newest-first; the newest
    `limit` overall are among the newest `limit` of each level.
    """
    ddb = client("dynamodb")
    candidates = []
    for level in levels:
        rows = query_items(
            ddb,
            TableName=table,
            KeyConditionExpression="LogLevel = :level",
            ExpressionAttributeValues={":level": {"S": level}},
            ScanIndexForward=False,
            Limit=limit,
        )
        candidates.extend(itertools.islice(rows, limit))
    candidates.sort(key=lambda row: row["Timestamp"], reverse=True)
    return candidates[:limit]
