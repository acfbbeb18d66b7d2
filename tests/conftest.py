import os
import urllib.parse
from pathlib import Path

import pytest

# The same defaults as .envrc, for pytest runs outside `make`.
os.environ.setdefault("AWS_ENDPOINT_URL", "http://localhost:4566")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")  # LocalStack's documented default, not a secret
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
os.environ.setdefault("S3_HOSTNAME", "localhost")

# `make test` runs the suite on several workers (pytest-xdist, TEST_WORKERS): the first uses
# the session's engine, each other one its own engine, on a port 100 further per worker
# (its tests' second engines take +33 and +34) and with its own state folder, which starts
# empty. Set here, before any test module reads the endpoint.
ROOT = Path(__file__).resolve().parents[1]
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if WORKER not in ("", "gw0"):
    _number = int(WORKER.removeprefix("gw"))
    _port = (urllib.parse.urlsplit(os.environ["AWS_ENDPOINT_URL"]).port or 4566) + 100 * _number
    os.environ["AWS_ENDPOINT_URL"] = f"http://localhost:{_port}"
    os.environ["LOCALSTACK_STATE_DIR"] = str(ROOT / ".localstack" / "test-workers" / WORKER)
    os.environ["ROXS_FRESH_ENGINE"] = "1"

# The tests of the deployed stack share one stack and its phases: one worker runs them, in
# this session's order. Those that apply the stack again and again (each api_auth mode) run
# on a second stack, a copy of the configuration with its own Terraform state, on the second
# worker's engine, so that the two overlap. The other tests go to the workers module by module
# (their fixtures are per module).
STACK_GROUP = "deployed-stack"
SECOND_STACK_GROUP = "second-stack"
SECOND_STACK_MODULES = ("tests/integration/test_api_auth.py",)
GROUP_WORKERS = {STACK_GROUP: "gw0", SECOND_STACK_GROUP: "gw1"}
if WORKER == GROUP_WORKERS[SECOND_STACK_GROUP]:
    os.environ["ROXS_STACK_DIR"] = str(ROOT / ".localstack" / "test-workers" / WORKER / "stack")


# Phases run after every other test, in this order, whatever the file names or a random
# order say: @pytest.mark.phase("audit") (checks of what the scenarios left behind), then
# the ones that change the whole stack, "restart" and "destroy".
PHASES = ("audit", "restart", "destroy")


def _phase_rank(item: pytest.Item) -> int:
    marker = item.get_closest_marker("phase")
    if marker is None:
        return 0
    if marker.args[0] not in PHASES:
        raise pytest.UsageError(f"{item.nodeid}: unknown phase {marker.args[0]!r}; phases are {PHASES}")
    return 1 + PHASES.index(marker.args[0])


def _group(nodeid: str, workers: int) -> str:
    module = nodeid.partition("::")[0]
    if not module.startswith("tests/integration/"):
        return module
    return SECOND_STACK_GROUP if module in SECOND_STACK_MODULES and workers > 1 else STACK_GROUP


def pytest_xdist_make_scheduler(config, log):
    """xdist's scope scheduling with our groups, each stack group on its own worker. (Not
    xdist_group markers: xdist 3.8 cannot rename pytest 9's node ids, so loadgroup ignores them.)"""
    from xdist.scheduler import LoadScopeScheduling

    class StacksOnTheirWorkers(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _group(nodeid, self.numnodes)

        def _assign_work_unit(self, node) -> None:
            workers = {other.gateway.id for other in self.nodes}
            mine = next((g for g, w in GROUP_WORKERS.items() if w == node.gateway.id and g in self.workqueue), None)
            free = (
                g
                for g in self.workqueue
                if GROUP_WORKERS.get(g) in (None, node.gateway.id) or GROUP_WORKERS[g] not in workers
            )
            scope = mine or next(free, None)
            if scope is None:
                return  # what is left waits for its own worker
            work_unit = self.workqueue.pop(scope)
            self.assigned_work.setdefault(node, {})[scope] = work_unit
            collection = self.registered_collections[node]
            node.send_runtest_some([collection.index(nodeid) for nodeid, done in work_unit.items() if not done])

    return StacksOnTheirWorkers(config, log)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # trylast: after --random-order has shuffled; sorted() is stable, so that order stays
    # within each phase.
    items[:] = sorted(items, key=_phase_rank)


@pytest.fixture(scope="session")
def engine():
    """A healthy LocalStack for the whole session (started and stopped here if needed)."""
    from tests.support.engine import running_engine

    with running_engine() as url:
        yield url
