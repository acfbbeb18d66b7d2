"""DynamoDB helpers on the low-level client: item conversion, pagination, transactions.

Reads never stop at the first page: every helper follows LastEvaluatedKey, because a
single Scan/Query returns at most 1 MB and silently drops the rest.
"""

import random
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_item(data: Mapping[str, Any]) -> dict[str, dict]:
    """Python values (str, int, Decimal, ...) -> DynamoDB attribute values."""
    return {key: _serializer.serialize(value) for key, value in data.items()}


def from_item(item: Mapping[str, dict]) -> dict[str, Any]:
    """DynamoDB attribute values -> Python values (numbers become Decimal)."""
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def projection(*attributes: str) -> dict[str, Any]:
    """ProjectionExpression kwargs with every name behind a placeholder, so DynamoDB's long
    list of reserved words (Status, Size, ...) never breaks a read."""
    names = {f"#p{index}": attribute for index, attribute in enumerate(attributes)}
    return {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}


def _pages(client: Any, operation: Literal["scan", "query"], kwargs: dict[str, Any]) -> Iterator[dict]:
    # botocore's paginator follows LastEvaluatedKey and raises PaginationError when a backend
    # answers the same key twice (which would otherwise loop until the function times out).
    return client.get_paginator(operation).paginate(**kwargs)


def scan_items(client: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item of a Scan (kwargs as for client.scan), page after page, as Python dicts."""
    for page in _pages(client, "scan", kwargs):
        for item in page.get("Items", []):
            yield from_item(item)


def query_items(client: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item of a Query, page after page. `Limit` is the page size: a consumer that
    stops early (itertools.islice) never triggers the next request."""
    for page in _pages(client, "query", kwargs):
        for item in page.get("Items", []):
            yield from_item(item)


# Cancellation reasons that a later attempt can clear (another transaction held an item, or
# DynamoDB throttled one): the SDK does not retry TransactionCanceledException itself.
RETRYABLE_CANCELLATIONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})


def cancellation_codes(error: Exception) -> list[str]:
    """The per-operation reason codes of a cancelled transaction ([] for other errors)."""
    response = getattr(error, "response", {}) or {}
    return [reason.get("Code", "") for reason in response.get("CancellationReasons", [])]


def transact_write(
    client: Any,
    operations: list[dict[str, Any]],
    *,
    token: str | None = None,
    max_attempts: int = 6,
    base_delay_s: float = 0.05,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """TransactWriteItems, retried with jittered backoff while it is cancelled only because of
    conflicts or throttling. `token` (ClientRequestToken) makes a resend that reaches
    DynamoDB twice apply once. Any other cancellation (a failed condition) is raised at once."""
    kwargs: dict[str, Any] = {"TransactItems": operations}
    if token:
        kwargs["ClientRequestToken"] = token
    for attempt in range(1, max_attempts + 1):
        try:
            client.transact_write_items(**kwargs)
            return
        except client.exceptions.TransactionCanceledException as exc:
            codes = {code for code in cancellation_codes(exc) if code not in ("", "None")}
            if attempt == max_attempts or not codes or not codes <= RETRYABLE_CANCELLATIONS:
                raise
            sleep(random.uniform(0, base_delay_s * 2**attempt))
