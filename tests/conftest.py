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
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if WORKER not in ("", "gw0"):
    _number = int(WORKER.removeprefix("gw"))
    _port = (urllib.parse.urlsplit(os.environ["AWS_ENDPOINT_URL"]).port or 4566) + 100 * _number
    os.environ["AWS_ENDPOINT_URL"] = f"http://localhost:{_port}"
    os.environ["LOCALSTACK_STATE_DIR"] = str(
        Path(__file__).resolve().parents[1] / ".localstack" / "test-workers" / WORKER
    )
    os.environ["ROXS_FRESH_ENGINE"] = "1"


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


# The tests of the deployed stack share one stack and its phases: one worker runs them all, in
# this session's order. The other tests go to the workers module by module (their fixtures
# are per module); xdist hands out the largest group first. (A scheduler, not xdist_group
# markers: xdist 3.8 cannot rename pytest 9's node ids, so its loadgroup ignores them.)
STACK_GROUP = "deployed-stack"


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class StackTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.partition("::")[0]
            return STACK_GROUP if module.startswith("tests/integration/") else module

    return StackTogether(config, log)


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
