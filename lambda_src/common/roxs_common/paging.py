"""One page of a newest-first listing: the page size every lister (and the API) accepts, and
the walk that fills a page from time partitions of a GSI, newest partition first (months of
images, hours of logs, days of notifications).
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from roxs_common.dynamo import from_item

PAGE_MAX = 100


def check_page_limit(limit: Any) -> int:
    """`limit` when it is an integer from 1 to PAGE_MAX; ValueError with the reason otherwise
    (True is a bool, not a page size)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= PAGE_MAX:
        raise ValueError(f"limit must be an integer between 1 and {PAGE_MAX}")
    return limit


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    partition: str | None  # the GSI hash key value the last row came from
    partition_more: bool  # whether that partition may hold rows after the last one


def newest_first_page(
    ddb: Any,
    *,
    table: str,
    index: str,
    attribute: str,
    partitions: Iterable[str],
    limit: int,
    start: tuple[str, Mapping[str, Any]] | None = None,
) -> Page:
    """Up to `limit` rows of GSI `index` (hash key `attribute`), newest first, from each of
    `partitions` in turn until the page is full; in the partition `start` names, only the
    rows after its key (DynamoDB JSON). Partitions after a full page are not read, so a
    lazy iterable is consumed no further than needed."""
    rows: list[dict[str, Any]] = []
    partition, more = None, False
    for partition in partitions:
        request: dict[str, Any] = {
            "TableName": table,
            "IndexName": index,
            "KeyConditionExpression": "#p = :p",
            "ExpressionAttributeNames": {"#p": attribute},
            "ExpressionAttributeValues": {":p": {"S": partition}},
            "ScanIndexForward": False,
        }
        if start is not None and start[0] == partition:
            request["ExclusiveStartKey"] = dict(start[1])
        more = True
        while more and len(rows) < limit:
            page = ddb.query(**request, Limit=limit - len(rows))
            rows.extend(from_item(item) for item in page.get("Items", []))
            more = bool(page.get("LastEvaluatedKey"))
            if more:
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        if len(rows) >= limit:
            break
    return Page(rows, partition, more)
