"""How many function invocations the engine's event deliveries run at once.

On AWS an SQS event source mapping scales with its backlog, up to 1,250 concurrent
invocations or the mapping's ``ScalingConfig.MaximumConcurrency`` (2 to 1,000); a
function's reserved concurrency caps all of its invocations. Here every invocation runs in a
worker process on this host, so the engine has a bound of its own across all mappings:
``NODOCKER_EVENT_CONCURRENCY`` invocations at once (default 8, any whole number from 1).

A delivery takes a slot before it takes records from its source (an SQS receive, a stream
read) and gives it back when its invocations are done, so nothing waits in flight for a
slot while its visibility timeout runs. A slot is free while the engine's count, the
mapping's and the function's are all below their limits; the function's reserved
concurrency is read at every try, so a change applies at once.

Each mapping's poller learns its mapping (function, UUID, ScalingConfig) and its worker's
stop from the mapping factory, which LocalStack gives only the poller's source settings:
``configure(mapping, stopping)`` on every poller of the engine's that has it, also after
UpdateEventSourceMapping (it rebuilds the worker). A poller that waited for a slot while
its mapping was disabled or deleted takes nothing more.

Standard library only at import: the unit tests load it without LocalStack.
"""

import os
import threading
from collections import Counter
from collections.abc import Callable, Hashable, Mapping

from localstack_nodocker import seam

VARIABLE = "NODOCKER_EVENT_CONCURRENCY"
DEFAULT_BOUND = 8

# A limit is read when a slot is tried for: None is no limit.
Limit = Callable[[], int | None]


def engine_bound(environ: Mapping[str, str] = os.environ) -> int:
    """The engine's bound from the environment; ValueError with the reason if it is not one."""
    raw = environ.get(VARIABLE, "").strip()
    if not raw:
        return DEFAULT_BOUND
    try:
        bound = int(raw)
    except ValueError:
        bound = 0
    if bound < 1:
        raise ValueError(
            f"{VARIABLE} must be a whole number of at least 1 (how many function invocations the engine's "
            f"event deliveries run at once; default {DEFAULT_BOUND}), not {raw!r}"
        )
    return bound


class Slot:
    def __init__(self, slots: "Slots", keys: tuple):
        self._slots, self._keys = slots, keys

    def give_back(self) -> None:
        self._slots._give_back(self._keys)


class Slots:
    def __init__(self, bound: int = DEFAULT_BOUND):
        self.bound = bound
        self._changed = threading.Condition()
        self._taken = 0
        self._held: Counter = Counter()  # key -> slots held under it

    def take(self, limits: Mapping[Hashable, Limit], timeout: float) -> Slot | None:
        """A slot counted under each key of `limits` (a mapping, a function), once the engine and
        every key are below their limits; None if none is free within `timeout` seconds."""

        def free() -> bool:
            if self._taken >= self.bound:
                return False
            for key, limit_of in limits.items():
                limit = limit_of()
                if limit is not None and self._held[key] >= limit:
                    return False
            return True

        with self._changed:
            if not self._changed.wait_for(free, timeout):
                return None
            self._taken += 1
            self._held.update(limits.keys())
        return Slot(self, tuple(limits))

    def _give_back(self, keys: tuple) -> None:
        with self._changed:
            self._taken -= 1
            self._held.subtract(keys)
            for key in keys:
                if self._held[key] <= 0:
                    del self._held[key]
            # waiters have different limits: each checks its own
            self._changed.notify_all()


SLOTS = Slots()


def _reserved_concurrency(account: str, region: str, name: str) -> int | None:
    # LocalStack's Lambda store (a seam.py target); imported here, in the engine's interpreter only
    from localstack.services.lambda_.invocation.models import lambda_stores

    function = lambda_stores[account][region].functions.get(name)
    return None if function is None else function.reserved_concurrent_executions


def delivery_limits(function_arn: str, mapping: str | None = None, maximum: int | None = None) -> dict:
    """The limits a delivery of a mapping to `function_arn` takes its slot under: the function's
    reserved concurrency and, for `mapping` (its UUID), its `maximum` (None: none)."""
    # arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]: reserved concurrency is
    # the function's, whatever version or alias a mapping names
    _, _, _, region, account, _, name, *_ = function_arn.split(":")
    limits: dict[Hashable, Limit] = {
        ("function", account, region, name): lambda: _reserved_concurrency(account, region, name)
    }
    if mapping is not None:
        limits[("mapping", mapping)] = lambda: maximum
    return limits


def hand_pollers_their_mappings() -> None:
    """Wrap the mapping factory (a seam.py target): the engine's pollers get their mapping."""
    get_esm_worker = seam.original(seam.GET_ESM_WORKER)

    def get_esm_worker_configured(self):
        worker = get_esm_worker(self)
        configure = getattr(worker.poller, "configure", None)  # the engine's pollers, not Kinesis's
        if configure is not None:
            configure(self.esm_config, worker._shutdown_event)
        return worker

    seam.replace(seam.GET_ESM_WORKER, get_esm_worker_configured)
