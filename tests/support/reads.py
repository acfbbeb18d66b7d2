"""What a piece of code asks of AWS, counted through botocore's event hooks on the clients
it uses: requests per operation (every attempt, retries included) and items read.

    with counting(client("dynamodb"), client("s3")) as reads:
        handler(...)
    reads.items, reads.requests["BatchGetItem"]

Items read: Query/Scan's ScannedCount, BatchGetItem's returned items, GetItem's item,
ListObjectsV2's KeyCount; a number that grows with the tables shows a read that does too.
"""

import contextlib
import itertools
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

_ids = itertools.count()


@dataclass
class Reads:
    requests: Counter = field(default_factory=Counter)  # operation -> attempts sent
    items_by_operation: Counter = field(default_factory=Counter)

    @property
    def items(self) -> int:
        return sum(self.items_by_operation.values())


def items_in(operation: str, parsed: dict[str, Any]) -> int:
    if operation in ("Query", "Scan"):
        return parsed.get("ScannedCount", 0)
    if operation == "BatchGetItem":
        return sum(len(items) for items in parsed.get("Responses", {}).values())
    if operation == "GetItem":
        return int("Item" in parsed)
    if operation in ("ListObjectsV2", "ListObjects"):
        return parsed.get("KeyCount", len(parsed.get("Contents", [])))
    return 0


@contextlib.contextmanager
def counting(*clients: Any):
    reads = Reads()

    def sent(event_name: str, **_: Any) -> None:
        reads.requests[event_name.rsplit(".", 1)[-1]] += 1

    def answered(model: Any, parsed: dict[str, Any], **_: Any) -> None:
        reads.items_by_operation[model.name] += items_in(model.name, parsed)

    hooks = [("before-send", sent, f"reads-sent-{next(_ids)}"), ("after-call", answered, f"reads-got-{next(_ids)}")]
    for client in clients:
        for event, handler, unique_id in hooks:
            # first: a before-send handler that answers (moto's) stops the ones after it
            client.meta.events.register_first(event, handler, unique_id=unique_id)
    try:
        yield reads
    finally:
        for client in clients:
            for event, handler, unique_id in hooks:
                client.meta.events.unregister(event, handler, unique_id=unique_id)
