"""Steady latency under load: the heap frozen between garbage collections.

Changes CPython's default garbage collection in the engine's process. Every service of the
engine lives in one Python process, under one interpreter lock, so whatever the process does
besides answering shows as latency on every request in flight. All service state is Python
objects (moto's DynamoDB items, S3 metadata, log events). A full collection walks every one
of them: 0.4 s at demo size, growing with the data, a pause for every request in flight
(measured: the p99 of the API at concurrency 10). Every ``FREEZE_INTERVAL`` seconds what
survived since the last freeze is collected, then what is alive is frozen (``gc.freeze``), so
collections walk only what is new and garbage is not frozen with the live heap. Frozen
objects are still freed when unreferenced; a cycle among them is collected when the engine
has been idle for a whole interval, by one full collection then (seconds at 100,000 DynamoDB
items, paid while nobody waits). Requests are counted by a response handler (the idle test).
CloudWatch's metrics store is tuned apart (metrics_store.py).
"""

import gc
import logging
import threading
import time

from localstack.runtime import hooks

LOG = logging.getLogger(__name__)

FREEZE_INTERVAL = 10.0


class _Served:
    # Only ever compared for a change: an increment lost between threads does not matter.
    requests = 0


def _count_request(chain, context, response) -> None:
    _Served.requests += 1


def _keep_heap_frozen() -> None:
    last_seen, full_pending = _Served.requests, False
    while True:
        time.sleep(FREEZE_INTERVAL)
        served = _Served.requests
        started = time.perf_counter()
        if served == last_seen and full_pending:
            gc.unfreeze()
            gc.collect()
            full_pending, kind = False, "full collection (idle)"
        else:
            # every generation but the frozen heap: what survived since the last freeze (its
            # cost follows this interval's writes, not the data held). Collecting only the young
            # ones let cycles already in the old generation be frozen as garbage, kept until
            # an idle interval: under steady traffic, about 34 objects per request, sockets'
            # buffers and sqlite connections among them.
            gc.collect()
            full_pending = full_pending or served != last_seen
            kind = "collection since the last freeze"
        gc.freeze()
        last_seen = served
        seconds = time.perf_counter() - started
        (LOG.info if seconds > 0.1 else LOG.debug)("heap: %s and freeze in %.0f ms", kind, seconds * 1000)


@hooks.on_infra_start()
def freeze_heap_between_collections():
    from localstack.aws.handlers import run_custom_response_handlers

    run_custom_response_handlers.append(_count_request)
    threading.Thread(target=_keep_heap_frozen, name="heap-freezer", daemon=True).start()
