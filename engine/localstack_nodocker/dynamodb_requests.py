"""DynamoDB requests one at a time.

Changes moto's ``DynamoHandler.call_action``: moto takes no lock around its data, and
LocalStack calls it from concurrent request threads, so a conditional put could interleave
with another write to its item, and a transaction with any write. DynamoDB makes each request
atomic; one lock over every request does too (the GIL serialises moto's pure-Python work
anyway, so little parallelism is lost). The lock is also what a snapshot forks under
(persistence.py) and what a journal write reads under (service_state.py). A seam.py target
(ATOMIC_REQUESTS). The item operations moto's handler answers directly (dynamodb_direct.py)
run under ``handled`` too.
"""

import threading
from collections.abc import Callable

from localstack_nodocker import seam

REQUEST_LOCK = threading.RLock()
_after: Callable[[str], None]  # set by serialise_requests, before the provider serves


def handled(handler, respond: Callable, *arguments):
    """``respond(*arguments)``, moto's ``handler`` answering its request: under REQUEST_LOCK,
    then ``after`` still under it."""
    with REQUEST_LOCK:
        try:
            return respond(*arguments)
        finally:
            _after(handler.get_endpoint_name(handler.headers))


def serialise_requests(after: Callable[[str], None]) -> None:
    """Every request under REQUEST_LOCK; ``after(operation)`` runs once it is answered, still
    under the lock (the index caches drop what the operation's writes do not keep up)."""
    global _after
    _after = after
    call_action = seam.original(seam.CALL_ACTION)

    def locked_call_action(self):
        return handled(self, call_action, self)

    seam.replace(seam.CALL_ACTION, locked_call_action)
