"""DynamoDB item operations answered by moto's handler directly (dynamodb_direct.py): every
answer and error as moto's HTTP dispatch gives it (direct_against_moto.py, in the engine's
interpreter), and as many answers as expected given without moto's dispatch (counted where
dynamodb_direct.py hands an answer over to it), also through the provider."""

import json
import subprocess
from pathlib import Path

from tests.support.engine import ENGINE_PYTHON

DIRECT_AGAINST_MOTO = Path(__file__).with_name("direct_against_moto.py")


def test_direct_answers_and_errors_are_moto_dispatchs():
    result = subprocess.run(
        [str(ENGINE_PYTHON), str(DIRECT_AGAINST_MOTO)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout) == {
        "compared": 60,  # direct_against_moto.requests(), less its two CreateTable
        # answers that skipped moto's dispatch: those neither an error nor holding a <RequestId>
        "direct": 30,
        # the 26 errors and the 3 answers with a <RequestId> (GetItem and the two Scans of "two")
        "finished by moto": 29,
        "call_moto": 1,  # the body moto would also read a query string from
        "errors": 26,
        "through the provider": {
            "PutItem": [200, None, "direct"],
            "GetItem": [200, {"k": {"S": "served"}, "b": {"B": "AA=="}}, "direct"],
        },
    }
