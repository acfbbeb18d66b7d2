import os

import pytest

# The same defaults as .envrc, for pytest runs outside `make`.
os.environ.setdefault("AWS_ENDPOINT_URL", "http://localhost:4566")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")  # LocalStack's documented default, not a secret
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
os.environ.setdefault("S3_HOSTNAME", "localhost")


# Phases that change the whole stack run after every other test, in this order, whatever
# the file names or a random order say: @pytest.mark.phase("restart"), then "destroy".
PHASES = ("restart", "destroy")


def _phase_rank(item: pytest.Item) -> int:
    marker = item.get_closest_marker("phase")
    if marker is None:
        return 0
    if marker.args[0] not in PHASES:
        raise pytest.UsageError(f"{item.nodeid}: unknown phase {marker.args[0]!r}; phases are {PHASES}")
    return 1 + PHASES.index(marker.args[0])


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
