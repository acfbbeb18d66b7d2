"""engine/localstack_nodocker/serving.py: the heap frozen between collections, and a full
collection only when the engine is idle and the frozen heap has grown since the last one;
the frozen heap (a walk of all of it) counted only in the first idle interval after
requests, and to take the new baseline. Run in the engine's interpreter, on the freezer's
own loop with a short interval."""

import json
import subprocess

from tests.support.engine import ENGINE_PYTHON

FREEZER = """
import gc, json, logging, threading, time
from localstack_nodocker import serving

serving.FREEZE_INTERVAL = 0.2
collections = []
handler = logging.Handler()
handler.emit = lambda record: collections.append(record.args[0])
serving.LOG.addHandler(handler)
serving.LOG.setLevel(logging.DEBUG)
counts = []


class CountingGc:
    def __getattr__(self, name):
        return getattr(gc, name)

    def get_freeze_count(self):
        counts.append(1)
        return gc.get_freeze_count()


serving.gc = CountingGc()
threading.Thread(target=serving._keep_heap_frozen, daemon=True).start()

def interval(n=1):
    time.sleep(n * serving.FREEZE_INTERVAL + 0.05)

def served_while(seconds):
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        serving._Served.requests += 1
        time.sleep(0.01)

phases = {}
interval(5)  # the engine as it started, then idle: frozen, never walked whole
phases["idle after start"] = list(collections)
phases["idle after start: counted"] = len(counts)
collections.clear()
counts.clear()
served_while(1.0)  # requests, the heap the same size
interval(5)
phases["idle after requests, heap not grown"] = list(collections)
phases["idle after requests, heap not grown: counted"] = len(counts)
collections.clear()
counts.clear()
kept = [[i] for i in range(int(gc.get_freeze_count() * serving.FULL_COLLECTION_GROWTH))]
served_while(1.0)  # requests that grew the heap
interval(5)
phases["idle after the heap grew"] = list(collections)
phases["idle after the heap grew: counted"] = len(counts)
print(json.dumps(phases))
"""


def test_a_full_collection_runs_only_when_idle_after_the_frozen_heap_grew():
    result = subprocess.run([str(ENGINE_PYTHON), "-c", FREEZER], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    phases = json.loads(result.stdout.splitlines()[-1])
    full = "full collection (idle)"
    assert phases["idle after start"] and full not in phases["idle after start"], phases
    assert full not in phases["idle after requests, heap not grown"], phases
    grown = phases["idle after the heap grew"]
    assert grown.count(full) == 1, phases  # once: the heap it froze is the new baseline
    # counted: at the first interval and for the first baseline; once in the first idle interval
    # after requests (none while serving, none in the idle intervals after it); after a full
    # collection, for the new baseline
    counted = [phases[f"{phase}: counted"] for phase in ("idle after start", "idle after requests, heap not grown")]
    assert counted + [phases["idle after the heap grew: counted"]] == [2, 1, 2], phases
