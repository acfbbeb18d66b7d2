"""The deployed stack: built with build.py and applied with tflocal (python-terraform) once
per session, on the session's engine; on make test's second worker, a second stack
(tests/conftest.py: a copy of the configuration in ROXS_STACK_DIR, the checkout's build/)."""

import fcntl
import shutil
import subprocess
import sys
import time

import boto3
import pytest

from tests.support.terraform import copy_configuration
from tools import stack
from tools.http import use_credentials_of
from tools.stack import ROOT, STACK_DIR


def build_packages() -> None:
    """build.py, one worker at a time (the second stack's worker builds the same packages)."""
    (ROOT / ".localstack").mkdir(exist_ok=True)
    with open(ROOT / ".localstack" / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        build = subprocess.run([sys.executable, str(ROOT / "build.py")], capture_output=True, text=True)
    assert build.returncode == 0, build.stdout + build.stderr


@pytest.fixture(scope="session")
def deployed(engine):
    build_packages()
    with pytest.MonkeyPatch.context() as patch:
        # a second stack (tests/conftest.py): the configuration, fresh, and the packages of build/
        if STACK_DIR != ROOT:
            shutil.rmtree(STACK_DIR, ignore_errors=True)
            STACK_DIR.mkdir(parents=True)
            copy_configuration(STACK_DIR)
            patch.setenv("TF_VAR_build_dir", str(ROOT / "build"))
        # The session sends requests as fast as the engine answers: the stage's throttle and
        # the key's quota are raised for every apply of the session (tools/stack.py says why).
        for name, value in stack.load_test_environment().items():
            patch.setenv(name, value)
        started = time.monotonic()
        stack.apply()
        print(f"\n[stack] tflocal apply took {time.monotonic() - started:.1f} s")
        outputs = stack.outputs()
        use_credentials_of(outputs)  # every API call of the session sends what api_auth asks for
        yield outputs


@pytest.fixture(scope="session")
def aws(engine):
    names = ("lambda", "sqs", "sns", "s3", "dynamodb", "logs", "iam", "apigateway")
    return {name: boto3.client(name) for name in names}
