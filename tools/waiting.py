"""Waiting for an asynchronous result without fixed sleeps: the one polling loop of the tests
and the tools (where a botocore waiter fits, such as function_active_v2, use it instead)."""

import time


class TimedOut(AssertionError):
    """The result did not come in time. An AssertionError, so that a test waiting for it fails
    (not errors); a tool catches it and reports."""


def wait_for(probe, timeout: float = 30, interval: float = 0.3, what: str = "condition"):
    """Call probe() until it returns something truthy, and return that value; TimedOut once
    ``timeout`` seconds have passed. ``interval``: the pause between calls (0 for a probe that
    waits itself, such as a long poll)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimedOut(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
