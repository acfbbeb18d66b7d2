"""Count what a piece of code reads from AWS: requests per operation and DynamoDB items returned.

    with ReadCounter(clients) as reads:      # botocore clients (e.g. roxs_common.aws.client(...))
        handler(event, context)
    reads.requests    # {"dynamodb.BatchGetItem": 1, "s3.GetObject": 6, ...}
    reads.items       # {"dynamodb.BatchGetItem": 67, "dynamodb.Query": 15, ...}

The counts come from botocore's own event hooks (after-call), so every request the clients
send is seen, retries and paginated pages included.
"""

from collections import Counter
from typing import Any, Self


def _items(parsed: dict[str, Any]) -> int:
    if "Items" in parsed:  # Query, Scan
        return len(parsed["Items"])
    if "Responses" in parsed:  # BatchGetItem
        return sum(len(rows) for rows in parsed["Responses"].values())
    if "Item" in parsed:  # GetItem
        return 1
    return 0


class ReadCounter:
    def __init__(self, clients):
        self.clients = list(clients)
        self.requests: Counter = Counter()
        self.items: Counter = Counter()

    def _after_call(self, model, parsed, **kwargs):
        name = f"{model.service_model.service_name}.{model.name}"
        self.requests[name] += 1
        if model.service_model.service_name == "dynamodb":
            self.items[name] += _items(parsed)

    def __enter__(self) -> Self:
        for client in self.clients:
            client.meta.events.register("after-call.*.*", self._after_call, unique_id=f"read-counter-{id(self)}")
        return self

    def __exit__(self, *exc_info) -> None:
        for client in self.clients:
            client.meta.events.unregister("after-call.*.*", unique_id=f"read-counter-{id(self)}")

    def profile(self) -> dict[str, Any]:
        return {"requests": dict(self.requests), "items": dict(self.items)}
