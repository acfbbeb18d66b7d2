"""Steady latency under load: how the engine's one process serves requests.

Every service of the engine lives in one Python process, under one interpreter lock, so
whatever the process does besides answering shows as latency on every request in flight.

- Garbage collection. All service state is Python objects (moto's DynamoDB items, S3
  metadata, log events). A full collection walks every one of them: 0.4 s at demo size,
  growing with the data, a pause for every request in flight (measured: the p99 of the API
  at concurrency 10). What survives ``FREEZE_INTERVAL`` seconds is frozen (``gc.freeze``),
  so automatic collections walk only what is new. Frozen objects are still freed when
  unreferenced; a cycle among them is collected when the engine has been idle for a whole
  interval, by one full collection then.
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
            full_pending = False
            kind = "full"
        else:
            gc.collect()
            full_pending = full_pending or served != last_seen
            kind = "young"
        gc.freeze()
        last_seen = served
        LOG.debug("%s collection and freeze: %.0f ms", kind, (time.perf_counter() - started) * 1000)


@hooks.on_infra_start()
def serve_steadily():
    from localstack.aws.handlers import run_custom_response_handlers

    run_custom_response_handlers.append(_count_request)
    threading.Thread(target=_keep_heap_frozen, name="heap-freezer", daemon=True).start()
