"""The deployed stack: built with build.py and applied with tflocal (python-terraform) once
per session, on the session's engine."""

import subprocess
import sys
import time

import boto3
import pytest

from tools import stack
from tools.stack import ROOT


# Phases that change the whole engine run last, whatever the file names: the restart, then
# the destroy.
PHASES = ("restart", "destroy")


def pytest_collection_modifyitems(items):
    def phase(item) -> int:
        return next((number + 1 for number, name in enumerate(PHASES) if item.get_closest_marker(name)), 0)

    items.sort(key=phase)  # stable: within a phase, the usual order


@pytest.fixture(scope="session")
def deployed(engine):
    build = subprocess.run([sys.executable, str(ROOT / "build.py")], capture_output=True, text=True)
    assert build.returncode == 0, build.stdout + build.stderr
    started = time.monotonic()
    stack.apply()
    print(f"\n[stack] tflocal apply took {time.monotonic() - started:.1f} s")
    return stack.outputs()


@pytest.fixture(scope="session")
def aws(engine):
    names = ("lambda", "sqs", "sns", "s3", "dynamodb", "logs", "iam", "apigateway")
    return {name: boto3.client(name) for name in names}
