"""DynamoDB item operations answered by moto's handler directly (dynamodb_direct.py): every
answer and error as moto's HTTP dispatch gives it (direct_against_moto.py, in the engine's
interpreter)."""

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
    compared, direct = map(int, result.stdout.split())
    assert compared == 60  # direct_against_moto.requests(), less its two CreateTable
    assert direct == compared - 1  # all but the body moto would also read a query string from
