"""Counters kept at write time in the stats table (HASH `Counter`), so reads cost the same at
100 rows and at 1,000,000.

Every writer adds its deltas in the same TransactWriteItems as the rows they describe
(each row's put conditional on it not existing): a duplicate delivery cancels the whole
transaction, so it neither duplicates the row nor counts twice, and a cancelled or
rolled-back transaction leaves the counters as they were.

Counter items (the `Counter` value, then its numeric attributes):

- `images`: Total, Completed, Error, Rejected, OriginalBytes
- `logs`: Total, and one attribute per level (`ERROR`, ...)
- `notifications`: Total, `priority_<p>`, `status_<s>`
- `bucket#<name>`: Objects, Bytes (roxs_common.storage, the storage counter)
- `images#months`: the image listing's month directory, one attribute per GSI partition
  with its row count (`all#YYYY-MM`, `<status>#YYYY-MM`; roxs_common.image_index)
- `minute#<YYYY-MM-DDTHH:MM>` (UTC): activity of that minute, attributes
  `<domain>_<what>` (`images_completed`, `logs_ERROR`, `notifications_sent`, ...), with
  `ExpiresAt` (epoch seconds, the table's TTL attribute) ACTIVITY_RETENTION_S later.

DynamoDB refuses two operations on one item in a transaction, so deltas are merged per
counter (`Deltas`) before they become Update operations.
"""

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from roxs_common.dynamo import from_item

IMAGES = "images"
LOGS = "logs"
NOTIFICATIONS = "notifications"
BUCKET_PREFIX = "bucket#"
MINUTE_PREFIX = "minute#"
# How long per-minute activity is kept (TTL); the dashboard draws the last 60 minutes.
ACTIVITY_RETENTION_S = 2 * 60 * 60
# TransactWriteItems' limit of operations per request.
TRANSACTION_MAX_ITEMS = 100
# BatchGetItem's limit of keys per request.
BATCH_GET_MAX_KEYS = 100
UNPROCESSED_ATTEMPTS = 5


def bucket_counter(bucket: str) -> str:
    return f"{BUCKET_PREFIX}{bucket}"


def minute_of(epoch_ms: int) -> dt.datetime:
    """The UTC minute that contains `epoch_ms`."""
    return dt.datetime.fromtimestamp(epoch_ms // 60_000 * 60, dt.UTC)


def minute_counter(minute: dt.datetime) -> str:
    return f"{MINUTE_PREFIX}{minute.astimezone(dt.UTC):%Y-%m-%dT%H:%M}"


class Deltas:
    """Counter deltas merged per counter item, turned into TransactWriteItems Updates."""

    def __init__(self) -> None:
        self._deltas: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._expires_at: dict[str, int] = {}

    def add(self, counter: str, **deltas: int) -> "Deltas":
        for attribute, delta in deltas.items():
            self._deltas[counter][attribute] += delta
        return self

    def add_activity(self, epoch_ms: int, **deltas: int) -> "Deltas":
        """Deltas for the per-minute activity item of `epoch_ms` (with its TTL)."""
        minute = minute_of(epoch_ms)
        counter = minute_counter(minute)
        self._expires_at[counter] = int(minute.timestamp()) + ACTIVITY_RETENTION_S
        return self.add(counter, **deltas)

    def merge(self, other: "Deltas") -> "Deltas":
        for counter, deltas in other._deltas.items():
            self.add(counter, **deltas)
        self._expires_at.update(other._expires_at)
        return self

    def negated(self) -> "Deltas":
        """The deltas that undo these (for rolling back what was counted)."""
        undo = Deltas()
        for counter, deltas in self._deltas.items():
            undo.add(counter, **{attribute: -delta for attribute, delta in deltas.items()})
        undo._expires_at.update(self._expires_at)
        return undo

    def as_dict(self) -> dict[str, dict[str, int]]:
        """Non-zero deltas per counter (what the updates would add)."""
        return {
            counter: {attribute: delta for attribute, delta in deltas.items() if delta}
            for counter, deltas in self._deltas.items()
            if any(deltas.values())
        }

    def updates(self, table: str) -> list[dict[str, Any]]:
        """One TransactWriteItems `Update` per counter item: ADD of every non-zero delta."""
        operations = []
        for counter, deltas in sorted(self.as_dict().items()):
            names = {f"#a{index}": attribute for index, attribute in enumerate(sorted(deltas))}
            values = {f":a{index}": {"N": str(deltas[attribute])} for index, attribute in enumerate(sorted(deltas))}
            expression = "ADD " + ", ".join(f"#a{index} :a{index}" for index in range(len(names)))
            if counter in self._expires_at:
                names["#ttl"] = "ExpiresAt"
                values[":ttl"] = {"N": str(self._expires_at[counter])}
                expression += " SET #ttl = :ttl"
            operations.append(
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"Counter": {"S": counter}},
                        "UpdateExpression": expression,
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": values,
                    }
                }
            )
        return operations


def read_counters(client: Any, table: str, counters: Iterable[str]) -> dict[str, dict[str, int]]:
    """The counter items named (absent ones as {}), attributes as ints: a fixed number of
    reads, ceil(len(counters) / 100) BatchGetItem requests plus retries of unprocessed keys."""
    wanted = list(dict.fromkeys(counters))
    found: dict[str, dict[str, int]] = {counter: {} for counter in wanted}
    for start in range(0, len(wanted), BATCH_GET_MAX_KEYS):
        keys = [{"Counter": {"S": counter}} for counter in wanted[start : start + BATCH_GET_MAX_KEYS]]
        request: Mapping[str, Any] = {table: {"Keys": keys, "ConsistentRead": True}}
        for attempt in range(UNPROCESSED_ATTEMPTS):
            if attempt:
                time.sleep(0.05 * 2**attempt)
            response = client.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(table, []):
                row = from_item(item)
                counter = row.pop("Counter")
                found[counter] = {name: int(value) for name, value in row.items() if name != "ExpiresAt"}
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
        else:
            raise RuntimeError(
                f"{table}: counters still unprocessed after {UNPROCESSED_ATTEMPTS} BatchGetItem attempts"
            )
    return found
