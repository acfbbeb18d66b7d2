"""The deployed stack: built with build.py and applied with tflocal (python-terraform) once
per session, on the session's engine."""

import subprocess
import sys
import time

import boto3
import pytest

from tools import stack
from tools.http import use_credentials_of
from tools.stack import ROOT


@pytest.fixture(scope="session")
def deployed(engine):
    build = subprocess.run([sys.executable, str(ROOT / "build.py")], capture_output=True, text=True)
    assert build.returncode == 0, build.stdout + build.stderr
    with pytest.MonkeyPatch.context() as patch:
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
