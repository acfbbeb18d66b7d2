import os

import pytest

# The same defaults as .envrc, for pytest runs outside `make`.
os.environ.setdefault("AWS_ENDPOINT_URL", "http://localhost:4566")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")  # LocalStack's documented default, not a secret
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
os.environ.setdefault("S3_HOSTNAME", "localhost")


@pytest.fixture(scope="session")
def engine():
    """A healthy LocalStack for the whole session (started and stopped here if needed)."""
    from tests.support.engine import running_engine

    with running_engine() as url:
        yield url
