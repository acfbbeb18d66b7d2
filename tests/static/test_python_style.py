"""The Python of the repository follows the rules in pyproject.toml (ruff, pinned)."""

import subprocess
import sys

from tools.stack import ROOT


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_check_finds_nothing():
    result = ruff("check", "--no-cache", ".")
    assert result.returncode == 0, (
        f"run `make fmt` (ruff check --fix), then fix what remains by hand:\n{result.stdout}{result.stderr}"
    )


def test_ruff_format_changes_nothing():
    result = ruff("format", "--check", "--no-cache", ".")
    assert result.returncode == 0, f"run `make fmt`:\n{result.stdout}{result.stderr}"
