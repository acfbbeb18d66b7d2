"""engine/localstack_nodocker/event_concurrency.py: a delivery's slot is free only while the
engine's bound and each of its limits (a mapping's MaximumConcurrency, a function's reserved
concurrency, read at every try) allow one more; the bound from the environment, refused with
the reason when it is not a whole number of at least 1. Engine tests run it in the engine."""

import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "engine"))
from localstack_nodocker import event_concurrency  # noqa: E402
from localstack_nodocker.event_concurrency import Slots  # noqa: E402


def fixed(limit):
    return lambda: limit


def test_the_engine_bound_holds_across_keys():
    slots = Slots(bound=2)
    taken = [slots.take({("mapping", n): fixed(None)}, timeout=0) for n in range(2)]
    assert all(taken)
    assert slots.take({("mapping", 3): fixed(None)}, timeout=0) is None
    taken[0].give_back()
    assert slots.take({("mapping", 3): fixed(None)}, timeout=0) is not None


@pytest.mark.parametrize("limit", [1, 2, 5])
def test_a_key_gets_no_more_than_its_limit_and_others_are_not_held_back(limit):
    slots = Slots(bound=10)
    mapping = {("mapping", "a"): fixed(limit)}
    held = [slots.take(mapping, timeout=0) for _ in range(limit)]
    assert all(held)
    assert slots.take(mapping, timeout=0) is None
    assert slots.take({("mapping", "b"): fixed(limit)}, timeout=0) is not None
    held.pop().give_back()
    assert slots.take(mapping, timeout=0) is not None


def test_a_slot_counts_under_every_key_it_was_taken_under():
    """Two mappings of one function with reserved concurrency 1: one delivery at a time."""
    slots = Slots(bound=10)
    function = {("function", "000000000000", "us-east-1", "f"): fixed(1)}
    first = slots.take({**function, ("mapping", "a"): fixed(None)}, timeout=0)
    assert first is not None
    assert slots.take({**function, ("mapping", "b"): fixed(None)}, timeout=0) is None
    first.give_back()
    assert slots.take({**function, ("mapping", "b"): fixed(None)}, timeout=0) is not None


def test_a_limit_is_read_at_every_try():
    slots, reserved = Slots(bound=10), {"now": 0}
    function = {("function", "f"): lambda: reserved["now"]}
    assert slots.take(function, timeout=0) is None  # reserved concurrency 0: nothing runs
    reserved["now"] = 1
    assert slots.take(function, timeout=0) is not None


def test_a_waiting_take_gets_the_slot_given_back():
    slots = Slots(bound=1)
    held = slots.take({"a": fixed(None)}, timeout=0)
    got = []
    waiter = threading.Thread(target=lambda: got.append(slots.take({"b": fixed(None)}, timeout=30)))
    waiter.start()
    held.give_back()
    waiter.join(timeout=30)
    assert got and got[0] is not None


def test_concurrent_takers_never_exceed_the_limits():
    slots, lock = Slots(bound=3), threading.Lock()
    running, most = {"a": 0, "all": 0}, {"a": 0, "all": 0}

    def deliver(key, limit, counted):
        for _ in range(30):
            slot = slots.take({key: fixed(limit)}, timeout=30)
            with lock:
                for name in counted:
                    running[name] += 1
                    most[name] = max(most[name], running[name])
            time.sleep(0.001)
            with lock:
                for name in counted:
                    running[name] -= 1
            slot.give_back()

    threads = [threading.Thread(target=deliver, args=("a", 2, ("a", "all"))) for _ in range(4)]
    threads += [threading.Thread(target=deliver, args=("b", None, ("all",))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert most["a"] <= 2 and most["all"] <= 3


@pytest.mark.parametrize(
    "value, bound",
    [(None, event_concurrency.DEFAULT_BOUND), ("", event_concurrency.DEFAULT_BOUND), (" 3 ", 3), ("1", 1)],
)
def test_the_bound_from_the_environment(value, bound):
    environ = {} if value is None else {event_concurrency.VARIABLE: value}
    assert event_concurrency.engine_bound(environ) == bound


@pytest.mark.parametrize("value", ["0", "-1", "eight", "2.5", "1e3"])
def test_a_bound_that_is_not_a_whole_number_of_at_least_one_is_refused_with_the_reason(value):
    with pytest.raises(ValueError, match="NODOCKER_EVENT_CONCURRENCY must be a whole number of at least 1") as refused:
        event_concurrency.engine_bound({event_concurrency.VARIABLE: value})
    assert repr(value) in str(refused.value)


def test_delivery_limits_name_the_function_whatever_the_qualifier():
    """Reserved concurrency is the function's: a version or alias counts under the same key."""
    plain = event_concurrency.delivery_limits("arn:aws:lambda:us-east-1:000000000000:function:f")
    alias = event_concurrency.delivery_limits("arn:aws:lambda:us-east-1:000000000000:function:f:live", "u", 4)
    assert set(plain) < set(alias)
    assert alias[("mapping", "u")]() == 4
