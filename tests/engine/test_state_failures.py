"""A service whose state cannot be written is an error the user sees, and does not hold the
others back. Run in the engine's interpreter on its persistence module (journal, snapshot and
state document as the engine has them), with one service whose store holds what no pickler
can save, beside one that saves: every service the engine offers saves today
(test_service_state.py), so the failure is made here, the way the Step Functions store held
a boto client before."""

import json
import os
import subprocess
import textwrap
from pathlib import Path

from tests.support.engine import ROOT

ENGINE_PYTHON = Path(os.environ.get("LOCALSTACK_INSTALL_DIR", ROOT / ".localstack")) / "venv" / "bin" / "python"

SCRIPT = textwrap.dedent(
    """
    import json, os, socket, sys
    from pathlib import Path

    state = Path(sys.argv[1])
    os.environ["NODOCKER_SNAPSHOT_DIR"] = str(state / "snapshot")
    from localstack.services.stores import AccountRegionBundle, BaseStore, LocalAttribute
    from localstack_nodocker import journal, persistence

    class Store(BaseStore):
        things = LocalAttribute(default=dict)

    class Lifecycle:
        def on_before_state_save(self): pass
        def on_after_state_save(self): pass

    class Service:
        def __init__(self, name):
            self.stores = AccountRegionBundle(name, Store, validate=False)
            self.lifecycle_hook = Lifecycle()
        def accept_state_visitor(self, visitor):
            visitor.visit(self.stores)

    services = {"kept": Service("kept"), "broken": Service("broken")}

    class Plugins:
        def get_service(self, name): return services[name]

    persistence.SERVICE_PLUGINS = Plugins()
    persistence._running_services = lambda: sorted(services)
    engine = persistence.PERSISTENCE
    engine.enabled = True
    engine.journal = journal.Journal(state / "journal", 1)

    def store(name):
        return services[name].stores["000000000000"]["us-east-1"].things

    def written():
        return {"journal": engine.write_changes(), "document": engine.document()}

    report = {}
    store("kept")["a"], store("broken")["b"] = "value", socket.socket()
    for name in services:
        engine.state_of(name).changed = True
    report["write"] = written()
    engine.state_of("broken").changed = True
    report["snapshot"] = engine.snapshot()
    report["stamp"] = json.loads((state / "snapshot" / "engine.json").read_text())
    store("broken")["b"].close()
    store("broken")["b"] = "fixed"
    engine.state_of("broken").changed = True
    report["fixed"] = written()
    print(json.dumps(report, default=str))
    """
)


def test_a_service_that_cannot_be_saved_is_named_until_it_saves_and_the_others_are_saved(tmp_path):
    ran = subprocess.run([str(ENGINE_PYTHON), "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr[-3000:]
    report = json.loads(ran.stdout.strip().splitlines()[-1])

    write = report["write"]
    assert set(write["journal"]["failed"]) == {"broken"} and "socket" in write["journal"]["failed"]["broken"]
    assert write["journal"]["records"] == 1 and write["journal"]["bytes"] > 0  # kept's state
    assert "socket" in write["document"]["not_persisted"]["broken"]
    assert "kept" not in write["document"]["not_persisted"]

    snapshot = report["snapshot"]
    assert set(snapshot["failed"]) == {"broken"}
    assert "kept" in snapshot["services"] and "broken" not in snapshot["services"]
    assert report["stamp"]["services"] == snapshot["services"]

    fixed = report["fixed"]
    assert fixed["journal"]["failed"] == {} and fixed["journal"]["records"] == 1
    assert "broken" not in fixed["document"]["not_persisted"]


# A journal write that fails (a disk full): the changes it took are pending again, and what
# each service counts as written (its marks) is what it was, so the next write has them all.
FAILED_APPEND = textwrap.dedent(
    """
    import json, pickle, sys
    from pathlib import Path

    state = Path(sys.argv[1])
    from localstack_nodocker import journal, persistence, service_state

    class Counted(service_state.ServiceState):
        marks = ("written",)

        def __init__(self, name):
            super().__init__(name)
            self.written = 0

        def records(self, service, taken):
            if not taken:
                return []
            self.written += 1  # what a keyed service moves on: written up to here
            return [(self.name, "state", None, {"write": self.written})]

    class Plugins:
        def get_service(self, name): return None

    persistence.SERVICE_PLUGINS = Plugins()
    persistence._running_services = lambda: ["counted"]
    engine = persistence.PERSISTENCE
    engine.enabled = True
    engine.journal = journal.Journal(state / "journal", 1)
    counted = engine.states["counted"] = Counted("counted")
    append = engine.journal.append

    def full(payload):
        raise OSError(28, "No space left on device")

    report = {}
    counted.changed = True
    engine.journal.append = full
    try:
        engine.write_changes()
    except OSError as error:
        report["failed"] = str(error)
    report["after_failure"] = {"changed": counted.changed, "written": counted.written}
    engine.journal.append = append
    report["write"] = engine.write_changes()
    engine.journal.close()
    frames = [payload for payloads, _ in journal.frames_from(state / "journal", 1) for payload in payloads]
    report["journal"] = [pickle.loads(chunk) for frame in frames for chunk in pickle.loads(frame)]
    print(json.dumps(report, default=str))
    """
)


def test_a_journal_write_that_fails_leaves_every_change_pending(tmp_path):
    ran = subprocess.run(
        [str(ENGINE_PYTHON), "-c", FAILED_APPEND, str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    report = json.loads(ran.stdout.strip().splitlines()[-1])
    assert "No space left" in report["failed"]
    assert report["after_failure"] == {"changed": True, "written": 0}
    assert report["write"]["records"] == 1
    assert report["journal"] == [[["counted", "state", None, {"write": 1}]]]
