"""CloudWatch clients for tests that talk to the engine: the handlers' own (roxs_common.aws),
which pins the query protocol that LocalStack 4.8 parses."""

import sys

from botocore.config import Config

from tests.support.engine import ROOT

_COMMON = str(ROOT / "lambda_src" / "common")
if _COMMON not in sys.path:
    sys.path.insert(0, _COMMON)

from roxs_common.aws import new_client  # noqa: E402


def cloudwatch_client(config: Config | None = None):
    return new_client("cloudwatch", config) if config else new_client("cloudwatch")
