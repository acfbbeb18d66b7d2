"""engine/localstack_nodocker/concurrency.py: the engine's bound on function workers
(LAMBDA_MAX_CONCURRENT_WORKERS) and each function's reserved concurrency, as the pollers of
asynchronous invocations use them. Threads stand in for invocations; the engine tests
(tests/engine/test_async_invocations.py) run real ones."""

import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "engine"))
from localstack_nodocker.concurrency import (  # noqa: E402
    SETTING,
    FunctionConcurrency,
    WorkerSlots,
    max_concurrent_workers,
)


@pytest.mark.parametrize("value, bound", [("1", 1), ("8", 8), (" 64 ", 64), ("1000", 1000)])
def test_the_bound_is_read_from_the_setting(value, bound):
    assert max_concurrent_workers({SETTING: value}) == bound


def test_the_default_bound_grows_with_the_cores(monkeypatch):
    for cores, bound in ((1, 4), (2, 4), (4, 8), (16, 32)):
        monkeypatch.setattr("os.cpu_count", lambda cores=cores: cores)
        assert max_concurrent_workers({}) == bound


@pytest.mark.parametrize(
    "value, reason",
    [("0", "at least 1"), ("-3", "at least 1"), ("ten", "not a whole number"), ("2.5", "not a whole number")],
)
def test_a_bound_that_cannot_be_is_refused_with_the_reason(value, reason):
    with pytest.raises(ValueError, match=reason) as refused:
        max_concurrent_workers({SETTING: value})
    assert SETTING in str(refused.value)


@pytest.mark.parametrize("bound, demand", [(1, 6), (3, 12), (5, 40)])
def test_slots_never_let_more_than_the_bound_run(bound, demand):
    slots, running, peak, lock = WorkerSlots(bound), [0], [0], threading.Lock()

    def invocation():
        assert slots.acquire(timeout=10)
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.01)
        with lock:
            running[0] -= 1
        slots.release()

    threads = [threading.Thread(target=invocation) for _ in range(demand)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak[0] == bound  # all of them used (demand is larger), none beyond
    assert slots.free() == bound


def test_a_full_bound_makes_a_poller_wait_then_frees_it():
    slots = WorkerSlots(2)
    assert slots.acquire(timeout=0) and slots.acquire(timeout=0)
    assert slots.free() == 0
    assert not slots.acquire(timeout=0.05)
    assert slots.wait_free(timeout=0.05) == 0
    threading.Timer(0.05, slots.release).start()
    assert slots.wait_free(timeout=5) == 1
    assert slots.acquire(timeout=0)


def test_releasing_a_slot_never_taken_is_an_error():
    slots = WorkerSlots(3)
    with pytest.raises(RuntimeError, match="not taken"):
        slots.release()


def test_reserved_concurrency_leaves_room_per_function():
    functions = FunctionConcurrency()
    a, b = "arn:aws:lambda:us-east-1:000000000000:function:a", "arn:aws:lambda:us-east-1:000000000000:function:b"
    assert functions.room(a, None, timeout=0) is None  # unreserved: only the engine's bound counts
    assert functions.room(a, 0, timeout=0) is None  # 0: every invocation fails as AWS's do
    functions.started(a)
    functions.started(a)
    assert functions.room(a, 2, timeout=0.01) == 0
    assert functions.room(a, 5, timeout=0) == 3
    assert functions.room(b, 2, timeout=0) == 2  # another function's invocations do not count
    threading.Timer(0.05, functions.ended, args=(a,)).start()
    assert functions.room(a, 2, timeout=5) == 1
