"""The engine's bound on function workers running event-driven invocations at once.

On AWS, Lambda runs an account's asynchronous invocations and event source mapping batches
concurrently up to the account's concurrency (1,000 by default). Here each running
invocation is a process on the host, so the engine has its own bound:
``LAMBDA_MAX_CONCURRENT_WORKERS`` (default: 2 per CPU core, at least 4). Every AWS call a
function makes is served by the engine on the same cores, so more workers than that make each
invocation slower and start more environments (a cold start each, about a second of CPU):
100 image uploads on two cores took 33 s with 10 workers, 22 s with 4. Asynchronous
invocations (async_invocations.py) take a slot of ``WORKER_SLOTS`` for each invocation
they run; a function's reserved concurrency bounds it further. Synchronous invokes (API
Gateway, ``Invoke`` with ``RequestResponse``) take none: a caller waits for them, and
LocalStack's own concurrency limits (``LAMBDA_LIMITS_CONCURRENT_EXECUTIONS``) apply.

Standard library only: the tests import it to know the bound the engine runs with.
"""

import collections
import os
import threading

SETTING = "LAMBDA_MAX_CONCURRENT_WORKERS"


def max_concurrent_workers(environ=os.environ) -> int:
    """The bound from the environment; ValueError with the reason when it is not a whole
    number of at least 1."""
    raw = environ.get(SETTING, "").strip()
    if not raw:
        return max(4, 2 * (os.cpu_count() or 1))
    try:
        bound = int(raw)
    except ValueError:
        raise ValueError(
            f"{SETTING}={raw!r} is not a whole number (the most function workers to run at once)"
        ) from None
    if bound < 1:
        raise ValueError(f"{SETTING}={bound}: at least 1 function worker must be allowed to run")
    return bound


class WorkerSlots:
    """A counting semaphore whose free count can be read and awaited without taking a slot:
    a poller asks its queue for only as many invocations as it can start now."""

    def __init__(self, bound: int):
        self.bound = bound
        self._taken = 0
        self._changed = threading.Condition()

    def free(self) -> int:
        with self._changed:
            return self.bound - self._taken

    def wait_free(self, timeout: float) -> int:
        """The free count, once at least one slot is free or `timeout` seconds have passed."""
        with self._changed:
            self._changed.wait_for(lambda: self._taken < self.bound, timeout)
            return self.bound - self._taken

    def acquire(self, timeout: float) -> bool:
        with self._changed:
            if not self._changed.wait_for(lambda: self._taken < self.bound, timeout):
                return False
            self._taken += 1
            return True

    def release(self) -> None:
        with self._changed:
            if self._taken == 0:
                raise RuntimeError("a worker slot was released that was not taken")
            self._taken -= 1
            self._changed.notify_all()


WORKER_SLOTS = WorkerSlots(max_concurrent_workers())


class FunctionConcurrency:
    """Invocations running per function (all its versions), within its reserved concurrency."""

    def __init__(self):
        self._running: collections.Counter = collections.Counter()
        self._changed = threading.Condition()

    def room(self, function_arn: str, reserved: int | None, timeout: float) -> int | None:
        """How many more may start (None: no reservation), waiting up to `timeout` for one."""
        if not reserved:  # None: unreserved; 0: every invocation fails as AWS's do, unthrottled
            return None
        with self._changed:
            self._changed.wait_for(lambda: self._running[function_arn] < reserved, timeout)
            return reserved - self._running[function_arn]

    def started(self, function_arn: str) -> None:
        with self._changed:
            self._running[function_arn] += 1

    def ended(self, function_arn: str) -> None:
        with self._changed:
            self._running[function_arn] -= 1
            if not self._running[function_arn]:
                del self._running[function_arn]
            self._changed.notify_all()


RUNNING = FunctionConcurrency()
