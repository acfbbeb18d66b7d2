"""engine/ctl.py hands the settings a person exports to the engine under the names its
LocalStack reads."""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ctl(tmp_path, monkeypatch):
    """engine/ctl.py as a module whose engine state is under tmp_path."""
    monkeypatch.setenv("LOCALSTACK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.syspath_prepend(str(ROOT / "engine"))
    spec = importlib.util.spec_from_file_location("ctl_under_test", ROOT / "engine" / "ctl.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("ctl_under_test", None)


def test_the_documented_retry_delay_reaches_the_name_localstack_reads(ctl, monkeypatch):
    monkeypatch.setenv("LAMBDA_RETRY_BASE_DELAY_SECONDS", "7")
    env = ctl._engine_environment("127.0.0.1:4566")
    # localstack/config.py: LAMBDA_RETRY_BASE_DELAY_SECONDS = int(os.getenv("LAMBDA_RETRY_BASE_DELAY") or 60)
    assert env["LAMBDA_RETRY_BASE_DELAY"] == "7"


def test_no_retry_delay_is_set_unless_asked(ctl, monkeypatch):
    monkeypatch.delenv("LAMBDA_RETRY_BASE_DELAY_SECONDS", raising=False)
    assert "LAMBDA_RETRY_BASE_DELAY" not in ctl._engine_environment("127.0.0.1:4566")
