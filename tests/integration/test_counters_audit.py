"""After every scenario of the session (phase "audit"): the counters the writers kept in
their transactions equal a recount of the rows and objects (`make recount` finds no drift)."""

import time

import pytest

from tools import recount

# Writers still at work (an upload's storage count, a queued notification) settle within this.
SETTLE_S = 60


@pytest.mark.phase("audit")
def test_after_the_scenarios_recount_finds_no_drift(deployed):
    deadline = time.monotonic() + SETTLE_S
    while (drifts := recount.recount(deployed, write=False)) and time.monotonic() < deadline:
        time.sleep(2)
    assert drifts == [], "\n".join(f"{d.counter} {d.attribute}: stored {d.stored}, true {d.true}" for d in drifts)
