"""engine/localstack_nodocker/serving.py: the heap frozen between collections, and a full
collection only when the engine is idle and the frozen heap has grown since the last one.
Run in the engine's interpreter, on the freezer's own loop with a short interval."""

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
collections.clear()
served_while(1.0)  # requests, the heap the same size
interval(5)
phases["idle after requests, heap not grown"] = list(collections)
collections.clear()
kept = [[i] for i in range(int(gc.get_freeze_count() * serving.FULL_COLLECTION_GROWTH))]
served_while(1.0)  # requests that grew the heap
interval(5)
phases["idle after the heap grew"] = list(collections)
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
