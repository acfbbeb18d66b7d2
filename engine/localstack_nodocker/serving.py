"""Steady latency under load: the heap frozen between garbage collections.

Changes CPython's default garbage collection in the engine's process. Every service of the
engine lives in one Python process, under one interpreter lock, so whatever the process does
besides answering shows as latency on every request in flight. All service state is Python
objects (moto's DynamoDB items, S3 metadata, log events). A full collection walks every one
of them: 0.4 s at demo size, growing with the data, a pause for every request in flight
(measured: the p99 of the API at concurrency 10). Every ``FREEZE_INTERVAL`` seconds what
survived since the last freeze is collected, then what is alive is frozen (``gc.freeze``), so
collections walk only what is new and garbage is not frozen with the live heap. Frozen
objects are still freed when unreferenced; a cycle among them is collected by a full
collection, when the engine has been idle for a whole interval and the frozen heap has grown
by ``FULL_COLLECTION_GROWTH`` since the last one. A full collection walks every object (1.3 to
3.4 s of the interpreter lock for the deployed stack on the loaded 2-core machine, more with
the data): run at every idle interval, it met the next burst of requests (a test, a bench
row, the demo's next step) more often than not. The growth bounds what frozen garbage can
hold to that share of the heap. Requests are counted by a response handler (the idle test).
Counting the frozen heap walks it (``gc.get_freeze_count``: about 100 ms of the lock for an empty
engine's million objects): it is counted in the first idle interval after requests, no
longer in every interval, busy or idle. CloudWatch's metrics store is tuned apart
(metrics_store.py).
"""

import gc
import logging
import threading
import time

from localstack.runtime import hooks

LOG = logging.getLogger(__name__)

FREEZE_INTERVAL = 10.0
# A full collection once the frozen heap holds this many times the objects it held after the last one.
FULL_COLLECTION_GROWTH = 1.25


class _Served:
    # Only ever compared for a change: an increment lost between threads does not matter.
    requests = 0


def _count_request(chain, context, response) -> None:
    _Served.requests += 1


def full_collection_due(idle: bool, frozen: int, frozen_after_last_full: int | None) -> bool:
    """Whether an interval ends in a full collection: idle, and the frozen heap grown enough
    since the last full collection (or since the first freeze, the engine as it started)."""
    return idle and frozen_after_last_full is not None and frozen >= frozen_after_last_full * FULL_COLLECTION_GROWTH


def _keep_heap_frozen() -> None:
    last_seen, frozen_after_last_full, counted_after = _Served.requests, None, None
    while True:
        time.sleep(FREEZE_INTERVAL)
        served = _Served.requests
        started = time.perf_counter()
        full = False
        if served == last_seen and counted_after != served:  # idle, and requests since the last count
            counted_after = served
            full = full_collection_due(True, gc.get_freeze_count(), frozen_after_last_full)
        if full:
            gc.unfreeze()
            gc.collect()
            kind = "full collection (idle)"
        else:
            # every generation but the frozen heap: what survived since the last freeze (its
            # cost follows this interval's writes, not the data held). Collecting only the young
            # ones let cycles already in the old generation be frozen as garbage, kept until
            # an idle interval: under steady traffic, about 34 objects per request, sockets'
            # buffers and sqlite connections among them.
            gc.collect()
            kind = "collection since the last freeze"
        gc.freeze()
        if full or frozen_after_last_full is None:
            frozen_after_last_full = gc.get_freeze_count()
        last_seen = served
        seconds = time.perf_counter() - started
        (LOG.info if seconds > 0.1 else LOG.debug)("heap: %s and freeze in %.0f ms", kind, seconds * 1000)


@hooks.on_infra_start()
def freeze_heap_between_collections():
    from localstack.aws.handlers import run_custom_response_handlers

    run_custom_response_handlers.append(_count_request)
    threading.Thread(target=_keep_heap_frozen, name="heap-freezer", daemon=True).start()
